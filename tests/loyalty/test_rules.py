from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.utils import timezone

from buyers.factories import BuyerFactory
from loyalty import services
from loyalty.factories import EarningRuleFactory, TierFactory
from loyalty.models import BuyerTier, PointsEntry, RuleKind
from loyalty.selectors import rule_precedence
from loyalty.simulation import rule_simulate
from marketplace.factories import EngagementEventFactory, OrderFactory
from marketplace.models import EngagementKind

pytestmark = pytest.mark.django_db


def _earned(order):
    services.order_points_sync(order_id=order.pk)
    return PointsEntry.objects.get(source_type="order", source_id=order.pk)


def _place(buyer, tier):
    now = timezone.now()
    BuyerTier.objects.create(buyer=buyer, tier=tier, since=now, computed_at=now)


def test_highest_priority_base_rule_wins_regardless_of_edit_order(program):
    high = EarningRuleFactory(name="Standard", points=Decimal("2"), priority=200)
    low = EarningRuleFactory(name="Legacy", points=Decimal("5"), priority=100)
    low.name = "Legacy (edited last)"
    low.save()

    lot = _earned(OrderFactory(total_amount=Decimal("10")))

    assert lot.amount == 20
    assert lot.rule_id == high.pk
    assert lot.breakdown["shadowed_rules"] == [low.pk]


def test_tier_multiplier_and_stacking_promotions_add_their_extras(program):
    gold = TierFactory(code="gold", multiplier=Decimal("1.5"))
    EarningRuleFactory(points=Decimal("1"))
    EarningRuleFactory(kind=RuleKind.PROMOTION, promotion_of=RuleKind.SPEND, multiplier=Decimal("2"), priority=50)
    EarningRuleFactory(kind=RuleKind.PROMOTION, promotion_of=RuleKind.SPEND, multiplier=Decimal("1.5"), priority=40)
    order = OrderFactory(total_amount=Decimal("100"))
    _place(order.buyer, gold)

    lot = _earned(order)

    # 100 x 1.5 (gold) x (1 + 1 + 0.5): the extras add, they do not multiply.
    assert lot.amount == 375
    assert lot.breakdown["promotion_multiplier"] == "2.50"


def test_an_exclusive_promotion_applies_alone_only_when_it_comes_first(program):
    EarningRuleFactory(points=Decimal("1"))
    exclusive = EarningRuleFactory(kind=RuleKind.PROMOTION, promotion_of=RuleKind.SPEND, multiplier=Decimal("3"),
                                   exclusive=True, priority=90)
    stacking = EarningRuleFactory(kind=RuleKind.PROMOTION, promotion_of=RuleKind.SPEND, multiplier=Decimal("2"), priority=10)

    assert _earned(OrderFactory(total_amount=Decimal("10"))).amount == 30

    stacking.priority = 95
    stacking.save()
    lot = _earned(OrderFactory(total_amount=Decimal("10")))
    assert lot.amount == 20
    assert lot.breakdown["skipped_exclusive_promotions"] == [exclusive.pk]


def test_promotion_targets_a_tier_and_a_date_window(program):
    silver = TierFactory(code="silver")
    now = timezone.now()
    EarningRuleFactory(points=Decimal("1"))
    EarningRuleFactory(kind=RuleKind.PROMOTION, promotion_of=RuleKind.SPEND, multiplier=Decimal("2"), target_tier=silver,
                       starts_at=now - timedelta(days=40), ends_at=now - timedelta(days=20))
    inside = OrderFactory(total_amount=Decimal("10"), placed_at=now - timedelta(days=35))  # delivered 30 days ago
    outside = OrderFactory(buyer=inside.buyer, total_amount=Decimal("10"), placed_at=now - timedelta(days=15))
    other_member = OrderFactory(total_amount=Decimal("10"), placed_at=now - timedelta(days=35))
    _place(inside.buyer, silver)

    assert [_earned(o).amount for o in (inside, outside, other_member)] == [20, 10, 10]


def test_segment_promotion_uses_the_retention_segments(program):
    EarningRuleFactory(points=Decimal("1"))
    EarningRuleFactory(kind=RuleKind.PROMOTION, promotion_of=RuleKind.SPEND, multiplier=Decimal("2"), target_segment="high_value")
    vip, other = OrderFactory(total_amount=Decimal("10")), OrderFactory(total_amount=Decimal("10"))

    with mock.patch("loyalty.services.buyer_segment_map", return_value={vip.buyer_id: "high_value", other.buyer_id: "new"}):
        assert (_earned(vip).amount, _earned(other).amount) == (20, 10)


def test_rule_cap_limits_points_per_member_per_day(program):
    EarningRuleFactory(kind=RuleKind.STORY_SHARE, points=Decimal("10"), cap_points=25, cap_period="day")
    buyer = BuyerFactory()
    at = timezone.now().replace(hour=12)
    events = [EngagementEventFactory(buyer=buyer, kind=EngagementKind.STORY_SHARE, occurred_at=at - timedelta(minutes=i)) for i in range(4)]
    next_day = EngagementEventFactory(buyer=buyer, kind=EngagementKind.STORY_SHARE, occurred_at=at - timedelta(days=1))

    for event in [*events, next_day]:
        services.engagement_points(event_id=event.pk)

    same_day = PointsEntry.objects.filter(source_id__in=[e.pk for e in events]).values_list("amount", flat=True)
    assert sorted(same_day) == [5, 10, 10]
    assert PointsEntry.objects.get(source_id=next_day.pk).amount == 10


def test_precedence_is_listed_for_admins(program):
    first = EarningRuleFactory(name="Main", priority=200)
    second = EarningRuleFactory(name="Old", priority=100)
    promo = EarningRuleFactory(name="Double", kind=RuleKind.PROMOTION, promotion_of=RuleKind.SPEND, multiplier=Decimal("2"))

    steps = rule_precedence(kind=RuleKind.SPEND)

    assert [(s["rule_id"], s["role"]) for s in steps] == [
        (first.pk, "base rule"),
        (second.pk, "shadowed by a higher-priority rule"),
        (promo.pk, "stacks: adds +1.00x"),
    ]


def test_simulation_reports_points_and_members_for_last_month_without_writing(program):
    now = timezone.now()
    EarningRuleFactory(points=Decimal("1"))
    a = OrderFactory(total_amount=Decimal("10"), placed_at=now - timedelta(days=15))
    OrderFactory(buyer=a.buyer, total_amount=Decimal("30"), placed_at=now - timedelta(days=10))
    OrderFactory(total_amount=Decimal("20"), placed_at=now - timedelta(days=12))
    OrderFactory(total_amount=Decimal("99"), placed_at=now - timedelta(days=90))  # outside the month
    double = EarningRuleFactory.build(kind=RuleKind.PROMOTION, promotion_of=RuleKind.SPEND, multiplier=Decimal("2"))

    result = rule_simulate(rule=double, start=now - timedelta(days=30), end=now)

    assert (result["points"], result["members"], result["actions"]) == (60, 2, 3)
    assert "would have awarded 60 points to 2 members" in result["summary"]
    assert PointsEntry.objects.count() == 0


def test_segment_promotion_reads_segments_from_the_retention_profiles(program):
    from buyers.factories import BuyerRetentionFactory

    EarningRuleFactory(points=Decimal("1"))
    EarningRuleFactory(kind=RuleKind.PROMOTION, promotion_of=RuleKind.SPEND, multiplier=Decimal("2"), target_segment="high_value")
    vip, lapsing = OrderFactory(total_amount=Decimal("10")), OrderFactory(total_amount=Decimal("10"))
    BuyerRetentionFactory(buyer=vip.buyer, segment="high_value")
    BuyerRetentionFactory(buyer=lapsing.buyer, segment="lapsing")

    assert (_earned(vip).amount, _earned(lapsing).amount) == (20, 10)


def test_a_promotion_cap_limits_its_extra_points_per_member_and_period(program):
    EarningRuleFactory(points=Decimal("1"))
    double = EarningRuleFactory(kind=RuleKind.PROMOTION, promotion_of=RuleKind.SPEND, multiplier=Decimal("2"),
                                cap_points=50, cap_period="month")
    buyer = BuyerFactory()
    # Delivered on the 8th, 9th and 10th of last month (orders arrive five days after they are
    # placed), so all three fall in one cap period whatever day the suite runs.
    last_month = (timezone.now().replace(day=1, hour=12, minute=0) - timedelta(days=1)).replace(day=1)
    orders = [OrderFactory(buyer=buyer, total_amount=Decimal("40"), placed_at=last_month + timedelta(days=day)) for day in (2, 3, 4)]

    lots = [_earned(order) for order in orders]

    # The base rule pays 40 each time; the promotion's extra stops at 50 for the month: 40, then 10, then 0.
    assert [lot.amount for lot in lots] == [80, 50, 40]
    assert [lot.breakdown["promotion_points"] for lot in lots] == [{str(double.pk): 40}, {str(double.pk): 10}, {str(double.pk): 0}]
    assert lots[1].breakdown["promotion_capped_from"] == {str(double.pk): 40}
    assert rule_precedence(kind=RuleKind.SPEND)[-1]["role"] == "stacks: adds +1.00x; extra capped at 50 per member per month"


def test_a_capped_promotion_leaves_other_members_and_the_base_rule_alone(program):
    EarningRuleFactory(points=Decimal("1"))
    EarningRuleFactory(kind=RuleKind.PROMOTION, promotion_of=RuleKind.SPEND, multiplier=Decimal("3"), cap_points=30, cap_period="day")
    first, second = OrderFactory(total_amount=Decimal("100")), OrderFactory(total_amount=Decimal("100"))

    assert (_earned(first).amount, _earned(second).amount) == (130, 130)


def test_simulation_counts_cap_usage_earned_before_the_window(program):
    now = timezone.now().replace(hour=12)
    EarningRuleFactory(kind=RuleKind.STORY_SHARE, points=Decimal("10"), cap_points=25, cap_period="day")
    buyer = BuyerFactory()
    before = EngagementEventFactory(buyer=buyer, kind=EngagementKind.STORY_SHARE, occurred_at=now - timedelta(hours=3))
    services.engagement_points(event_id=before.pk)
    EngagementEventFactory(buyer=buyer, kind=EngagementKind.STORY_SHARE, occurred_at=now - timedelta(minutes=30))
    double = EarningRuleFactory.build(kind=RuleKind.PROMOTION, promotion_of=RuleKind.STORY_SHARE, multiplier=Decimal("2"))

    result = rule_simulate(rule=double, start=now - timedelta(hours=1), end=now)

    # 10 of the day's 25 were earned before the window, so 15 are left: 10 without the
    # promotion, 15 (not 20) with it. Starting the cap from zero would have claimed 10.
    assert result["actions"] == 1
    assert result["points"] == 5
