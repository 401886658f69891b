"""Pricing a batch of actions as a set (loyalty/pricing.py) gives what the rule book gives
action by action: the same points, rule and breakdown for every action, and the same cap usage."""

import copy
from datetime import timedelta
from decimal import Decimal

import numpy as np
import pytest
from django.utils import timezone

from buyers.factories import BuyerFactory, BuyerRetentionFactory
from buyers.models import Segment
from loyalty import services
from loyalty.factories import EarningRuleFactory, TierFactory
from loyalty.models import BuyerTier, CapPeriod, EntryKind, EntryState, PointsEntry, RuleKind, SourceType
from loyalty.pricing import price_set
from loyalty.rules import Action, cap_key, expiry_for
from loyalty.selectors import buyer_effective_tiers, buyer_segment_map, cap_usage, cap_usage_since
from marketplace.factories import OrderFactory
from marketplace.models import Order, OrderStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def population(program):
    """Buyers in three tiers (and none), two segments, many delivered orders over ten weeks, and a
    rule book with every feature: priorities and shadowing, tier and segment targets, windows,
    stacking and exclusive promotions, per day, week and month caps on rules and promotions."""
    rng = np.random.default_rng(23)
    now = timezone.now().replace(microsecond=0)
    silver = TierFactory(code="silver", rank=1, threshold=Decimal(500), multiplier=Decimal("1.25"))
    gold = TierFactory(code="gold", rank=2, threshold=Decimal(2000), multiplier=Decimal("1.5"))
    vip = TierFactory(code="vip", rank=3, threshold=Decimal(9000), multiplier=Decimal("1.33"))
    EarningRuleFactory(name="Standard", points=Decimal("1"), priority=100)
    EarningRuleFactory(name="Legacy", points=Decimal("3"), priority=50)  # always shadowed
    EarningRuleFactory(name="Gold spend", points=Decimal("1.1"), priority=150, target_tier=gold,
                       cap_points=400, cap_period=CapPeriod.WEEK)
    EarningRuleFactory(name="Lapsing welcome back", points=Decimal("2.35"), priority=160, target_segment=Segment.LAPSING,
                       applies_tier_multiplier=False, cap_points=90, cap_period=CapPeriod.DAY)
    EarningRuleFactory(name="Autumn", points=Decimal("0.7"), priority=170, starts_at=now - timedelta(days=40),
                       ends_at=now - timedelta(days=20))
    EarningRuleFactory(name="Repeat", kind=RuleKind.REPEAT_PURCHASE, points=Decimal("15"), priority=100,
                       cap_points=40, cap_period=CapPeriod.MONTH)
    EarningRuleFactory(name="Double week", kind=RuleKind.PROMOTION, promotion_of=RuleKind.SPEND, multiplier=Decimal("2"),
                       priority=90, starts_at=now - timedelta(days=30), ends_at=now - timedelta(days=23))
    EarningRuleFactory(name="Stacking half", kind=RuleKind.PROMOTION, promotion_of=RuleKind.SPEND,
                       multiplier=Decimal("1.5"), priority=80, cap_points=60, cap_period=CapPeriod.WEEK)
    EarningRuleFactory(name="Exclusive triple", kind=RuleKind.PROMOTION, promotion_of=RuleKind.SPEND,
                       multiplier=Decimal("3"), priority=75, exclusive=True, starts_at=now - timedelta(days=50),
                       ends_at=now - timedelta(days=45))
    EarningRuleFactory(name="Half off VIP", kind=RuleKind.PROMOTION, promotion_of=RuleKind.SPEND,
                       multiplier=Decimal("0.5"), priority=70, target_tier=vip)
    EarningRuleFactory(name="Repeat bonus", kind=RuleKind.PROMOTION, promotion_of=RuleKind.REPEAT_PURCHASE,
                       multiplier=Decimal("1.25"), priority=60, exclusive=True, cap_points=5, cap_period=CapPeriod.DAY)
    buyers = BuyerFactory.create_batch(24)
    for i, buyer in enumerate(buyers):
        tier = [None, silver, gold, vip][i % 4]
        if tier is not None:
            BuyerTier.objects.create(buyer=buyer, tier=tier, since=now, computed_at=now)
        BuyerRetentionFactory(buyer=buyer, segment=[Segment.LAPSING, Segment.HIGH_VALUE, Segment.NEW][i % 3])
    sellers = [OrderFactory().seller for _ in range(3)]
    Order.objects.all().delete()
    for buyer in buyers:
        for _ in range(int(rng.integers(3, 12))):
            delivered = now - timedelta(days=int(rng.integers(1, 70)), hours=int(rng.integers(0, 24)))
            OrderFactory(buyer=buyer, seller=sellers[int(rng.integers(0, 3))],
                         total_amount=Decimal(int(rng.integers(100, 30000))) / 100,
                         placed_at=delivered - timedelta(days=5), delivered_at=delivered)
    return {"now": now, "buyers": buyers}


def _actions():
    orders = list(
        Order.objects.filter(status=OrderStatus.DELIVERED).order_by("pk").values(*services.ORDER_FIELDS)
    )
    actions = services._order_actions(orders)
    # Engagement-like actions of kinds with no rule, and fixed points (badge bonuses).
    actions.append(Action(source_type=SourceType.ENGAGEMENT, source_id=1, buyer_id=orders[0]["buyer_id"],
                          kind=RuleKind.STORY_SHARE, occurred_at=orders[0]["delivered_at"], reason="Shared"))
    actions.append(Action(source_type=SourceType.BADGE, source_id=2, buyer_id=orders[1]["buyer_id"], kind=None,
                          occurred_at=orders[1]["delivered_at"], reason="Badge", fixed_points=25))
    return sorted(actions, key=lambda a: (a.occurred_at, a.source_id))


def test_set_pricing_equals_the_rule_book_action_by_action(population):
    book = services.rules_load()
    actions = _actions()
    buyer_ids = {a.buyer_id for a in actions}
    tiers = buyer_effective_tiers(buyer_ids=buyer_ids)
    segments = buyer_segment_map(buyer_ids=buyer_ids)
    # Some cap usage already on the books, as from an earlier night.
    usage = {}
    for action in actions[:40]:
        book.price(action, tier=tiers.get(action.buyer_id), segment=segments.get(action.buyer_id, ""), usage=usage)
    one_by_one_usage, set_usage = copy.deepcopy(usage), copy.deepcopy(usage)

    expected = [
        book.price(a, tier=tiers.get(a.buyer_id), segment=segments.get(a.buyer_id, ""), usage=one_by_one_usage)
        for a in actions
    ]
    got = price_set(book, actions, tiers=tiers, segments=segments, usage=set_usage)

    assert [(p.points, p.rule, p.breakdown) for p in got] == [(p.points, p.rule, p.breakdown) for p in expected]
    assert set_usage == one_by_one_usage
    # The population exercises what it is meant to.
    breakdowns = [p.breakdown for p in expected]
    for key in ("capped_from", "promotion_capped_from", "skipped_exclusive_promotions", "shadowed_rules", "tier_multiplier", "no_rule", "fixed"):
        assert any(key in b for b in breakdowns), key
    assert len({p.rule.pk for p in expected if p.rule}) >= 5


def _priced_one_by_one(actions):
    """(action, price) in time order, the rule book pricing each action on its own."""
    book = services.rules_load()
    buyer_ids = {a.buyer_id for a in actions}
    tiers = buyer_effective_tiers(buyer_ids=buyer_ids)
    segments = buyer_segment_map(buyer_ids=buyer_ids)
    usage = cap_usage(book, buyer_ids=buyer_ids, since=cap_usage_since(min(a.occurred_at for a in actions)))
    for a in actions:
        yield a, book.price(a, tier=tiers.get(a.buyer_id), segment=segments.get(a.buyer_id, ""), usage=usage)


def test_the_nightly_award_writes_what_the_rule_book_prices_and_never_twice(population):
    now = population["now"]
    actions = [a for a in _actions() if a.source_type in (SourceType.ORDER, SourceType.REPEAT_PURCHASE)]
    expected = {(a.source_type, a.source_id): (p.points, p.rule.pk) for a, p in _priced_one_by_one(actions) if p.points > 0}

    created, last = services.points_award_delivered_orders(after_id=0, up_to_id=10**9, now=now)
    again, _ = services.points_award_delivered_orders(after_id=0, up_to_id=10**9, now=now)

    written = {
        (e.source_type, e.source_id): (e.amount, e.rule_id)
        for e in PointsEntry.objects.filter(kind=EntryKind.EARN)
    }
    assert created == len(expected) and again == 0
    assert written == expected
    assert PointsEntry.objects.filter(kind=EntryKind.EARN).count() == len(expected)
    assert not PointsEntry.objects.filter(amount__lt=0).exists()


def _expected_ledger(actions, *, now, program):
    """The earn rows the nightly award must write, column for column: the rule book's price for
    each action in time order, and the lot's dates and state from the program."""
    rows = {}
    for a, p in _priced_one_by_one(actions):
        if p.points <= 0:
            continue
        available_at = a.occurred_at + timedelta(days=program.pending_days)
        rows[(a.source_type, a.source_id)] = {
            "buyer_id": a.buyer_id, "amount": p.points, "remaining": p.points, "kind": EntryKind.EARN,
            "state": EntryState.PENDING if available_at > now else EntryState.ACTIVE,
            "rule_id": p.rule.pk, "reason": a.reason, "comment": "", "breakdown": p.breakdown,
            "seller_id": a.seller_id, "category": a.category, "occurred_at": a.occurred_at,
            "available_at": available_at,
            "expires_at": expiry_for(earned_at=available_at, policy=program.expiry_policy, days=program.expiry_days),
            "reminded_at": None, "created_by_id": None, "created_at": now,
        }
    return rows


def _ledger():
    fields = [f.attname for f in PointsEntry._meta.concrete_fields if not f.primary_key]
    return {
        (row["source_type"], row["source_id"]): {k: v for k, v in row.items() if k not in ("source_type", "source_id")}
        for row in PointsEntry.objects.filter(kind=EntryKind.EARN).values(*fields)
    }


@pytest.mark.parametrize("copy_min_rows", [0, None], ids=["copy", "default"])
def test_the_nightly_award_writes_every_column_the_rule_book_implies(population, program, monkeypatch, copy_min_rows):
    """Ledger rows pinned column by column (breakdown included) for tiers, segments, windows,
    stacking and exclusive promotions and capped rules and promotions; on PostgreSQL with
    ``copy`` the rows go through binary COPY, as at nightly sizes. A rerun writes nothing."""
    if copy_min_rows is not None:
        monkeypatch.setattr("loyalty.bulk.COPY_MIN_ROWS", copy_min_rows)
    now = population["now"]
    actions = [a for a in _actions() if a.source_type in (SourceType.ORDER, SourceType.REPEAT_PURCHASE)]
    expected = _expected_ledger(actions, now=now, program=program)

    created, _ = services.points_award_delivered_orders(after_id=0, up_to_id=10**9, now=now)
    again, _ = services.points_award_delivered_orders(after_id=0, up_to_id=10**9, now=now)

    assert created == len(expected) and again == 0
    assert _ledger() == expected
    states = {row["state"] for row in expected.values()}
    assert states == {EntryState.PENDING, EntryState.ACTIVE}
    breakdowns = [row["breakdown"] for row in expected.values()]
    for key in ("capped_from", "promotion_capped_from", "skipped_exclusive_promotions", "shadowed_rules", "tier_multiplier"):
        assert any(key in b for b in breakdowns), key


def test_the_nightly_award_in_chunks_respects_caps_across_chunks(population, program):
    """Chunk after chunk, what earlier chunks wrote counts against the caps (read back from the
    ledger, promotion extras from the stored breakdowns); nothing is negative or written twice."""
    now = population["now"]
    created, after = 0, 0
    while True:
        n, last = services.points_award_delivered_orders(after_id=after, limit=17, now=now)
        if last is None:
            break
        created, after = created + n, last
    lots = list(PointsEntry.objects.filter(kind=EntryKind.EARN).values("buyer_id", "rule_id", "occurred_at", "amount", "breakdown"))
    assert created == len(lots) > 0
    assert all(lot["amount"] > 0 for lot in lots)
    assert PointsEntry.objects.values("source_type", "source_id").distinct().count() == len(lots)
    book = services.rules_load()
    for rule in book.capped_rules:
        used = {}
        for lot in lots:
            if rule.kind == RuleKind.PROMOTION:
                amount = lot["breakdown"].get("promotion_points", {}).get(str(rule.pk), 0)
            else:
                amount = lot["amount"] if lot["rule_id"] == rule.pk else 0
            key = cap_key(rule, buyer_id=lot["buyer_id"], at=lot["occurred_at"])
            used[key] = used.get(key, 0) + amount
        assert max(used.values(), default=0) <= rule.cap_points, rule.name
    assert services.points_award_delivered_orders(after_id=0, up_to_id=10**9, now=now)[0] == 0
