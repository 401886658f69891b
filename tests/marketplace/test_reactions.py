"""Which follow-up work each storefront change sets in motion, after commit, one per subject."""

from datetime import timedelta

import pytest

from workflows import reactions
from marketplace.factories import OrderFactory
from marketplace.models import OrderStatus
from sellers.factories import SellerFactory
from sellers.models import Seller
from tests.marketplace.conftest import BASE

pytestmark = pytest.mark.django_db

SELLER = {"external_id": "S-9", "name": "Wood", "email": "w@example.com", "craft_category": "woodwork",
          "applied_at": "2026-11-01T10:00:00Z"}


def _post(api, capture, path, body):
    with capture(execute=True):
        return api.post(f"{BASE}/{path}", body, format="json")


def test_a_new_application_is_sent_for_scoring_and_routing_but_a_profile_edit_is_not(
    api, dispatched, django_capture_on_commit_callbacks
):
    _post(api, django_capture_on_commit_callbacks, "sellers/", SELLER)
    _post(api, django_capture_on_commit_callbacks, "sellers/", {**SELLER, "name": "Woodworks"})

    assert dispatched == [(reactions.SELLER_APPLICATION_RECEIVED, Seller.objects.get().pk)]


@pytest.mark.parametrize(
    ("start", "status", "extra", "expected"),
    [
        (OrderStatus.PLACED, "shipped", {}, ["rescore"]),
        (OrderStatus.SHIPPED, "delivered", {}, ["points", "rescore"]),
        (OrderStatus.PLACED, "cancelled", {"reason": "buyer_request"}, ["points", "rescore"]),
        (OrderStatus.DELIVERED, "returned", {"reason": "damaged"}, ["points", "rescore"]),
    ],
)
def test_status_changes_sync_points_and_rescore_the_seller(
    api, dispatched, django_capture_on_commit_callbacks, start, status, extra, expected
):
    order = OrderFactory(status=start)
    body = {"order": order.external_id, "status": status, "at": (order.placed_at + timedelta(days=9)).isoformat(), **extra}

    response = _post(api, django_capture_on_commit_callbacks, "orders/status/", body)

    assert response.status_code == 200
    paths = {"points": (reactions.ORDER_POINTS_SYNC, order.pk), "rescore": (reactions.SELLER_RESCORE, order.seller_id)}
    assert sorted(dispatched) == sorted(paths[name] for name in expected)


def test_a_rejected_or_duplicate_status_change_sets_nothing_in_motion(api, dispatched, django_capture_on_commit_callbacks):
    order = OrderFactory(status=OrderStatus.PLACED)
    body = {"order": order.external_id, "status": "delivered", "at": (order.placed_at + timedelta(days=3)).isoformat()}

    conflict = _post(api, django_capture_on_commit_callbacks, "orders/status/", body)
    order.status, order.shipped_at = OrderStatus.SHIPPED, order.placed_at + timedelta(days=1)
    order.save()
    _post(api, django_capture_on_commit_callbacks, "orders/status/", body)
    dispatched.clear()
    duplicate = _post(api, django_capture_on_commit_callbacks, "orders/status/", body)

    assert conflict.status_code == 409
    assert duplicate.json()["status"] == "duplicate"
    assert dispatched == []


def test_a_new_review_rescores_the_seller_and_earns_review_points_and_an_edit_only_rescores(
    api, dispatched, django_capture_on_commit_callbacks
):
    order = OrderFactory()
    review = {"external_id": "R-1", "buyer": order.buyer.external_id, "seller": order.seller.external_id,
              "rating": 5, "created_at": "2026-11-20T10:00:00Z"}

    created = _post(api, django_capture_on_commit_callbacks, "reviews/", review)
    first = list(dispatched)
    dispatched.clear()
    _post(api, django_capture_on_commit_callbacks, "reviews/", {**review, "rating": 3})

    review_id = created.json()["id"]
    assert sorted(first) == sorted([(reactions.SELLER_RESCORE, order.seller_id), (reactions.REVIEW_POINTS, review_id)])
    assert dispatched == [(reactions.SELLER_RESCORE, order.seller_id)]


def test_a_buyer_event_earns_engagement_points_and_rescores_the_artisan_it_touches(
    api, dispatched, django_capture_on_commit_callbacks
):
    order = OrderFactory()
    event = {"external_id": "E-1", "kind": "follow_artisan", "buyer": order.buyer.external_id,
             "target_seller": order.seller.external_id, "occurred_at": "2026-11-20T10:00:00Z"}

    response = _post(api, django_capture_on_commit_callbacks, "events/", event)

    assert sorted(dispatched) == sorted(
        [(reactions.ENGAGEMENT_POINTS, response.json()["id"]), (reactions.SELLER_RESCORE, order.seller_id)]
    )


def test_a_seller_event_only_rescores_that_seller(api, dispatched, django_capture_on_commit_callbacks):
    seller = SellerFactory()
    event = {"external_id": "E-2", "kind": "message_reply", "seller": seller.external_id,
             "occurred_at": "2026-11-20T10:00:00Z", "response_minutes": 30}

    _post(api, django_capture_on_commit_callbacks, "events/", event)

    assert dispatched == [(reactions.SELLER_RESCORE, seller.pk)]


def test_a_burst_on_one_artisan_in_a_bulk_request_is_dispatched_once_per_subject(
    api, dispatched, django_capture_on_commit_callbacks
):
    order = OrderFactory()
    items = [{"external_id": f"E-{i}", "kind": "login", "seller": order.seller.external_id,
              "occurred_at": "2026-11-20T10:00:00Z"} for i in range(40)]

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = api.post(f"{BASE}/events/bulk/", {"items": items}, format="json")

    assert response.json()["summary"]["created"] == 40
    assert len(callbacks) == 1
    assert dispatched == [(reactions.SELLER_RESCORE, order.seller_id)]
