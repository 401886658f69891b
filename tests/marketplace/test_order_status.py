"""Order lifecycle. Policy: a step whose earlier steps have not arrived gets 409 naming them;
an impossible step gets 400; a step already passed is a duplicate."""

from datetime import timedelta
from decimal import Decimal

import pytest

from marketplace.factories import OrderFactory, OrderLineFactory
from marketplace.models import Order, OrderStatus, Return
from tests.marketplace.conftest import BASE

pytestmark = pytest.mark.django_db


def _at(order, days):
    return (order.placed_at + timedelta(days=days)).isoformat()


def _status(api, order, status, days, **extra):
    return api.post(
        f"{BASE}/orders/status/", {"order": order.external_id, "status": status, "at": _at(order, days), **extra},
        format="json",
    )


@pytest.fixture
def placed():
    return OrderFactory(status=OrderStatus.PLACED, total_amount=Decimal("80.00"))


def test_order_goes_shipped_delivered_returned_and_the_return_is_recorded(api, placed):
    shipped = _status(api, placed, "shipped", 1)
    delivered = _status(api, placed, "delivered", 3)
    returned = _status(api, placed, "returned", 6, reason="damaged", detail="Cracked", refund_amount="50.00")

    assert [r.json()["status"] for r in (shipped, delivered, returned)] == ["updated"] * 3
    placed.refresh_from_db()
    assert placed.status == OrderStatus.RETURNED
    assert placed.shipped_at < placed.delivered_at < placed.returned_at
    record = Return.objects.get(order=placed)
    assert (record.reason, record.detail, record.refund_amount) == ("damaged", "Cracked", Decimal("50.00"))


def test_delivered_before_shipped_arrives_gets_409_naming_the_missing_step(api, placed):
    response = _status(api, placed, "delivered", 3)

    assert response.status_code == 409
    assert response.json()["code"] == "missing_prerequisite"
    assert response.json()["missing"] == ["shipped"]
    assert "'shipped'" in response.json()["detail"]
    placed.refresh_from_db()
    assert placed.status == OrderStatus.PLACED


def test_the_same_delivered_event_succeeds_once_shipped_has_arrived(api, placed):
    assert _status(api, placed, "delivered", 3).status_code == 409
    _status(api, placed, "shipped", 1)

    retry = _status(api, placed, "delivered", 3)

    assert retry.status_code == 200
    placed.refresh_from_db()
    assert placed.status == OrderStatus.DELIVERED


def test_return_of_a_placed_order_gets_409_naming_both_missing_steps(api, placed):
    response = _status(api, placed, "returned", 5, reason="damaged")

    assert response.status_code == 409
    assert response.json()["missing"] == ["shipped", "delivered"]
    assert Return.objects.count() == 0


def test_delivery_time_before_the_shipment_gets_400(api, placed):
    _status(api, placed, "shipped", 2)

    response = _status(api, placed, "delivered", 1)

    assert response.status_code == 400
    assert "is before shipment" in response.json()["errors"]["at"][0]
    placed.refresh_from_db()
    assert placed.status == OrderStatus.SHIPPED


def test_return_of_a_cancelled_order_that_was_never_delivered_gets_400(api):
    order = OrderFactory(status=OrderStatus.CANCELLED)

    response = _status(api, order, "returned", 5, reason="damaged")

    assert response.status_code == 400
    assert "was cancelled" in response.json()["errors"]["status"][0]
    assert Return.objects.count() == 0


def test_cancelling_a_shipped_order_gets_400(api):
    order = OrderFactory(status=OrderStatus.SHIPPED)

    response = _status(api, order, "cancelled", 3, reason="buyer_request")

    assert response.status_code == 400
    assert "only a placed order can be cancelled" in response.json()["errors"]["status"][0]


def test_cancellation_needs_a_known_reason(api, placed):
    response = _status(api, placed, "cancelled", 1, reason="bored")

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["reason"]


def test_cancellation_records_the_reason_and_gives_tracked_stock_back(api, placed):
    line = OrderLineFactory(order=placed, quantity=2, listing__stock_quantity=5)

    response = _status(api, placed, "cancelled", 1, reason="out_of_stock")

    assert response.status_code == 200
    placed.refresh_from_db()
    assert (placed.status, placed.cancel_reason) == (OrderStatus.CANCELLED, "out_of_stock")
    line.listing.refresh_from_db()
    assert line.listing.stock_quantity == 7


def test_refund_above_the_order_total_gets_400(api):
    order = OrderFactory(status=OrderStatus.DELIVERED, total_amount=Decimal("40.00"))

    response = api.post(f"{BASE}/orders/status/", {
        "order": order.external_id, "status": "returned", "at": (order.delivered_at + timedelta(days=1)).isoformat(),
        "reason": "quality", "refund_amount": "41.00",
    }, format="json")

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["refund_amount"]


def test_repeated_or_late_events_are_duplicates_that_change_nothing(api, placed):
    _status(api, placed, "shipped", 1)
    _status(api, placed, "delivered", 3)

    again = _status(api, placed, "delivered", 4)
    late_shipped = _status(api, placed, "shipped", 2)

    assert [again.json()["status"], late_shipped.json()["status"]] == ["duplicate", "duplicate"]
    placed.refresh_from_db()
    assert placed.delivered_at == placed.placed_at + timedelta(days=3)


def test_unknown_order_gets_400_naming_order(api):
    response = api.post(f"{BASE}/orders/status/", {"order": "O-404", "status": "shipped", "at": "2026-11-20T10:00:00Z"}, format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {"order": ["Unknown order 'O-404'."]}


def test_bulk_status_changes_apply_in_order_and_report_conflicts_per_item(api):
    first, second = OrderFactory(status=OrderStatus.PLACED), OrderFactory(status=OrderStatus.PLACED)
    items = [
        {"order": first.external_id, "status": "shipped", "at": _at(first, 1)},
        {"order": first.external_id, "status": "delivered", "at": _at(first, 2)},
        {"order": second.external_id, "status": "delivered", "at": _at(second, 2)},
        {"order": second.external_id, "status": "cancelled", "at": _at(second, 1), "reason": "buyer_request"},
    ]

    response = api.post(f"{BASE}/orders/status/bulk/", {"items": items}, format="json")

    results = response.json()["results"]
    assert [r["status"] for r in results] == ["updated", "updated", "rejected", "updated"]
    assert results[2]["code"] == "missing_prerequisite"
    assert "'shipped'" in results[2]["errors"]["status"][0]
    assert dict(Order.objects.values_list("external_id", "status")) == {
        first.external_id: OrderStatus.DELIVERED, second.external_id: OrderStatus.CANCELLED,
    }


def test_bulk_status_changes_use_a_constant_number_of_queries(api, django_assert_max_num_queries):
    orders = OrderFactory.create_batch(30, status=OrderStatus.SHIPPED)
    items = [{"order": o.external_id, "status": "delivered", "at": _at(o, 4)} for o in orders]

    # Key lookup, order prefetch, savepoints, one locking SELECT, one bulk UPDATE.
    with django_assert_max_num_queries(12):
        response = api.post(f"{BASE}/orders/status/bulk/", {"items": items}, format="json")

    assert response.json()["summary"]["updated"] == 30
    assert Order.objects.filter(status=OrderStatus.DELIVERED).count() == 30


def test_bulk_returns_and_cancellations_write_return_rows_and_restock(api):
    delivered = OrderFactory(status=OrderStatus.DELIVERED)
    placed = OrderFactory(status=OrderStatus.PLACED)
    line = OrderLineFactory(order=placed, quantity=3, listing__stock_quantity=1)
    items = [
        {"order": delivered.external_id, "status": "returned", "at": _at(delivered, 10), "reason": "quality"},
        {"order": placed.external_id, "status": "cancelled", "at": _at(placed, 1), "reason": "other"},
    ]

    response = api.post(f"{BASE}/orders/status/bulk/", {"items": items}, format="json")

    assert response.json()["summary"]["updated"] == 2
    assert Return.objects.get().order_id == delivered.pk
    line.listing.refresh_from_db()
    assert line.listing.stock_quantity == 4
