import threading

import pytest
from django.db import connection

from buyers.factories import BuyerFactory
from feedback.models import Answer, Response
from feedback.parsing import Catalog, parse_native_item
from feedback.services import responses_ingest
from tests.feedback.test_native_api import item

pytestmark = pytest.mark.django_db
URL = "/api/v1/feedback/responses/bulk/"


def test_mixed_batch_keeps_good_items_and_rejects_bad_ones_with_reasons(client, survey):
    BuyerFactory(external_id="B-1")
    items = [
        item("a"),
        item("b", answers={"nps": 11, "comment": "half good"}),
        item("c", respondent={}),
        item("a", answers={"nps": 0}),
        item("d", answers={"csat": 2}),
    ]

    reply = client.post(URL, {"items": items}, format="json")

    assert reply.status_code == 200
    statuses = [r["status"] for r in reply.data["results"]]
    assert statuses == ["created", "rejected", "rejected", "duplicate", "created"]
    assert reply.data["summary"] == {"created": 2, "updated": 0, "duplicate": 1, "rejected": 2}
    assert "answers.nps" in reply.data["results"][1]["errors"]
    assert "respondent" in reply.data["results"][2]["errors"]
    assert reply.data["results"][3]["id"] == reply.data["results"][0]["id"]
    assert set(Response.objects.values_list("external_id", flat=True)) == {"a", "d"}
    # The rejected item with one good answer left no partial answers behind.
    assert not Answer.objects.filter(response__external_id="b").exists()


def test_bulk_replay_reports_every_item_duplicate_with_original_ids(client, survey):
    items = [item(f"r{i}") for i in range(5)]
    first = client.post(URL, {"items": items}, format="json")

    second = client.post(URL, {"items": items}, format="json")

    assert [r["status"] for r in second.data["results"]] == ["duplicate"] * 5
    assert [r["id"] for r in second.data["results"]] == [r["id"] for r in first.data["results"]]
    assert Response.objects.count() == 5


def test_more_than_1000_items_is_400_naming_items(client, survey):
    reply = client.post(URL, {"items": [item(f"r{i}") for i in range(1001)]}, format="json")

    assert reply.status_code == 400
    assert "items" in reply.data["errors"]
    assert not Response.objects.exists()


def test_bulk_of_1000_uses_a_bounded_number_of_queries(client, survey, django_assert_max_num_queries):
    items = [item(f"r{i}", respondent={"buyer_id": f"B{i}"}) for i in range(1000)]

    # Constant in the batch size: on PostgreSQL ~15 statements; SQLite splits inserts into
    # parameter-limited chunks, hence the looser bound. A per-item loop would be thousands.
    with django_assert_max_num_queries(20 if connection.vendor == "postgresql" else 80):
        reply = client.post(URL, {"items": items}, format="json")

    assert reply.data["summary"]["created"] == 1000
    assert Answer.objects.count() == 3000


def _race(api_key, path, body, threads):
    """Posts the same body from several threads released at once; returns the replies."""
    from rest_framework.test import APIClient

    barrier = threading.Barrier(threads)
    replies = []

    def post():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {api_key.plain_key}")
        barrier.wait()
        try:
            replies.append(client.post(path, body, format="json"))
        finally:
            connection.close()

    pool = [threading.Thread(target=post) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return replies


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs real concurrent transactions")
@pytest.mark.django_db(transaction=True)
def test_concurrent_identical_posts_store_each_response_once(survey, api_key):
    bulk = _race(api_key, URL, {"items": [item("same-1"), item("same-2")]}, threads=4)
    single = _race(api_key, "/api/v1/feedback/responses/", item("one"), threads=3)

    assert [r.status_code for r in bulk] == [200] * 4
    assert sorted(r.data["results"][0]["status"] for r in bulk) == ["created", "duplicate", "duplicate", "duplicate"]
    assert len({r.data["results"][0]["id"] for r in bulk}) == 1
    assert sorted(r.status_code for r in single) == [200, 200, 201]
    assert sorted(r.data["status"] for r in single) == ["created", "duplicate", "duplicate"]
    assert len({r.data["id"] for r in single}) == 1
    assert Response.objects.count() == 3
    assert Answer.objects.count() == 9


def test_service_rejects_items_individually_when_a_database_constraint_fails(survey, api_key):
    from feedback.factories import FeedbackSourceFactory

    source = FeedbackSourceFactory(survey=survey)
    catalog = Catalog(source)
    good = parse_native_item(item("ok"), catalog=catalog)
    bad = parse_native_item(item("bad"), catalog=catalog)
    bad.answers[0].number = 42  # bypasses validation: the database CHECK must stop it

    results = responses_ingest(source=source, items=[good, bad])

    assert [r.status for r in results] == ["created", "rejected"]
    assert list(Response.objects.values_list("external_id", flat=True)) == ["ok"]


def test_bulk_honours_idempotency_key(client, survey):
    body = {"items": [item("k1"), item("k2")]}
    first = client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="batch-7")

    replay = client.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="batch-7")

    assert replay["Idempotent-Replayed"] == "true"
    assert replay.data == first.data
    assert [r["status"] for r in replay.data["results"]] == ["created", "created"]
    assert Response.objects.count() == 2
