import threading
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone
from rest_framework.test import APIClient

from buyers.models import Buyer
from integrations.factories import ApiKeyFactory
from integrations.models import IdempotencyRecord
from integrations.services import idempotency_records_purge
from integrations.tasks import purge_idempotency_records_task

pytestmark = pytest.mark.urls("tests.integrations.urls")

BODY = {"external_id": "B-1", "name": "Ada"}


@pytest.mark.django_db
def test_replay_with_the_same_key_returns_the_original_status_and_body(key_client):
    first = key_client.post("/probe/", BODY, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    Buyer.objects.filter(external_id="B-1").update(name="Changed since")
    replay = key_client.post("/probe/", BODY, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert first.status_code == replay.status_code == 201
    assert replay.json() == first.json()
    assert replay["Idempotent-Replayed"] == "true"
    assert Buyer.objects.count() == 1
    assert IdempotencyRecord.objects.count() == 1


@pytest.mark.django_db
def test_same_key_with_a_different_body_gets_422_and_changes_nothing(key_client):
    key_client.post("/probe/", BODY, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    response = key_client.post(
        "/probe/", {"external_id": "B-2", "name": "Bo"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )

    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert "k-1" in response.json()["detail"]
    assert not Buyer.objects.filter(external_id="B-2").exists()


@pytest.mark.django_db
def test_validation_errors_are_replayed_too(key_client):
    bad = {"external_id": "B-1"}
    first = key_client.post("/probe/", bad, format="json", HTTP_IDEMPOTENCY_KEY="k-bad")
    replay = key_client.post("/probe/", bad, format="json", HTTP_IDEMPOTENCY_KEY="k-bad")

    assert first.status_code == replay.status_code == 400
    assert replay.json() == first.json()
    assert replay["Idempotent-Replayed"] == "true"


@pytest.mark.django_db
def test_keys_are_scoped_per_api_key(key_client):
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Api-Key {ApiKeyFactory(scopes=['probe:write']).plain_key}")

    key_client.post("/probe/", BODY, format="json", HTTP_IDEMPOTENCY_KEY="shared")
    response = other.post("/probe/", {"external_id": "B-2", "name": "Bo"}, format="json", HTTP_IDEMPOTENCY_KEY="shared")

    assert response.status_code == 201
    assert IdempotencyRecord.objects.count() == 2


@pytest.mark.django_db
def test_overlong_idempotency_key_gets_400_naming_the_header(key_client):
    response = key_client.post("/probe/", BODY, format="json", HTTP_IDEMPOTENCY_KEY="k" * 256)

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["errors"]
    assert Buyer.objects.count() == 0


@pytest.mark.django_db
def test_purge_deletes_only_records_past_retention(key_client, settings):
    settings.IDEMPOTENCY_RETENTION_HOURS = 24
    key_client.post("/probe/", BODY, format="json", HTTP_IDEMPOTENCY_KEY="old")
    key_client.post("/probe/", {"external_id": "B-2", "name": "Bo"}, format="json", HTTP_IDEMPOTENCY_KEY="new")
    IdempotencyRecord.objects.filter(key="old").update(created_at=timezone.now() - timedelta(hours=25))

    deleted = purge_idempotency_records_task.delay().get()

    assert deleted == 1
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["new"]
    assert idempotency_records_purge() == (0, False)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent writers (PostgreSQL)")
def test_concurrent_identical_posts_with_one_key_have_exactly_one_effect():
    api_key = ApiKeyFactory(scopes=["probe:write"])
    barrier = threading.Barrier(6)
    answers = []

    def post():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key.plain_key}")
        barrier.wait()
        try:
            response = client.post("/probe/", BODY, format="json", HTTP_IDEMPOTENCY_KEY="race")
            answers.append((response.status_code, response.json()["id"]))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert Buyer.objects.count() == 1
    assert IdempotencyRecord.objects.count() == 1
    assert {code for code, _ in answers} == {201}
    assert len({buyer_id for _, buyer_id in answers}) == 1
    assert len(answers) == 6


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["has space", "nul\x00byte", ""])
def test_idempotency_key_with_control_characters_or_spaces_gets_400(key_client, key):
    response = key_client.post("/probe/", BODY, format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["errors"]
    assert Buyer.objects.count() == 0
