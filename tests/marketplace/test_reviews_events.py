import pytest

from buyers.factories import BuyerFactory
from marketplace.factories import OrderFactory
from marketplace.models import EngagementEvent, Review
from sellers.factories import SellerFactory
from tests.marketplace.conftest import BASE

pytestmark = pytest.mark.django_db


@pytest.fixture
def order():
    return OrderFactory(buyer=BuyerFactory(external_id="B-1"), seller=SellerFactory(external_id="S-1"))


def _review(**overrides):
    return {"external_id": "R-1", "buyer": "B-1", "seller": "S-1", "rating": 4, "text": "Lovely glaze",
            "created_at": "2026-11-20T10:00:00Z", **overrides}


def test_review_is_created_then_an_edit_updates_it(api, order):
    created = api.post(f"{BASE}/reviews/", _review(order=order.external_id), format="json")
    same = api.post(f"{BASE}/reviews/", _review(order=order.external_id), format="json")
    edited = api.post(f"{BASE}/reviews/", _review(rating=2, updated_at="2026-11-21T10:00:00Z"), format="json")

    assert [r.json()["status"] for r in (created, same, edited)] == ["created", "duplicate", "updated"]
    review = Review.objects.get()
    assert (review.rating, review.order_id, review.seller_id) == (2, order.pk, order.seller_id)
    assert review.updated_at > review.created_at


@pytest.mark.parametrize(
    ("overrides", "field"),
    [({"rating": 6}, "rating"), ({"rating": "five"}, "rating"), ({"seller": "S-404"}, "seller"),
     ({"buyer": "B-404"}, "buyer"), ({"order": "O-404"}, "order"), ({"created_at": "2026-13-01"}, "created_at")],
)
def test_bad_review_gets_400_naming_the_field_and_saves_nothing(api, order, overrides, field):
    response = api.post(f"{BASE}/reviews/", _review(**overrides), format="json")

    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert Review.objects.count() == 0


def test_review_on_someone_elses_order_gets_400(api, order):
    other = OrderFactory()

    response = api.post(f"{BASE}/reviews/", _review(order=other.external_id), format="json")

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["order"]


def _event(**overrides):
    return {"external_id": "E-1", "kind": "follow_artisan", "buyer": "B-1", "target_seller": "S-1",
            "occurred_at": "2026-11-20T10:00:00Z", **overrides}


def test_engagement_event_is_created_once(api, order):
    first = api.post(f"{BASE}/events/", _event(), format="json")
    again = api.post(f"{BASE}/events/", _event(), format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["status"] == "duplicate"
    event = EngagementEvent.objects.get()
    assert (event.buyer.external_id, event.target_seller.external_id, event.seller_id) == ("B-1", "S-1", None)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [({"kind": "dance"}, "kind"), ({"seller": "S-1"}, "buyer"), ({"buyer": None}, "buyer"),
     ({"target_seller": "S-404"}, "target_seller"), ({"response_minutes": -5}, "response_minutes")],
)
def test_bad_event_gets_400_naming_the_field(api, order, overrides, field):
    response = api.post(f"{BASE}/events/", _event(**overrides), format="json")

    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert EngagementEvent.objects.count() == 0


def test_bulk_events_keep_good_items(api, order):
    items = [_event(external_id=f"E-{i}") for i in range(3)] + [_event(external_id="E-x", kind="dance"), _event(external_id="E-0")]

    response = api.post(f"{BASE}/events/bulk/", {"items": items}, format="json")

    assert response.json()["summary"] == {"created": 3, "updated": 0, "duplicate": 1, "rejected": 1}
    assert EngagementEvent.objects.count() == 3


def test_storefront_endpoints_need_the_storefront_scope(order):
    from rest_framework.test import APIClient

    from integrations.factories import ApiKeyFactory

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {ApiKeyFactory(scopes=['feedback:write']).plain_key}")

    response = client.post(f"{BASE}/events/", _event(), format="json")

    assert response.status_code == 403
    assert EngagementEvent.objects.count() == 0
    assert APIClient().post(f"{BASE}/events/", _event(), format="json").status_code == 401


def test_oversize_bulk_gets_413_and_saves_nothing(api, order, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2000
    items = [_event(external_id=f"E-{i}") for i in range(40)]

    response = api.post(f"{BASE}/events/bulk/", {"items": items}, format="json")

    assert response.status_code == 413
    assert EngagementEvent.objects.count() == 0


def test_storefront_key_is_throttled(api, order, settings):
    from django.core.cache import cache

    cache.clear()
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"api_key": "2/min", "user": "2/min"}}

    codes = [api.post(f"{BASE}/events/", _event(external_id=f"E-{i}"), format="json").status_code for i in range(3)]
    cache.clear()

    assert codes == [201, 201, 429]
    assert EngagementEvent.objects.count() == 2
