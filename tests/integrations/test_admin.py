import pytest
from django.contrib.messages import get_messages

from core.factories import UserFactory
from integrations.models import ApiKey

pytestmark = pytest.mark.django_db


def test_admin_creates_a_key_shows_it_once_and_stores_only_its_hash(client):
    client.force_login(UserFactory(is_superuser=True))

    response = client.post(
        "/admin/integrations/apikey/add/",
        {"name": "storefront", "scopes": '["storefront:write"]', "expiry_date_0": "", "expiry_date_1": ""},
    )

    assert response.status_code == 302
    api_key = ApiKey.objects.get(name="storefront")
    shown = [str(m) for m in get_messages(response.wsgi_request) if "store it somewhere safe" in str(m)]
    assert len(shown) == 1
    plain = shown[0].split("is: ")[1].split(". ")[0]
    assert ApiKey.objects.get_from_key(plain) == api_key
    assert plain not in api_key.hashed_key
    assert api_key.scopes == ["storefront:write"]


def test_admin_revoke_action_blocks_the_key(client):
    from integrations.factories import ApiKeyFactory

    key = ApiKeyFactory()
    client.force_login(UserFactory(is_superuser=True))

    client.post("/admin/integrations/apikey/", {"action": "revoke_keys", "_selected_action": [key.pk]})

    key.refresh_from_db()
    assert key.revoked is True
