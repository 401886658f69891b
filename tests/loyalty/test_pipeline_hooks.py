from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from buyers.models import Buyer
from loyalty import pipeline
from loyalty.factories import BadgeFactory, EarningRuleFactory, TierFactory
from loyalty.models import BadgeAward, BuyerTier, EntryState, PointsEntry
from marketplace.factories import OrderFactory
from marketplace.models import Order

pytestmark = pytest.mark.django_db


def test_nightly_hooks_award_expire_tier_and_badge_idempotently(program):
    EarningRuleFactory(points=Decimal("1"))
    TierFactory(code="member", rank=0, threshold=0)
    TierFactory(code="silver", rank=1, threshold=50)
    BadgeFactory(threshold=2)
    now = timezone.now()
    recent = OrderFactory(total_amount=Decimal("60"))
    OrderFactory(buyer=recent.buyer, seller=recent.seller, total_amount=Decimal("5"), placed_at=now - timedelta(days=40))
    old = OrderFactory(total_amount=Decimal("30"), placed_at=now - timedelta(days=500))
    lo, hi = min(Order.objects.values_list("pk", flat=True)), max(Order.objects.values_list("pk", flat=True))
    blo, bhi = min(Buyer.objects.values_list("pk", flat=True)), max(Buyer.objects.values_list("pk", flat=True))

    for _ in range(2):  # a redelivered run writes nothing new
        pipeline.award_orders_chunk(lo=lo, hi=hi, as_of=now)
        pipeline.lots_finalize(as_of=now)
        pipeline.tiers_chunk(lo=blo, hi=bhi, as_of=now)
        pipeline.badges_finalize(as_of=now)

    assert PointsEntry.objects.filter(kind="earn").count() == 3
    assert PointsEntry.objects.get(source_id=old.pk, kind="earn").state == EntryState.EXPIRED
    assert PointsEntry.objects.filter(kind="expire").count() == 1
    assert BuyerTier.objects.get(buyer=recent.buyer).tier.code == "silver"
    assert list(BadgeAward.objects.values_list("buyer_id", flat=True)) == [recent.buyer_id]


def test_every_loyalty_beat_entry_names_a_registered_task():
    from config.celery import app
    from core.schedule import collect_beat_schedule

    import loyalty.tasks  # noqa: F401 - registers the tasks

    entries = {name: e for name, e in collect_beat_schedule().items() if name.startswith("loyalty-")}
    # Awards, expiry, tiers and badges run in the nightly pipeline; these keep points moving in between,
    # and competitions close (and pay) within the hour after their window ends.
    assert {e["task"] for e in entries.values()} == {
        "loyalty.activate_points", "loyalty.send_expiry_reminders", "loyalty.close_competitions"
    }
    assert all(e["task"] in app.tasks for e in entries.values())
