"""Ingestion validates at the door what later processing needs; nothing is partly stored."""

import io
import json
from datetime import timedelta

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from feedback.models import Response as FeedbackResponse
from integrations.factories import ApiKeyFactory
from loyalty.models import PointsEntry
from marketplace.models import Order
from sellers.models import Seller

pytestmark = pytest.mark.django_db

SELLER = {
    "external_id": "S-1", "name": "Clay Co", "email": "clay@example.com", "craft_category": "ceramics",
    "years_experience": 4, "has_portfolio": True, "applied_at": "2026-01-01T10:00:00Z",
}


@pytest.fixture
def api():
    client = APIClient()
    key = ApiKeyFactory(scopes=["storefront:write", "feedback:write", "loyalty:write", "loyalty:read"])
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key.plain_key}")
    return client


def test_a_seller_applying_in_2910_is_a_400_naming_applied_at_and_nothing_is_stored(api):
    response = api.post("/api/v1/marketplace/sellers/", {**SELLER, "applied_at": "2910-01-01T00:00:00Z"}, format="json")

    assert response.status_code == 400
    assert "future" in response.json()["errors"]["applied_at"][0]
    assert not Seller.objects.exists()


def test_a_seller_applying_before_2000_is_a_400_naming_applied_at(api):
    response = api.post("/api/v1/marketplace/sellers/", {**SELLER, "applied_at": "0202-01-01T00:00:00Z"}, format="json")

    assert response.status_code == 400
    assert "applied_at" in response.json()["errors"]


def test_a_date_within_the_clock_skew_is_accepted(api):
    soon = (timezone.now() + timedelta(minutes=2)).isoformat()

    response = api.post("/api/v1/marketplace/sellers/", {**SELLER, "applied_at": soon}, format="json")

    assert response.status_code == 201


def test_an_order_placed_in_the_future_is_a_400_naming_placed_at_and_stores_nothing(api):
    later = timezone.now() + timedelta(days=3)
    order = {
        "external_id": "O-1", "buyer": "B-1", "seller": "S-1", "placed_at": later.isoformat(),
        "ship_by": (later + timedelta(days=2)).isoformat(), "lines": [{"listing": "L-1", "quantity": 1, "unit_price": "5"}],
    }

    response = api.post("/api/v1/marketplace/orders/", order, format="json")

    assert response.status_code == 400
    assert "placed_at" in response.json()["errors"]
    assert not Order.objects.exists()


def test_a_feedback_response_submitted_in_2910_is_a_400_naming_submitted_at(api):
    body = {"external_id": "r-1", "survey": "any", "submitted_at": "2910-03-01T12:00:00Z",
            "respondent": {"email": "a@example.com"}, "answers": {}}

    response = api.post("/api/v1/feedback/responses/", body, format="json")

    assert response.status_code == 400
    assert "submitted_at" in response.json()["errors"]
    assert not FeedbackResponse.objects.exists()


def test_a_points_adjustment_beyond_a_million_is_a_400_naming_amount(api):
    from buyers.factories import BuyerFactory

    buyer = BuyerFactory()

    response = api.post(f"/api/v1/loyalty/members/{buyer.pk}/adjustments/", {"amount": 2**40, "comment": "x"}, format="json")

    assert response.status_code == 400
    assert "amount" in response.json()["errors"]
    assert not PointsEntry.objects.exists()


def test_a_bulk_item_that_is_not_an_object_is_rejected_on_its_own_and_the_good_items_are_kept(api):
    items = [SELLER, "not an object", {**SELLER, "external_id": "S-2"}, None, [1, 2]]

    response = api.post("/api/v1/marketplace/sellers/bulk/", {"items": items}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert body["summary"] == {"created": 2, "updated": 0, "duplicate": 0, "rejected": 3}
    assert [r["status"] for r in body["results"]] == ["created", "rejected", "created", "rejected", "rejected"]
    assert [r["index"] for r in body["results"]] == [0, 1, 2, 3, 4]
    assert body["results"][1]["errors"] == {"items[1]": ["Expected a JSON object; got str."]}
    assert set(Seller.objects.values_list("external_id", flat=True)) == {"S-1", "S-2"}


def test_a_feedback_bulk_item_that_is_not_an_object_is_rejected_on_its_own(api):
    response = api.post("/api/v1/feedback/responses/bulk/", {"items": [42]}, format="json")

    assert response.status_code == 200
    assert response.json()["results"][0]["status"] == "rejected"


def chunked_environ(body: bytes, key: str) -> dict:
    """A WSGI request as gunicorn hands over a chunked body: de-chunked input, no Content-Length."""
    return {
        "REQUEST_METHOD": "POST", "PATH_INFO": "/api/v1/marketplace/sellers/", "SERVER_NAME": "testserver",
        "SERVER_PORT": "80", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body), "wsgi.errors": io.StringIO(),
        "CONTENT_TYPE": "application/json", "HTTP_TRANSFER_ENCODING": "chunked",
        "HTTP_AUTHORIZATION": f"Api-Key {key}",
    }


def call_wsgi(environ: dict) -> tuple[int, dict]:
    captured = {}

    def start_response(status, headers, exc_info=None):
        captured["status"] = int(status.split()[0])

    # As Django's own test client does: a request's start and end would otherwise close the
    # test's database connection, which on PostgreSQL sits inside the test's transaction.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        body = b"".join(WSGIHandler()(environ, start_response))
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return captured["status"], json.loads(body)


def test_a_chunked_body_without_content_length_is_read(db):
    key = ApiKeyFactory(scopes=["storefront:write"])

    status, body = call_wsgi(chunked_environ(json.dumps(SELLER).encode(), key.plain_key))

    assert status == 201, body
    assert Seller.objects.filter(external_id="S-1").exists()


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=200)
def test_a_chunked_body_over_the_limit_gets_413_and_stores_nothing(db):
    key = ApiKeyFactory(scopes=["storefront:write"])
    oversize = json.dumps({**SELLER, "name": "x" * 500}).encode()

    status, body = call_wsgi(chunked_environ(oversize, key.plain_key))

    assert status == 413
    assert body["code"] == "payload_too_large"
    assert not Seller.objects.exists()
