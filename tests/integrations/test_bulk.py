import pytest

from buyers.models import Buyer
from integrations.bulk import MAX_BULK_ITEMS

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.integrations.urls")]


def test_mixed_batch_keeps_good_items_and_rejects_bad_ones_per_item(key_client):
    items = [
        {"external_id": "B-1", "name": "Ada"},
        {"external_id": "B-2"},
        {"external_id": "B-3", "name": "Cy", "age": -1},
        {"external_id": "B-1", "name": "Ada"},
    ]

    response = key_client.post("/probe/bulk/", {"items": items}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert [r["status"] for r in body["results"]] == ["created", "rejected", "rejected", "duplicate"]
    assert [r["index"] for r in body["results"]] == [0, 1, 2, 3]
    assert body["results"][1]["errors"] == {"name": ["This field is required."]}
    assert "age" in body["results"][2]["errors"]
    assert body["results"][3]["id"] == body["results"][0]["id"]
    assert body["summary"] == {"created": 1, "updated": 0, "duplicate": 1, "rejected": 2}
    assert sorted(Buyer.objects.values_list("external_id", flat=True)) == ["B-1"]


def test_more_than_the_limit_gets_400_naming_the_limit(key_client):
    items = [{"external_id": f"B-{i}", "name": "x"} for i in range(MAX_BULK_ITEMS + 1)]

    response = key_client.post("/probe/bulk/", {"items": items}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"]["items"] == [f"At most 1000 items per request; this request has {MAX_BULK_ITEMS + 1}."]
    assert Buyer.objects.count() == 0


def test_items_that_are_not_objects_are_each_rejected_without_failing_the_batch(key_client):
    response = key_client.post("/probe/bulk/", {"items": [1, "two"]}, format="json")

    assert response.status_code == 200
    assert [r["status"] for r in response.json()["results"]] == ["rejected", "rejected"]


def test_missing_items_gets_400_naming_items(key_client):
    response = key_client.post("/probe/bulk/", {}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {"items": ["This field is required."]}


def test_bulk_replay_with_idempotency_key_returns_the_first_answer(key_client):
    items = [{"external_id": "B-1", "name": "Ada"}]
    first = key_client.post("/probe/bulk/", {"items": items}, format="json", HTTP_IDEMPOTENCY_KEY="bulk-1")
    replay = key_client.post("/probe/bulk/", {"items": items}, format="json", HTTP_IDEMPOTENCY_KEY="bulk-1")

    assert replay.json() == first.json()
    assert replay.json()["results"][0]["status"] == "created"
