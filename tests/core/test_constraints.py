from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from buyers.factories import BuyerFactory
from casework.factories import CaseFactory
from marketplace.factories import EngagementEventFactory, OrderFactory, OrderLineFactory, ReviewFactory
from marketplace.models import OrderStatus
from sellers.factories import ListingFactory, SellerFactory

pytestmark = pytest.mark.django_db


def assert_rejected(factory, **kwargs):
    with pytest.raises(IntegrityError), transaction.atomic():
        factory(**kwargs)


def test_review_rating_must_be_between_one_and_five():
    assert_rejected(ReviewFactory, rating=6)
    assert_rejected(ReviewFactory, rating=0)
    assert ReviewFactory(rating=1).rating == 1


def test_amounts_cannot_be_negative():
    assert_rejected(ListingFactory, price=Decimal("-1.00"))
    assert_rejected(ListingFactory, stock_quantity=-2)
    assert_rejected(OrderFactory, total_amount=Decimal("-0.01"))
    assert_rejected(OrderLineFactory, unit_price=Decimal("-5"))
    assert_rejected(OrderLineFactory, quantity=0)


def test_order_dates_must_follow_the_lifecycle():
    placed = timezone.now() - timedelta(days=10)
    assert_rejected(OrderFactory, placed_at=placed, ship_by=placed - timedelta(days=1))
    assert_rejected(
        OrderFactory,
        placed_at=placed,
        shipped_at=placed + timedelta(days=3),
        delivered_at=placed + timedelta(days=2),
    )
    assert_rejected(OrderFactory, status=OrderStatus.PLACED, shipped_at=None, delivered_at=placed + timedelta(days=2))


def test_cancelled_order_needs_a_reason_and_time():
    assert_rejected(OrderFactory, status=OrderStatus.CANCELLED, cancel_reason="")
    assert_rejected(OrderFactory, status=OrderStatus.CANCELLED, cancelled_at=None)
    assert OrderFactory(status=OrderStatus.CANCELLED).cancel_reason == "buyer_request"


def test_returned_order_must_have_been_delivered():
    assert_rejected(
        OrderFactory, status=OrderStatus.RETURNED, delivered_at=None, returned_at=timezone.now() - timedelta(days=1)
    )


def test_engagement_event_has_exactly_one_actor():
    assert_rejected(EngagementEventFactory, buyer=BuyerFactory(), seller=SellerFactory())
    assert_rejected(EngagementEventFactory, buyer=None, seller=None)


def test_unknown_category_is_rejected_by_the_database():
    assert_rejected(SellerFactory, craft_category="spaceships")


def test_case_has_exactly_one_subject():
    assert_rejected(CaseFactory, buyer=BuyerFactory())
    assert_rejected(CaseFactory, seller=None, buyer=None)


def test_only_one_active_case_per_kind_and_subject():
    seller = SellerFactory()
    CaseFactory(seller=seller)
    assert_rejected(CaseFactory, seller=seller)
    assert CaseFactory(seller=seller, status="resolved", closed_at=timezone.now()).pk
