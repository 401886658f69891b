import pytest
from rest_framework.test import APIClient

from integrations.factories import ApiKeyFactory


@pytest.fixture
def probe_key(db):
    return ApiKeyFactory(scopes=["probe:write"])


@pytest.fixture
def key_client(probe_key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {probe_key.plain_key}")
    return client
