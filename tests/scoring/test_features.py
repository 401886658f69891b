from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from marketplace.factories import EngagementEventFactory, OrderFactory, OrderLineFactory, ReviewFactory
from marketplace.models import EngagementKind, OrderStatus
from scoring.features import MODEL_FEATURES, seller_features
from sellers.factories import ListingFactory, SellerFactory
from sellers.models import CraftCategory


def _orders(seller, n, *, days_ago=30, **kwargs):
    return [OrderFactory(seller=seller, placed_at=timezone.now() - timedelta(days=days_ago + i), **kwargs) for i in range(n)]


@pytest.mark.django_db
def test_new_artisan_without_history_gets_category_priors_and_no_nan():
    veteran = SellerFactory(craft_category=CraftCategory.JEWELRY)
    _orders(veteran, 8)
    _orders(veteran, 2, status=OrderStatus.CANCELLED)
    newcomer = SellerFactory(craft_category=CraftCategory.JEWELRY, applied_at=timezone.now() - timedelta(days=1), approved_at=None)

    frame = seller_features(as_of=timezone.now())

    row = frame.loc[newcomer.pk]
    assert not frame[MODEL_FEATURES].isna().any().any()
    assert row["has_history"] == 0
    assert row["cancel_rate"] == pytest.approx(row["category_cancel_rate"])
    assert row["category_cancel_rate"] == pytest.approx(0.2)


@pytest.mark.django_db
def test_rates_are_shrunk_towards_the_category_average():
    risky = SellerFactory()
    _orders(risky, 10, status=OrderStatus.RETURNED)
    fine = SellerFactory()
    _orders(fine, 30)

    frame = seller_features(as_of=timezone.now())

    category = frame.loc[risky.pk, "category_return_rate"]
    assert category == pytest.approx(10 / 40)
    assert category < frame.loc[risky.pk, "return_rate"] < 1.0
    assert frame.loc[fine.pk, "return_rate"] < category


@pytest.mark.django_db
def test_features_only_use_facts_recorded_before_as_of():
    seller = SellerFactory()
    _orders(seller, 5, days_ago=100)
    as_of = timezone.now() - timedelta(days=60)
    # Cancelled after as_of: at as_of that order was still open.
    OrderFactory(seller=seller, status=OrderStatus.CANCELLED, placed_at=as_of - timedelta(days=2), cancelled_at=as_of + timedelta(days=1))
    _orders(seller, 4, days_ago=10)

    frame = seller_features(as_of=as_of)

    assert frame.loc[seller.pk, "orders_365"] == 6
    assert frame.loc[seller.pk, "cancel_rate"] == pytest.approx(frame.loc[seller.pk, "category_cancel_rate"] * 10 / 16)


@pytest.mark.django_db
def test_late_shipments_repeat_buyers_reviews_and_replies_are_measured():
    seller = SellerFactory()
    first = OrderFactory(seller=seller, placed_at=timezone.now() - timedelta(days=40))
    OrderFactory(seller=seller, buyer=first.buyer, placed_at=timezone.now() - timedelta(days=20))
    late = OrderFactory(seller=seller, placed_at=timezone.now() - timedelta(days=30))
    late.shipped_at = late.ship_by + timedelta(days=4)
    late.delivered_at = late.shipped_at + timedelta(days=1)
    late.save()
    ReviewFactory(order=late, rating=2, text="Arrived late and broken", created_at=timezone.now() - timedelta(days=5))
    ReviewFactory(order=first, rating=5, text="Beautiful, perfect", created_at=timezone.now() - timedelta(days=5))
    EngagementEventFactory(buyer=first.buyer, target_seller=seller, kind=EngagementKind.MESSAGE)
    EngagementEventFactory(buyer=None, seller=seller, kind=EngagementKind.MESSAGE_REPLY, response_minutes=30)
    other = SellerFactory()
    for order in _orders(other, 3):
        ReviewFactory(order=order, rating=5, text="Lovely", created_at=timezone.now() - timedelta(days=5))

    frame = seller_features(as_of=timezone.now())

    row = frame.loc[seller.pk]
    assert row["orders_365"] == 3
    assert row["repeat_sales_ratio"] > frame.loc[other.pk, "repeat_sales_ratio"]
    assert row["late_rate"] > frame.loc[other.pk, "late_rate"]
    assert row["rating_var"] > frame.loc[other.pk, "rating_var"]
    assert row["sentiment_var"] > frame.loc[other.pk, "sentiment_var"]
    assert row["reply_rate"] > 0


@pytest.mark.django_db
def test_seasonal_artisan_off_season_is_compared_with_its_own_season():
    now = timezone.now()
    seasonal = SellerFactory(is_seasonal=True, applied_at=now - timedelta(days=800))
    steady = SellerFactory(is_seasonal=False, applied_at=now - timedelta(days=800))
    # Seasonal artisans as a group sell 10% of their year in the last 90 days; this one too.
    for i in range(45):
        OrderFactory(seller=seasonal, placed_at=now - timedelta(days=200 + i))
    for i in range(5):
        OrderFactory(seller=seasonal, placed_at=now - timedelta(days=10 + i))
    for i in range(50):
        OrderFactory(seller=steady, placed_at=now - timedelta(days=1 + i * 7))

    frame = seller_features(as_of=now)

    assert frame.loc[seasonal.pk, "seasonal_activity_ratio"] == pytest.approx(0.0, abs=0.05)
    assert abs(frame.loc[steady.pk, "seasonal_activity_ratio"]) < 0.1


@pytest.mark.django_db
def test_subset_uses_population_priors_and_matches_full_frame():
    sellers = [SellerFactory() for _ in range(3)]
    for n, seller in enumerate(sellers):
        _orders(seller, 3 + n, status=OrderStatus.RETURNED if n == 0 else OrderStatus.DELIVERED)
    as_of = timezone.now()

    full = seller_features(as_of=as_of)
    subset = seller_features(as_of=as_of, seller_ids=[sellers[1].pk, 999999])

    assert list(subset.index) == [sellers[1].pk]
    assert np.allclose(subset.loc[sellers[1].pk, MODEL_FEATURES].astype(float), full.loc[sellers[1].pk, MODEL_FEATURES].astype(float))


@pytest.mark.django_db
def test_inventory_findings_feed_the_features():
    seller = SellerFactory()
    listing = ListingFactory(seller=seller, stock_quantity=1, stock_updated_at=timezone.now() - timedelta(days=20))
    for _ in range(3):
        OrderLineFactory(listing=listing, order=OrderFactory(seller=seller, placed_at=timezone.now() - timedelta(days=5)))

    frame = seller_features(as_of=timezone.now())

    assert frame.loc[seller.pk, "inventory_issues"] == 1
