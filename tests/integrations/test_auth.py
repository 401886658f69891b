import pytest
from rest_framework.test import APIClient

from buyers.models import Buyer
from integrations.factories import ApiKeyFactory
from integrations.models import ApiKey
from integrations.services import api_key_create, api_key_revoke

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.integrations.urls")]

BODY = {"external_id": "B-1", "name": "Ada"}


def test_missing_key_gets_401_and_stores_nothing():
    response = APIClient().post("/probe/", BODY, format="json")

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Api-Key"
    assert response.json()["code"] == "not_authenticated"
    assert Buyer.objects.count() == 0


def test_wrong_key_gets_401_and_stores_nothing(probe_key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {probe_key.prefix}.not-the-secret")

    response = client.post("/probe/", BODY, format="json")

    assert response.status_code == 401
    assert response.json()["detail"] == "Invalid API key."
    assert Buyer.objects.count() == 0


def test_revoked_key_gets_401(probe_key):
    api_key_revoke(api_key=probe_key)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {probe_key.plain_key}")

    assert client.post("/probe/", BODY, format="json").status_code == 401


def test_key_without_the_scope_gets_403_naming_the_scope_and_stores_nothing():
    key = ApiKeyFactory(scopes=["feedback:write"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key.plain_key}")

    response = client.post("/probe/", BODY, format="json")

    assert response.status_code == 403
    assert "probe:write" in response.json()["detail"]
    assert Buyer.objects.count() == 0


def test_key_with_the_scope_is_accepted_through_either_header(probe_key):
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=probe_key.plain_key)

    response = client.post("/probe/", BODY, format="json")

    assert response.status_code == 201
    assert Buyer.objects.filter(external_id="B-1").count() == 1


def test_wildcard_scope_allows_everything():
    key = ApiKeyFactory(scopes=["*"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key.plain_key}")

    assert client.post("/probe/", BODY, format="json").status_code == 201


def test_keys_are_stored_hashed_and_the_plain_key_is_returned_once(db):
    api_key, plain = api_key_create(name="storefront", scopes=["storefront:write", "storefront:write"])

    stored = ApiKey.objects.get(pk=api_key.pk)
    assert plain.split(".")[1] not in stored.hashed_key
    assert stored.hashed_key.startswith("sha512$$")
    assert stored.scopes == ["storefront:write"]
    assert ApiKey.objects.get_from_key(plain) == stored


def test_staff_session_may_read_but_not_write(admin_user):
    client = APIClient()
    client.force_login(admin_user)

    assert client.get("/probe/").status_code == 200
    assert client.post("/probe/", BODY, format="json").status_code == 403
    assert Buyer.objects.count() == 0


def test_key_introspection_lists_the_scopes(key_client, probe_key):
    response = key_client.get("/api/v1/integrations/key/")

    assert response.status_code == 200
    assert response.json() == {"name": probe_key.name, "prefix": probe_key.prefix, "scopes": ["probe:write"]}
