"""Pricing an earning action under the configured rules. Pure functions, no queries.

Precedence, in this order (shown in the admin and by ``rule_precedence``):

1. **Base rule.** Of the active rules of the action's kind whose window, tier and segment
   targets match, the one with the highest ``priority`` wins (ties: lowest id). The others
   are listed as shadowed. Only one base rule ever applies, so editing a rule never
   silently changes which one applies: priority does.
2. **Tier multiplier.** If the base rule says so, the member's tier multiplier applies.
3. **Promotions** for that kind, walked in the same priority order. Stacking promotions
   add their extra (2x + 1.5x = 2.5x, never 3x). An exclusive promotion applies only if
   it is the first match, and then stops the walk; met later, it is skipped.
   A promotion with a cap of its own (per member, per day/week/month) adds at most what is
   left of that cap; its usage counts the extra points it added.
4. **Cap.** The base rule's cap (per member, per day/week/month) clips the result.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from core.formatting import CURRENCY_SYMBOL
from loyalty.models import CapPeriod, EarningRule, RuleKind, Tier


@dataclass
class Action:
    source_type: str
    source_id: int
    buyer_id: int
    kind: str | None  # a RuleKind, or None for fixed points (badge bonus)
    occurred_at: datetime
    reason: str
    base: Decimal = Decimal(1)  # order total for spend, 1 for one action
    fixed_points: int = 0
    seller_id: int | None = None
    category: str = ""
    pending: bool = False


@dataclass
class Priced:
    points: int
    rule: EarningRule | None
    breakdown: dict = field(default_factory=dict)


def _amount(value) -> str:
    # 30.00 reads as 30 and 0.50 as 0.5: the field's two decimals are storage, not precision.
    return f"{Decimal(str(value)).normalize():f}"


def rule_points_display(rule: EarningRule) -> str:
    """What a rule earns, as ``RuleBook.price`` reads it: a spend rule's points are per currency unit of
    the order ("30 points per $1"), any other rule's per action ("30 points"); a promotion multiplies
    the points of the base rule that applies, its own points are not used."""
    if rule.kind == RuleKind.PROMOTION:
        return f"×{_amount(rule.multiplier)} the base rule's points"
    points = _amount(rule.points)
    noun = "point" if Decimal(points) == 1 else "points"
    return f"{points} {noun} per {CURRENCY_SYMBOL}1" if rule.kind == RuleKind.SPEND else f"{points} {noun}"


def rule_applies_to_member(rule: EarningRule, *, tier: Tier | None, segment: str) -> bool:
    """The parts of ``rule_in_force`` that do not depend on when the action happened."""
    if not rule.is_active:
        return False
    if rule.target_tier_id and (tier is None or tier.pk != rule.target_tier_id):
        return False
    if rule.target_segment and segment != rule.target_segment:
        return False
    return True


def rule_in_force(rule: EarningRule, *, at: datetime, tier: Tier | None, segment: str) -> bool:
    if rule.starts_at and at < rule.starts_at:
        return False
    if rule.ends_at and at >= rule.ends_at:
        return False
    return rule_applies_to_member(rule, tier=tier, segment=segment)


def precedence_key(rule: EarningRule):
    return (-rule.priority, rule.pk or 10**12)


def cap_period_key(period: str, at: datetime):
    if period == CapPeriod.DAY:
        return at.date().isoformat()
    if period == CapPeriod.WEEK:
        year, week, _ = at.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{at.year}-{at.month:02d}"


def cap_period_start(period: str, at: datetime) -> datetime:
    start = at.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == CapPeriod.WEEK:
        start -= timedelta(days=at.weekday())
    elif period == CapPeriod.MONTH:
        start = start.replace(day=1)
    return start


class RuleBook:
    """The rules loaded once per batch, split into base rules and promotions by kind."""

    def __init__(self, rules: list[EarningRule]):
        self.base: dict[str, list[EarningRule]] = {}
        self.promotions: dict[str, list[EarningRule]] = {}
        for rule in sorted(rules, key=precedence_key):
            if rule.kind == RuleKind.PROMOTION:
                self.promotions.setdefault(rule.promotion_of, []).append(rule)
            else:
                self.base.setdefault(rule.kind, []).append(rule)

    @property
    def capped_rules(self) -> list[EarningRule]:
        """Base rules and promotions with a cap per member and period."""
        rules = [*self.base.values(), *self.promotions.values()]
        return [r for group in rules for r in group if r.cap_points is not None]

    def price(self, action: Action, *, tier: Tier | None, segment: str, usage: dict) -> Priced:
        """Points for one action. ``usage`` maps (buyer, rule, period) to points already earned; updated."""
        if action.kind is None:
            return Priced(action.fixed_points, None, {"fixed": action.fixed_points})
        at = action.occurred_at
        matching = [r for r in self.base.get(action.kind, []) if rule_in_force(r, at=at, tier=tier, segment=segment)]
        if not matching:
            return Priced(0, None, {"no_rule": action.kind})
        rule, shadowed = matching[0], matching[1:]
        raw = Decimal(rule.points) * (action.base if action.kind == RuleKind.SPEND else Decimal(1))
        breakdown: dict = {"rule": rule.pk, "rule_name": rule.name, "base_points": str(raw)}
        if shadowed:
            breakdown["shadowed_rules"] = [r.pk for r in shadowed]
        if rule.applies_tier_multiplier and tier is not None and tier.multiplier != 1:
            raw *= Decimal(tier.multiplier)
            breakdown["tier"] = tier.code
            breakdown["tier_multiplier"] = str(tier.multiplier)
        raw += self._promotions(action, raw=raw, tier=tier, segment=segment, usage=usage, breakdown=breakdown)
        points = max(int(math.floor(raw)), 0)
        if rule.cap_points is not None and points > 0:
            granted = _cap_take(rule, buyer_id=action.buyer_id, at=at, wanted=points, usage=usage)
            if granted < points:
                breakdown["capped_from"] = points
                breakdown["cap"] = f"{rule.cap_points}/{rule.cap_period}"
            points = granted
        return Priced(points, rule, breakdown)

    def _promotions(self, action: Action, *, raw: Decimal, tier, segment: str, usage: dict, breakdown: dict) -> Decimal:
        """The extra points the matching promotions add on top of ``raw``; explained in ``breakdown``."""
        extras, multiplier = Decimal(0), Decimal(1)
        applied, skipped = [], []
        added: dict[str, int] = {}
        capped: dict[str, int] = {}
        for promo in self.promotions.get(action.kind, []):
            if not rule_in_force(promo, at=action.occurred_at, tier=tier, segment=segment):
                continue
            if promo.exclusive and applied:
                skipped.append(promo.pk)
                continue
            extra = raw * (Decimal(promo.multiplier) - 1)
            if promo.cap_points is not None and extra > 0:
                wanted = int(math.floor(extra))
                granted = _cap_take(promo, buyer_id=action.buyer_id, at=action.occurred_at, wanted=wanted, usage=usage)
                if granted < wanted:
                    capped[str(promo.pk)] = wanted
                    extra = Decimal(granted)
            extras += extra
            multiplier += Decimal(promo.multiplier) - 1
            applied.append(promo.pk)
            added[str(promo.pk)] = int(math.floor(extra))
            if promo.exclusive:
                break
        if applied:
            breakdown["promotions"] = applied
            breakdown["promotion_multiplier"] = str(multiplier)
            # Per-promotion extras: the audit trail, and what promotion caps count.
            breakdown["promotion_points"] = added
        if capped:
            breakdown["promotion_capped_from"] = capped
        if skipped:
            breakdown["skipped_exclusive_promotions"] = skipped
        return extras


def cap_key(rule: EarningRule, *, buyer_id: int, at: datetime) -> tuple:
    """Where ``usage`` counts what a capped rule credited a member in the cap period holding ``at``."""
    return (buyer_id, rule.pk, cap_period_key(rule.cap_period, at))


def _cap_take(rule: EarningRule, *, buyer_id: int, at: datetime, wanted: int, usage: dict) -> int:
    """Grant up to ``wanted`` points of what is left of the rule's cap in this period, and record it."""
    key = cap_key(rule, buyer_id=buyer_id, at=at)
    used = usage.get(key, 0)
    granted = min(wanted, max(rule.cap_points - used, 0))
    usage[key] = used + granted
    return granted


def expiry_for(*, earned_at: datetime, policy: str, days: int) -> datetime:
    if policy == "end_of_year":
        return datetime(earned_at.year + 1, 1, 1, tzinfo=earned_at.tzinfo)
    return earned_at + timedelta(days=days)


def expiry_for_many(*, earned_at: list[datetime], policy: str, days: int) -> list[datetime]:
    """``expiry_for`` of each of ``earned_at``."""
    if policy == "end_of_year":
        return [expiry_for(earned_at=at, policy=policy, days=days) for at in earned_at]
    after = timedelta(days=days)
    return [at + after for at in earned_at]


def month_bounds(month: date) -> tuple[datetime, datetime]:
    from django.utils import timezone

    start = timezone.make_aware(datetime(month.year, month.month, 1))
    nxt = timezone.make_aware(datetime(month.year + (month.month == 12), month.month % 12 + 1, 1))
    return start, nxt
