import io

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from integrations.factories import ApiKeyFactory
from integrations.models import ApiKey

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command("api_key", *args, stdout=out)
    return out.getvalue()


def test_create_prints_a_working_key_once_and_stores_only_its_hash():
    output = run("create", "--name", "storefront", "--scope", "storefront:write", "--scope", "feedback:write")

    plain = output.strip().splitlines()[-1]
    stored = ApiKey.objects.get(name="storefront")
    assert stored.scopes == ["feedback:write", "storefront:write"]
    assert plain.split(".")[1] not in stored.hashed_key
    assert APIClient().get("/api/v1/integrations/key/", HTTP_AUTHORIZATION=f"Api-Key {plain}").status_code == 200


def test_list_shows_names_prefixes_and_scopes_but_never_a_key():
    key = ApiKeyFactory(name="zigpoll-sync", scopes=["feedback:write"])

    output = run("list")

    assert key.prefix in output and "zigpoll-sync" in output and "feedback:write" in output
    assert key.plain_key not in output


def test_revoke_makes_the_key_answer_401():
    key = ApiKeyFactory(scopes=["storefront:write"])

    run("revoke", key.prefix)

    assert APIClient().get("/api/v1/integrations/key/", HTTP_AUTHORIZATION=f"Api-Key {key.plain_key}").status_code == 401


def test_create_with_a_malformed_scope_fails_naming_it_and_stores_nothing():
    with pytest.raises(CommandError, match="storefront write"):
        run("create", "--name", "x", "--scope", "storefront write")

    assert not ApiKey.objects.exists()


def test_revoking_an_unknown_prefix_fails():
    with pytest.raises(CommandError, match="No API key"):
        run("revoke", "nope")
