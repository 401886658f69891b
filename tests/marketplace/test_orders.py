import threading
from decimal import Decimal

import pytest
from django.db import connection, connections
from rest_framework.test import APIClient

from buyers.factories import BuyerFactory
from integrations.factories import ApiKeyFactory
from marketplace.models import Order, OrderLine, OrderStatus
from sellers.factories import ListingFactory, SellerFactory
from tests.marketplace.conftest import BASE


@pytest.fixture
def shop(db):
    seller = SellerFactory(external_id="S-1")
    return {
        "seller": seller,
        "buyer": BuyerFactory(external_id="B-1"),
        "bowl": ListingFactory(seller=seller, external_id="L-bowl", price=Decimal("25.00"), stock_quantity=3),
        "vase": ListingFactory(seller=seller, external_id="L-vase", price=Decimal("60.00"), stock_quantity=None),
    }


def _order(**overrides):
    return {
        "external_id": "O-1", "buyer": "B-1", "seller": "S-1",
        "placed_at": "2026-11-20T10:00:00Z", "ship_by": "2026-11-23T10:00:00Z",
        "lines": [{"listing": "L-bowl", "quantity": 2, "unit_price": "25.00"},
                  {"listing": "L-vase", "quantity": 1, "unit_price": "60.00"}],
        **overrides,
    }


@pytest.mark.django_db
def test_order_is_created_with_its_lines_and_takes_tracked_stock(api, shop):
    response = api.post(f"{BASE}/orders/", _order(), format="json")

    assert response.status_code == 201
    order = Order.objects.get(external_id="O-1")
    assert response.json() == {"status": "created", "id": order.pk, "external_id": "O-1", "errors": {}}
    assert order.status == OrderStatus.PLACED
    assert order.total_amount == Decimal("110.00")
    assert sorted(order.lines.values_list("listing__external_id", "quantity")) == [("L-bowl", 2), ("L-vase", 1)]
    shop["bowl"].refresh_from_db()
    shop["vase"].refresh_from_db()
    assert shop["bowl"].stock_quantity == 1
    assert shop["vase"].stock_quantity is None


@pytest.mark.django_db
def test_resent_order_is_a_duplicate_and_takes_no_more_stock(api, shop):
    first = api.post(f"{BASE}/orders/", _order(), format="json")
    again = api.post(f"{BASE}/orders/", _order(), format="json")

    assert (again.status_code, again.json()["status"]) == (200, "duplicate")
    assert again.json()["id"] == first.json()["id"]
    assert Order.objects.count() == 1
    shop["bowl"].refresh_from_db()
    assert shop["bowl"].stock_quantity == 1


@pytest.mark.django_db
def test_idempotency_key_replay_returns_the_original_201(api, shop):
    first = api.post(f"{BASE}/orders/", _order(), format="json", HTTP_IDEMPOTENCY_KEY="o-1")
    replay = api.post(f"{BASE}/orders/", _order(), format="json", HTTP_IDEMPOTENCY_KEY="o-1")

    assert replay.status_code == first.status_code == 201
    assert replay.json() == first.json()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"buyer": "B-404"}, "buyer", "Unknown buyer 'B-404'."),
        ({"seller": "S-404"}, "seller", "Unknown seller 'S-404'."),
        ({"lines": [{"listing": "L-404", "quantity": 1, "unit_price": "1.00"}]}, "lines[0].listing", "Unknown listing 'L-404'."),
        ({"lines": [{"listing": "L-bowl", "quantity": 1, "unit_price": "-1.00"}]}, "lines[0].unit_price",
         "Ensure this value is greater than or equal to 0."),
        ({"lines": [{"listing": "L-bowl", "quantity": 0, "unit_price": "1.00"}]}, "lines[0].quantity",
         "Ensure this value is greater than or equal to 1."),
        ({"lines": [{"listing": "L-bowl", "quantity": 4, "unit_price": "25.00"}]}, "lines[0].quantity",
         "Quantity 4 is above the 3 in stock for listing 'L-bowl'."),
        ({"placed_at": "20/11/2026"}, "placed_at", None),
        ({"ship_by": "2026-11-19T10:00:00Z"}, "ship_by", "Must not be before placed_at."),
        ({"lines": []}, "lines", None),
    ],
)
def test_bad_order_gets_400_naming_the_field_and_saves_nothing(api, shop, overrides, field, message):
    response = api.post(f"{BASE}/orders/", _order(**overrides), format="json")

    assert response.status_code == 400
    errors = response.json()["errors"]
    assert field in errors
    if message:
        assert errors[field] == [message]
    assert Order.objects.count() == 0
    assert OrderLine.objects.count() == 0
    shop["bowl"].refresh_from_db()
    assert shop["bowl"].stock_quantity == 3


@pytest.mark.django_db
def test_listing_of_another_seller_is_rejected(api, shop):
    ListingFactory(external_id="L-other")

    response = api.post(
        f"{BASE}/orders/", _order(lines=[{"listing": "L-other", "quantity": 1, "unit_price": "5.00"}]), format="json"
    )

    assert response.status_code == 400
    assert response.json()["errors"] == {"lines[0].listing": ["Listing 'L-other' belongs to another seller."]}


@pytest.mark.django_db
def test_stock_failure_on_a_later_line_rolls_back_the_earlier_lines_stock(api, shop):
    shop["vase"].stock_quantity = 0
    shop["vase"].save()

    response = api.post(f"{BASE}/orders/", _order(), format="json")

    assert response.status_code == 400
    assert "lines[1].quantity" in response.json()["errors"]
    shop["bowl"].refresh_from_db()
    assert shop["bowl"].stock_quantity == 3
    assert Order.objects.count() == 0


@pytest.mark.django_db
def test_bulk_orders_keep_good_items_and_take_stock_item_by_item(api, shop):
    items = [
        _order(external_id="O-1", lines=[{"listing": "L-bowl", "quantity": 2, "unit_price": "25.00"}]),
        _order(external_id="O-2", lines=[{"listing": "L-bowl", "quantity": 2, "unit_price": "25.00"}]),
        _order(external_id="O-3", lines=[{"listing": "L-bowl", "quantity": 1, "unit_price": "25.00"}]),
        _order(external_id="O-1", lines=[{"listing": "L-bowl", "quantity": 2, "unit_price": "25.00"}]),
        _order(external_id="O-4", buyer="B-404"),
    ]

    response = api.post(f"{BASE}/orders/bulk/", {"items": items}, format="json")

    body = response.json()
    assert [r["status"] for r in body["results"]] == ["created", "rejected", "created", "duplicate", "rejected"]
    assert body["results"][1]["errors"] == {"lines[0].quantity": ["Quantity 2 is above the 1 in stock for listing 'L-bowl'."]}
    assert body["results"][4]["errors"] == {"buyer": ["Unknown buyer 'B-404'."]}
    assert sorted(Order.objects.values_list("external_id", flat=True)) == ["O-1", "O-3"]
    shop["bowl"].refresh_from_db()
    assert shop["bowl"].stock_quantity == 0


@pytest.mark.django_db
def test_bulk_orders_use_a_constant_number_of_queries(api, shop, django_assert_max_num_queries):
    items = [
        _order(external_id=f"O-{i}", lines=[{"listing": "L-vase", "quantity": 1, "unit_price": "60.00"},
                                            {"listing": "L-bowl", "quantity": 1, "unit_price": "25.00"}])
        for i in range(3)
    ] + [_order(external_id=f"O-{i}", lines=[{"listing": "L-vase", "quantity": 1, "unit_price": "60.00"}]) for i in range(3, 40)]

    # Key lookup, four prefetches, savepoints, one lock of the tracked listings, one INSERT of
    # the orders, one of the lines, one stock UPDATE: the same for 40 orders as for 4.
    with django_assert_max_num_queries(16):
        response = api.post(f"{BASE}/orders/bulk/", {"items": items}, format="json")

    assert response.json()["summary"]["created"] == 40
    assert OrderLine.objects.count() == 43
    shop["bowl"].refresh_from_db()
    assert shop["bowl"].stock_quantity == 0


def _threads(target, count):
    barrier = threading.Barrier(count)
    answers = []

    def run(i):
        barrier.wait()
        try:
            answers.append(target(i))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent writers (PostgreSQL)")
def test_concurrent_identical_orders_create_one_order_and_take_stock_once(shop):
    key = ApiKeyFactory(scopes=["storefront:write"])

    def post(_):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key.plain_key}")
        response = client.post(f"{BASE}/orders/", _order(), format="json")
        return response.status_code, response.json()["status"]

    answers = _threads(post, 6)

    assert Order.objects.count() == 1
    assert OrderLine.objects.count() == 2
    assert sorted(answers) == [(200, "duplicate")] * 5 + [(201, "created")]
    shop["bowl"].refresh_from_db()
    assert shop["bowl"].stock_quantity == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent writers (PostgreSQL)")
def test_concurrent_orders_for_the_last_units_never_oversell(shop):
    key = ApiKeyFactory(scopes=["storefront:write"])

    def post(i):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key.plain_key}")
        body = _order(external_id=f"O-{i}", lines=[{"listing": "L-bowl", "quantity": 1, "unit_price": "25.00"}])
        return client.post(f"{BASE}/orders/", body, format="json").status_code

    answers = _threads(post, 6)

    assert sorted(answers) == [201, 201, 201, 400, 400, 400]
    shop["bowl"].refresh_from_db()
    assert shop["bowl"].stock_quantity == 0
    assert Order.objects.count() == 3


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent writers (PostgreSQL)")
def test_concurrent_overlapping_bulk_requests_store_each_order_once(shop):
    key = ApiKeyFactory(scopes=["storefront:write"])
    items = [_order(external_id=f"O-{i}", lines=[{"listing": "L-vase", "quantity": 1, "unit_price": "60.00"}])
             for i in range(30)]

    def post(i):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key.plain_key}")
        # Each request overlaps the next on half of its orders.
        body = {"items": items[i * 10 : i * 10 + 20]}
        return client.post(f"{BASE}/orders/bulk/", body, format="json").json()["summary"]

    summaries = _threads(post, 2)

    assert Order.objects.count() == 30
    assert OrderLine.objects.count() == 30
    assert sum(s["created"] for s in summaries) + sum(s["duplicate"] for s in summaries) == 40
    assert sum(s["created"] for s in summaries) == 30


def test_order_and_return_lists_show_amounts_as_money(client, admin_user):
    from django.urls import reverse

    from marketplace.factories import ReturnFactory

    refund = ReturnFactory(order__total_amount=Decimal("1234.5"), refund_amount=Decimal("1234.5"))
    client.force_login(admin_user)

    orders = client.get(reverse("admin:marketplace_order_changelist")).content.decode()
    returns = client.get(reverse("admin:marketplace_return_changelist")).content.decode()

    assert refund.order.external_id in orders
    assert "$1,234.50" in orders and ">1234.50<" not in orders
    assert "$1,234.50" in returns and ">1234.50<" not in returns
