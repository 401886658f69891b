"""Sellers, buyers and listings: upserts by external ID."""

from datetime import timedelta

import pytest

from buyers.models import Buyer
from marketplace.factories import ListingFactory, SellerFactory
from sellers.models import Listing, OnboardingStatus, Seller
from tests.marketplace.conftest import BASE

pytestmark = pytest.mark.django_db

SELLER = {
    "external_id": "S-1", "name": "Clay & Co", "email": "clay@example.com", "craft_category": "ceramics",
    "years_experience": 4, "has_portfolio": True, "applied_at": "2026-11-01T10:00:00Z",
}


def test_new_seller_is_created_as_an_application(api):
    response = api.post(f"{BASE}/sellers/", SELLER, format="json")

    assert response.status_code == 201
    assert response.json()["status"] == "created"
    seller = Seller.objects.get(external_id="S-1")
    assert response.json()["id"] == seller.pk
    assert seller.onboarding_status == OnboardingStatus.APPLIED
    assert seller.years_experience == 4


def test_resending_the_same_seller_is_a_duplicate_and_a_change_is_an_update(api):
    api.post(f"{BASE}/sellers/", SELLER, format="json")

    again = api.post(f"{BASE}/sellers/", SELLER, format="json")
    changed = api.post(f"{BASE}/sellers/", {**SELLER, "name": "Clay and Co"}, format="json")

    assert (again.status_code, again.json()["status"]) == (200, "duplicate")
    assert (changed.status_code, changed.json()["status"]) == (200, "updated")
    assert Seller.objects.get().name == "Clay and Co"


def test_seller_with_unknown_category_and_malformed_date_gets_400_naming_both_fields(api):
    response = api.post(
        f"{BASE}/sellers/", {**SELLER, "craft_category": "spaceships", "applied_at": "yesterday"}, format="json"
    )

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"craft_category", "applied_at"}
    assert Seller.objects.count() == 0


def test_buyer_upsert_creates_then_updates(api):
    buyer = {"external_id": "B-1", "name": "Ada", "email": "ada@example.com", "joined_at": "2026-01-01T00:00:00Z"}

    first = api.post(f"{BASE}/buyers/", buyer, format="json")
    second = api.post(f"{BASE}/buyers/", {**buyer, "email": "ada@new.example"}, format="json")

    assert first.json()["status"] == "created"
    assert second.json()["status"] == "updated"
    assert Buyer.objects.get(external_id="B-1").email == "ada@new.example"


def test_buyer_with_bad_email_gets_400_naming_email(api):
    response = api.post(
        f"{BASE}/buyers/", {"external_id": "B-1", "name": "Ada", "email": "nope", "joined_at": "2026-01-01T00:00:00Z"},
        format="json",
    )

    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["email"]


def _listing(seller, **overrides):
    return {"external_id": "L-1", "seller": seller.external_id, "title": "Bowl", "category": "ceramics",
            "price": "25.00", "stock_quantity": 3, **overrides}


def test_listing_is_created_with_stock_and_updated_by_external_id(api):
    seller = SellerFactory()

    created = api.post(f"{BASE}/listings/", _listing(seller), format="json")
    restocked = api.post(f"{BASE}/listings/", _listing(seller, stock_quantity=8), format="json")

    assert created.status_code == 201
    assert restocked.json()["status"] == "updated"
    listing = Listing.objects.get(external_id="L-1")
    assert (listing.seller_id, listing.stock_quantity) == (seller.pk, 8)
    assert listing.stock_updated_at is not None


def test_listing_for_unknown_seller_gets_400_naming_seller_and_saves_nothing(api):
    response = api.post(f"{BASE}/listings/", _listing(SellerFactory.build(external_id="S-404")), format="json")

    assert response.status_code == 400
    assert response.json()["errors"] == {"seller": ["Unknown seller 'S-404'."]}
    assert Listing.objects.count() == 0


def test_listing_with_negative_price_or_stock_gets_400_naming_the_fields(api):
    response = api.post(f"{BASE}/listings/", _listing(SellerFactory(), price="-1.00", stock_quantity=-2), format="json")

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"price", "stock_quantity"}
    assert Listing.objects.count() == 0


def test_listing_cannot_move_to_another_seller(api):
    listing = ListingFactory()
    other = SellerFactory()

    response = api.post(
        f"{BASE}/listings/", _listing(other, external_id=listing.external_id), format="json"
    )

    assert response.status_code == 400
    assert "seller" in response.json()["errors"]
    listing.refresh_from_db()
    assert listing.seller_id != other.pk


def test_bulk_sellers_answer_per_item_and_keep_the_good_ones(api):
    items = [SELLER, {**SELLER, "external_id": "S-2", "email": "bad"}, {**SELLER, "external_id": "S-3"}, SELLER]

    response = api.post(f"{BASE}/sellers/bulk/", {"items": items}, format="json")

    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["created", "rejected", "created", "duplicate"]
    assert results[1]["errors"] == {"email": ["Enter a valid email address."]}
    assert sorted(Seller.objects.values_list("external_id", flat=True)) == ["S-1", "S-3"]


def test_bulk_listings_resolve_sellers_with_a_bounded_number_of_queries(api, django_assert_max_num_queries):
    sellers = SellerFactory.create_batch(3)
    items = [
        _listing(sellers[i % 3], external_id=f"L-{i}") for i in range(30)
    ]

    # Per item: item savepoint, lock-select, insert savepoint, insert, two releases; plus the key
    # lookup and one seller prefetch for the whole batch. No per-item seller lookup.
    with django_assert_max_num_queries(30 * 6 + 4):
        response = api.post(f"{BASE}/listings/bulk/", {"items": items}, format="json")

    assert response.json()["summary"]["created"] == 30


def test_moving_the_application_date_after_the_approval_gets_400_not_500(api):
    seller = SellerFactory(external_id="S-1")  # approved three days after applying

    response = api.post(f"{BASE}/sellers/", {
        **SELLER, "applied_at": (seller.approved_at + timedelta(days=1)).isoformat(),
    }, format="json")

    assert response.status_code == 400
    assert "seller_approved_after_applied" in response.json()["errors"]["non_field_errors"][0]
    seller.refresh_from_db()
    assert seller.applied_at < seller.approved_at
