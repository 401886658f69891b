"""The set-based ingestion awards (loyalty/awards.py) leave the ledger the per-subject tasks leave,
and running a set again changes nothing."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from buyers.factories import BuyerFactory
from loyalty import awards, services
from loyalty.factories import EarningRuleFactory
from loyalty.models import Allocation, CapPeriod, EntryKind, EntryState, PointsEntry, RuleKind, SourceType
from loyalty.selectors import ledger_verify, member_balance
from marketplace.factories import EngagementEventFactory, OrderFactory, ReviewFactory
from marketplace.models import EngagementEvent, EngagementKind, Order, OrderStatus

pytestmark = pytest.mark.django_db


def _ledger() -> list[tuple]:
    return sorted(
        PointsEntry.objects.values_list(
            "buyer_id", "source_type", "source_id", "kind", "state", "amount", "remaining", "rule_id", "available_at"
        )
    )


def _wipe_ledger() -> None:
    Allocation.objects.all().delete()
    PointsEntry.objects.all().delete()


@pytest.fixture
def rules(program, spend_rule):
    EarningRuleFactory(kind=RuleKind.REPEAT_PURCHASE, points=Decimal("25"), name="Repeat bonus")
    # A daily cap that the third share of the day reaches: a set must grant what the shares one
    # at a time in time order would, not 5 points to each.
    EarningRuleFactory(kind=RuleKind.STORY_SHARE, points=Decimal("5"), cap_points=12, cap_period=CapPeriod.DAY)
    EarningRuleFactory(kind=RuleKind.REVIEW, points=Decimal("20"))


@pytest.fixture
def storefront(rules):
    now = timezone.now()
    ann, bob = BuyerFactory(), BuyerFactory()
    first = OrderFactory(buyer=ann, total_amount=Decimal("10"), placed_at=now - timedelta(days=90))
    repeat = OrderFactory(buyer=ann, seller=first.seller, total_amount=Decimal("32.40"), placed_at=now - timedelta(days=20))
    other = OrderFactory(buyer=bob, total_amount=Decimal("57"), placed_at=now - timedelta(days=10))
    shipped = OrderFactory(buyer=bob, status=OrderStatus.SHIPPED)
    day = now - timedelta(days=3)
    shares = [
        EngagementEventFactory(buyer=ann, kind=EngagementKind.STORY_SHARE, occurred_at=day + timedelta(minutes=m))
        for m in (30, 10, 20, 40)  # ids out of time order: the cap follows time, as one at a time
    ]
    login = EngagementEventFactory(buyer=bob, kind=EngagementKind.LOGIN, occurred_at=day)
    review = ReviewFactory(order=other)
    return {
        "orders": [first.pk, repeat.pk, other.pk, shipped.pk],
        "events": [login.pk, *sorted(e.pk for e in shares)],
        "reviews": [review.pk],
        "now": now,
    }


def _one_at_a_time(s) -> None:
    # In time order, as the storefront sends them and as their reactions run.
    for order_id in sorted(s["orders"], key=lambda pk: Order.objects.get(pk=pk).placed_at):
        services.order_points_sync(order_id=order_id, now=s["now"])
    for event_id in EngagementEvent.objects.filter(pk__in=s["events"]).order_by("occurred_at").values_list("pk", flat=True):
        services.engagement_points(event_id=event_id, now=s["now"])
    for review_id in s["reviews"]:
        services.review_points(review_id=review_id, now=s["now"])


def _as_sets(s) -> None:
    awards.order_points_sync_many(order_ids=s["orders"], now=s["now"])
    awards.engagement_points_many(event_ids=s["events"], now=s["now"])
    awards.review_points_many(review_ids=s["reviews"], now=s["now"])


def test_a_set_leaves_the_ledger_the_per_subject_awards_leave(storefront):
    _one_at_a_time(storefront)
    expected = _ledger()
    _wipe_ledger()

    _as_sets(storefront)

    assert _ledger() == expected
    shares = sorted(
        PointsEntry.objects.filter(source_type=SourceType.ENGAGEMENT).values_list("occurred_at", "amount")
    )
    assert [amount for _, amount in shares] == [5, 5, 2]  # the fourth share is past the cap: no lot
    assert PointsEntry.objects.filter(source_type=SourceType.REPEAT_PURCHASE).count() == 1
    assert ledger_verify() == []


def test_running_a_set_again_awards_nothing_more(storefront):
    _as_sets(storefront)
    once = _ledger()

    first = awards.order_points_sync_many(order_ids=storefront["orders"], now=storefront["now"])
    assert awards.engagement_points_many(event_ids=storefront["events"], now=storefront["now"]) == 0
    assert awards.review_points_many(review_ids=storefront["reviews"], now=storefront["now"]) == 0

    assert first == {"awarded": 0, "reversed": 0}
    assert _ledger() == once


def test_a_returned_order_in_a_set_is_reversed_once_and_never_below_zero(storefront):
    _as_sets(storefront)
    order = Order.objects.get(pk=storefront["orders"][2])
    earned = PointsEntry.objects.get(source_type=SourceType.ORDER, source_id=order.pk, kind=EntryKind.EARN)
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.RETURNED, returned_at=order.delivered_at + timedelta(days=1))

    assert awards.order_points_sync_many(order_ids=[order.pk], now=storefront["now"]) == {"awarded": 0, "reversed": 1}
    assert awards.order_points_sync_many(order_ids=[order.pk], now=storefront["now"]) == {"awarded": 0, "reversed": 0}

    reversals = PointsEntry.objects.filter(source_id=order.pk, kind=EntryKind.REVERSE)
    assert [r.amount for r in reversals] == [-earned.amount]
    earned.refresh_from_db()
    assert earned.state == EntryState.CANCELLED
    assert member_balance(buyer_id=order.buyer_id)["active"] >= 0
    assert ledger_verify() == []


def test_unknown_subjects_in_a_set_are_skipped(storefront):
    assert awards.order_points_sync_many(order_ids=[10**9], now=storefront["now"]) == {"awarded": 0, "reversed": 0}
    assert awards.engagement_points_many(event_ids=[10**9], now=storefront["now"]) == 0
    assert awards.review_points_many(review_ids=[10**9], now=storefront["now"]) == 0
    assert PointsEntry.objects.count() == 0
