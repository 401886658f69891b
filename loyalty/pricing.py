"""Pricing a whole batch of earning actions at once, with the rule book's precedence (loyalty/rules.py).

``RuleBook.price`` walks the rules for one action at a time: which base rule and promotions are
in force, Decimal arithmetic, then the caps. For a nightly award of millions of actions that walk
is repeated for every action although almost all of them share the same answer. Here:

1. Actions are grouped by what decides their rules: kind, tier and segment, then the pattern of
   rules whose time window holds the action (one comparison per rule over the whole group). An
   action's base rule, shadowed rules, applied and skipped promotions follow from its pattern.
2. The arithmetic runs on integer arrays in hundredths (points, amounts and multipliers have two
   decimal places), so ``floor`` is exact, as with Decimal; a value with more decimals, or too
   large for int64, sends its group to ``RuleBook.price`` instead.
3. Caps: a capped rule grants ``min(wanted, what is left)`` action after action, so what a member
   has used after the i-th action in a cap period is ``max(used before, min(used before + the
   running sum of wanted, cap))``: a running sum per (member, rule, period), in the actions'
   order. Promotion caps come first (their extras feed the base points), then base rule caps.

The result is the same ``Priced`` (points, rule, breakdown) ``RuleBook.price`` gives for each
action in turn, and ``usage`` is updated the same way (tests/loyalty/test_set_pricing.py).
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd

from loyalty.models import RuleKind
from loyalty.rules import Action, Priced, RuleBook, cap_key, rule_applies_to_member

HUNDRED = 100
# raw in millionths (points x amount x tier multiplier, each in hundredths); extras in 1e-8.
RAW_SCALE = 10**6
EXTRA_SCALE = 10**8
# Beyond this a raw value times a promotion multiplier could overflow int64.
# (Multipliers reach 999.99, i.e. 99,999 hundredths.)
RAW_LIMIT = 10**13


def _hundredths(value) -> int | None:
    """``value`` (a Decimal or int) in hundredths, or None if it has more than two decimals."""
    scaled = Decimal(value).scaleb(2)
    integral = scaled.to_integral_value()
    return int(integral) if scaled == integral else None


def _in_window(rule, stamps: np.ndarray) -> np.ndarray:
    """Which of ``stamps`` (epoch microseconds) fall in the rule's [starts_at, ends_at) window."""
    mask = np.ones(len(stamps), dtype=bool)
    if rule.starts_at:
        mask &= stamps >= _micros(rule.starts_at)
    if rule.ends_at:
        mask &= stamps < _micros(rule.ends_at)
    return mask


def _micros(at) -> int:
    return round(at.timestamp() * 1_000_000)


class _Batch:
    """Columns of the batch being priced, one slot per action, filled group by group."""

    def __init__(self, n: int):
        self.raw = np.zeros(n, dtype=np.int64)  # RAW_SCALE
        self.rule: list = [None] * n
        self.template: list = [None] * n  # per-pattern part of the breakdown
        self.promotions: list = [()] * n  # promotions applied, in walk order
        self.extras: dict[int, np.ndarray] = {}  # promotion pk -> extra per action (EXTRA_SCALE)
        self.base_points: list = [None] * n
        self.fixed = np.zeros(n, dtype=bool)
        self.no_rule: list = [None] * n
        self.capped: dict[int, dict] = {}  # action -> promotion pk -> extra wanted before its cap


def price_set(book: RuleBook, actions: list[Action], *, tiers: dict, segments: dict, usage: dict) -> list[Priced]:
    """Prices for ``actions``, as ``book.price`` would give them one by one in this order."""
    n = len(actions)
    batch = _Batch(n)
    fallback: list[int] = []
    groups: dict[tuple, list[int]] = {}
    for i, action in enumerate(actions):
        if action.kind is None:
            batch.fixed[i] = True
            continue
        tier = tiers.get(action.buyer_id)
        groups.setdefault((action.kind, tier.pk if tier else None, segments.get(action.buyer_id, "")), []).append(i)
    for (kind, _, segment), members in groups.items():
        tier = tiers.get(actions[members[0]].buyer_id)
        if not _price_group(book, actions, np.asarray(members), kind=kind, tier=tier, segment=segment, batch=batch):
            fallback.extend(members)
    priced: list[Priced | None] = [None] * n
    fallback_set = set(fallback)
    _caps(book, actions, batch, usage, skip=fallback_set, promotions=True)
    points = _points(batch)
    granted = _caps(book, actions, batch, usage, skip=fallback_set, promotions=False, points=points)
    for i, action in enumerate(actions):
        if batch.fixed[i]:
            priced[i] = Priced(action.fixed_points, None, {"fixed": action.fixed_points})
        elif i in fallback_set:
            # Priced after the others is still priced in order: a cap counts per member and rule,
            # and a member's actions of one kind are all in the same group.
            priced[i] = book.price(action, tier=tiers.get(action.buyer_id), segment=segments.get(action.buyer_id, ""), usage=usage)
        elif batch.no_rule[i] is not None:
            priced[i] = Priced(0, None, {"no_rule": batch.no_rule[i]})
        else:
            priced[i] = _explain(batch, i, int(points[i]), granted.get(i))
    return priced


def _price_group(book: RuleBook, actions, members: np.ndarray, *, kind, tier, segment, batch: _Batch) -> bool:
    """Fill the batch's columns for one (kind, tier, segment) group; False to price it one by one."""
    base_rules = [r for r in book.base.get(kind, []) if rule_applies_to_member(r, tier=tier, segment=segment)]
    promotions = [r for r in book.promotions.get(kind, []) if rule_applies_to_member(r, tier=tier, segment=segment)]
    rules = base_rules + promotions
    if any(_hundredths(r.points) is None or _hundredths(r.multiplier) is None for r in rules):
        return False
    if tier is not None and _hundredths(tier.multiplier) is None:
        return False
    if any(r.starts_at or r.ends_at for r in rules):
        stamps = np.fromiter((_micros(actions[i].occurred_at) for i in members), dtype=np.int64, count=len(members))
        pattern = np.zeros(len(members), dtype=np.int64)
        for bit, rule in enumerate(rules):
            pattern |= _in_window(rule, stamps).astype(np.int64) << bit
    else:
        pattern = np.full(len(members), (1 << len(rules)) - 1, dtype=np.int64)
    if kind == RuleKind.SPEND:
        amounts = [_hundredths(actions[i].base) for i in members]
        if any(a is None for a in amounts):
            return False
        amount = np.asarray(amounts, dtype=np.int64)
    else:
        amount = np.full(len(members), HUNDRED, dtype=np.int64)
    for code in np.unique(pattern):
        rows = members[pattern == code]
        in_force = [rule for bit, rule in enumerate(rules) if code >> bit & 1]
        matching = [r for r in in_force if r in base_rules]
        if not matching:
            for i in rows:
                batch.no_rule[i] = kind
            continue
        rule, shadowed = matching[0], matching[1:]
        template: dict = {"rule": rule.pk, "rule_name": rule.name}
        if shadowed:
            template["shadowed_rules"] = [r.pk for r in shadowed]
        tier_factor = HUNDRED
        if rule.applies_tier_multiplier and tier is not None and tier.multiplier != 1:
            tier_factor = _hundredths(tier.multiplier)
            template["tier"] = tier.code
            template["tier_multiplier"] = str(tier.multiplier)
        group_amount = amount[pattern == code]
        base = _hundredths(rule.points) * group_amount  # points x amount, in 1e-4
        raw = base * tier_factor
        if len(raw) and int(raw.max()) > RAW_LIMIT:
            return False
        applied, skipped = [], []
        for promo in (r for r in in_force if r in promotions):
            if promo.exclusive and applied:
                skipped.append(promo)
                continue
            applied.append(promo)
            if promo.exclusive:
                break
        template["_applied"] = applied
        template["_skipped"] = [p.pk for p in skipped]
        template["_multiplier"] = str(sum((Decimal(p.multiplier) - 1 for p in applied), Decimal(1)))
        points_decimal = Decimal(rule.points)
        scale_base = kind == RuleKind.SPEND
        for i, raw_i, base_i in zip(rows, raw, base):
            batch.raw[i] = raw_i
            batch.rule[i] = rule
            batch.template[i] = template
            batch.promotions[i] = applied
            # The breakdown shows Decimal's own product, with its exponent (e.g. "40.0000").
            batch.base_points[i] = str(points_decimal * actions[i].base) if scale_base else str(points_decimal * Decimal(1))
        for promo in applied:
            extras = batch.extras.setdefault(promo.pk, np.zeros(len(batch.raw), dtype=np.int64))
            extras[rows] = raw * (_hundredths(promo.multiplier) - HUNDRED)
    return True


def _period_keys(rule, actions, rows) -> list:
    return [cap_key(rule, buyer_id=actions[i].buyer_id, at=actions[i].occurred_at) for i in rows]


def _take(rule, keys: list, wanted: np.ndarray, usage: dict) -> np.ndarray:
    """What a capped rule grants each of ``wanted`` in order, as repeated ``_cap_take`` would; updates ``usage``."""
    frame = pd.DataFrame({"key": pd.Series(keys, dtype=object), "wanted": wanted})
    codes, uniques = pd.factorize(frame["key"])
    before = np.array([usage.get(key, 0) for key in uniques], dtype=np.int64)[codes]
    running = frame.groupby(codes)["wanted"].cumsum().to_numpy(dtype=np.int64)
    used = np.maximum(before, np.minimum(before + running, rule.cap_points))
    # Used before each action: the previous action's total in the same key, or the stored usage.
    previous = pd.Series(used).groupby(codes).shift(1).fillna(pd.Series(before)).to_numpy(dtype=np.int64)
    for key, total in zip(uniques, pd.Series(used).groupby(codes).last().to_numpy()):
        usage[key] = int(total)
    return used - previous


def _caps(book, actions, batch: _Batch, usage: dict, *, skip: set, promotions: bool, points=None) -> dict:
    """Apply promotion caps (to the extras) or base rule caps (returned: action -> granted)."""
    granted: dict[int, tuple[int, int]] = {}
    for rule in book.capped_rules:
        if (rule.kind == RuleKind.PROMOTION) != promotions:
            continue
        if promotions:
            extras = batch.extras.get(rule.pk)
            if extras is None:
                continue
            rows = np.array([i for i in np.flatnonzero(extras > 0) if i not in skip and rule in batch.promotions[i]], dtype=np.int64)
            if not len(rows):
                continue
            wanted = extras[rows] // EXTRA_SCALE
            got = _take(rule, _period_keys(rule, actions, rows), wanted, usage)
            short = got < wanted
            extras[rows[short]] = got[short] * EXTRA_SCALE
            for i, w in zip(rows[short], wanted[short]):
                batch.capped.setdefault(int(i), {})[str(rule.pk)] = int(w)
        else:
            rows = np.array([i for i, r in enumerate(batch.rule) if r is rule and points[i] > 0 and i not in skip], dtype=np.int64)
            if not len(rows):
                continue
            got = _take(rule, _period_keys(rule, actions, rows), points[rows], usage)
            for i, g in zip(rows, got):
                granted[int(i)] = (int(points[i]), int(g))
    return granted


def _points(batch: _Batch) -> np.ndarray:
    total = batch.raw * (EXTRA_SCALE // RAW_SCALE)
    for extras in batch.extras.values():
        total = total + extras
    return np.maximum(total // EXTRA_SCALE, 0)


def _explain(batch: _Batch, i: int, points: int, cap: tuple[int, int] | None) -> Priced:
    """The breakdown ``RuleBook.price`` writes, key for key."""
    template = batch.template[i]
    rule = batch.rule[i]
    breakdown = {"rule": template["rule"], "rule_name": template["rule_name"], "base_points": batch.base_points[i]}
    for key in ("shadowed_rules", "tier", "tier_multiplier"):
        if key in template:
            breakdown[key] = template[key]
    applied = template["_applied"]
    if applied:
        breakdown["promotions"] = [p.pk for p in applied]
        breakdown["promotion_multiplier"] = template["_multiplier"]
        breakdown["promotion_points"] = {str(p.pk): int(batch.extras[p.pk][i] // EXTRA_SCALE) for p in applied}
    capped = batch.capped.get(i)
    if capped:
        breakdown["promotion_capped_from"] = capped
    if template["_skipped"]:
        breakdown["skipped_exclusive_promotions"] = template["_skipped"]
    if cap is not None:
        wanted, got = cap
        if got < wanted:
            breakdown["capped_from"] = wanted
            breakdown["cap"] = f"{rule.cap_points}/{rule.cap_period}"
        points = got
    return Priced(points, rule, breakdown)
