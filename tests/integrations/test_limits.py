import json

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from buyers.models import Buyer
from integrations.factories import ApiKeyFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.integrations.urls")]


@pytest.fixture(autouse=True)
def _clear_throttle_cache():
    cache.clear()
    yield
    cache.clear()


def test_oversize_body_gets_413_before_it_is_parsed(key_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps({"external_id": "B-1", "name": "x" * 2000})

    response = key_client.post("/probe/", body, content_type="application/json")

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert "limit is 1000 bytes" in response.json()["detail"]
    assert Buyer.objects.count() == 0


def test_oversize_body_gets_413_even_without_credentials(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10
    response = client.post("/probe/", json.dumps({"name": "x" * 100}), content_type="application/json")

    assert response.status_code == 413


def test_body_under_the_limit_is_accepted(key_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000

    assert key_client.post("/probe/", {"external_id": "B-1", "name": "Ada"}, format="json").status_code == 201


def _rate(settings, rate: str) -> None:
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api_key": rate, "user": rate}}


def test_requests_above_the_per_key_rate_get_429(key_client, settings):
    _rate(settings, "3/min")

    codes = [key_client.get("/probe/").status_code for _ in range(4)]

    assert codes == [200, 200, 200, 429]


def test_throttling_is_per_key(key_client, settings):
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Api-Key {ApiKeyFactory(scopes=['probe:write']).plain_key}")
    _rate(settings, "2/min")

    first = [key_client.get("/probe/").status_code for _ in range(3)]
    second = other.get("/probe/").status_code

    assert first == [200, 200, 429]
    assert second == 200


def test_malformed_json_gets_400_naming_the_body(key_client):
    response = key_client.post("/probe/", '{"external_id": "B-1",', content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "malformed_body"
    assert "body" in response.json()["errors"]


def test_wrong_type_gets_400_naming_the_field(key_client):
    response = key_client.post("/probe/", {"external_id": "B-1", "name": "Ada", "age": "old"}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {"age": ["A valid integer is required."]}
    assert Buyer.objects.count() == 0


def test_nul_character_in_the_body_gets_400_not_a_database_error(key_client):
    response = key_client.post("/probe/", '{"external_id": "B-1", "name": "A\\u0000da"}', content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "malformed_body"
    assert Buyer.objects.count() == 0


def test_lone_surrogate_in_the_body_gets_400(key_client):
    response = key_client.post("/probe/", '{"external_id": "B-1", "name": "\\ud800"}', content_type="application/json")

    assert response.status_code == 400
    assert "lone surrogate" in response.json()["errors"]["body"][0]
