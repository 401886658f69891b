import pytest
from rest_framework.test import APIClient

from integrations.factories import ApiKeyFactory
from integrations.reactions import reactions_dispatch

BASE = "/api/v1/marketplace"


@pytest.fixture
def storefront_key(db):
    return ApiKeyFactory(name="storefront", scopes=["storefront:write"])


@pytest.fixture
def api(storefront_key):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {storefront_key.plain_key}")
    return client


@pytest.fixture
def dispatched(monkeypatch):
    """Records the reactions dispatched after commit instead of running the other apps' tasks."""
    sent: list[tuple[str, int]] = []

    def record(*, pairs):
        sent.extend(pairs)
        return len(pairs)

    monkeypatch.setattr("integrations.reactions.reactions_dispatch", record)
    return sent


@pytest.fixture
def real_dispatch():
    return reactions_dispatch
