"""Reads over the ledger: balances, history, leaderboards, suggestions, verification."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

from django.db import connection
from django.db.models import CharField, Count, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from core.bulk import id_list
from loyalty.models import (
    BadgeAward,
    BuyerTier,
    EarningRule,
    EntryKind,
    EntryState,
    LoyaltyProgram,
    PointsEntry,
    Reward,
    RuleKind,
    Tier,
)
from loyalty.rules import RuleBook, cap_key, cap_period_start, month_bounds, precedence_key

logger = logging.getLogger(__name__)


def program_get() -> LoyaltyProgram:
    program, _ = LoyaltyProgram.objects.get_or_create(pk=1)
    return program


def tier_basis_subquery():
    """The program's tier basis for annotating rows in one query; the model's default before the program is saved."""
    return Coalesce(Subquery(LoyaltyProgram.objects.filter(pk=1).values("tier_basis")[:1]),
                    Value(LoyaltyProgram._meta.get_field("tier_basis").default), output_field=CharField())


def buyer_effective_tiers(*, buyer_ids) -> dict[int, Tier]:
    """The tier each member holds now (overrides are already applied to BuyerTier).

    Members share one instance per tier: a chunk of the nightly award asks for thousands of
    members of a handful of tiers, and a BuyerTier and a Tier instance per member cost more
    than the query.
    """
    pairs = list(
        BuyerTier.objects.filter(buyer_id__in=id_list(buyer_ids), tier__isnull=False).values_list("buyer_id", "tier_id")
    )
    if not pairs:
        return {}
    tiers = Tier.objects.in_bulk({tier_id for _, tier_id in pairs})
    return {buyer_id: tiers[tier_id] for buyer_id, tier_id in pairs}


def buyer_segment_map(*, buyer_ids) -> dict[int, str]:
    """Segments from the retention model; empty if that model is not available."""
    try:
        from buyers.selectors import buyer_segments
    except ImportError:
        logger.warning("buyers.selectors.buyer_segments is unavailable; segment promotions match no one")
        return {}
    return buyer_segments(buyer_ids=list(buyer_ids))


def cap_usage(book: RuleBook, *, buyer_ids, since: datetime, before: datetime | None = None) -> dict:
    """Points each capped rule already credited, keyed (buyer, rule, cap period) as RuleBook.price expects.

    A base rule's usage is the earn lots it produced; a promotion's is the extra it added to any
    lot (``breakdown["promotion_points"]``). Cancelled lots do not count.
    """
    capped = {r.pk: r for r in book.capped_rules if r.pk is not None}
    if not capped or not buyer_ids:
        return {}
    lots = (
        PointsEntry.objects.filter(buyer_id__in=id_list(buyer_ids), kind=EntryKind.EARN, occurred_at__gte=since)
        .exclude(state=EntryState.CANCELLED)
        .order_by()
    )
    if before is not None:
        lots = lots.filter(occurred_at__lt=before)
    usage: dict = {}

    def add(buyer_id, rule, at, amount):
        key = cap_key(rule, buyer_id=buyer_id, at=at)
        usage[key] = usage.get(key, 0) + amount

    base = {pk: r for pk, r in capped.items() if r.kind != RuleKind.PROMOTION}
    if base:
        for buyer_id, rule_id, at, amount in lots.filter(rule__in=base).values_list(
            "buyer_id", "rule_id", "occurred_at", "amount"
        ):
            add(buyer_id, base[rule_id], at, amount)
    promotions = {str(pk): r for pk, r in capped.items() if r.kind == RuleKind.PROMOTION}
    if promotions:
        rows = lots.filter(breakdown__has_key="promotion_points").values_list(
            "buyer_id", "occurred_at", "breakdown__promotion_points"
        )
        for buyer_id, at, added in rows:
            for pk in promotions.keys() & added.keys():
                add(buyer_id, promotions[pk], at, added[pk])
    return usage


def cap_usage_since(at: datetime) -> datetime:
    """Early enough to cover every cap period (day, week, month) that contains ``at``."""
    return cap_period_start("month", at) - timedelta(days=7)


def spendable_lots(*, buyer_id: int, now: datetime, lock: bool = False) -> list[PointsEntry]:
    """Active, unexpired lots with points left, oldest expiry first (the spending order)."""
    qs = PointsEntry.objects.filter(buyer_id=buyer_id, state=EntryState.ACTIVE, remaining__gt=0).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    )
    if lock:
        qs = qs.select_for_update()
    return list(qs.order_by("expires_at", "pk"))


def member_balance(*, buyer_id: int, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    program = program_get()
    soon = now + timedelta(days=program.expiring_soon_days)
    lots = PointsEntry.objects.filter(buyer_id=buyer_id, remaining__gt=0)
    agg = lots.aggregate(
        pending=Sum("remaining", filter=Q(state=EntryState.PENDING)),
        active=Sum("remaining", filter=Q(state=EntryState.ACTIVE) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))),
        expiring_soon=Sum("remaining", filter=Q(state=EntryState.ACTIVE, expires_at__gt=now, expires_at__lte=soon)),
    )
    total = PointsEntry.objects.filter(buyer_id=buyer_id).aggregate(n=Sum("amount"))["n"] or 0
    next_expiry = (
        lots.filter(state=EntryState.ACTIVE, expires_at__gt=now).order_by("expires_at").values_list("expires_at", flat=True).first()
    )
    return {
        "pending": agg["pending"] or 0,
        "active": agg["active"] or 0,
        "expiring_soon": agg["expiring_soon"] or 0,
        "expiring_soon_days": program.expiring_soon_days,
        "next_expiry_at": next_expiry,
        "ledger_total": total,
    }


def ledger_history(*, buyer_id: int):
    return PointsEntry.objects.filter(buyer_id=buyer_id).select_related("rule", "created_by").order_by("-created_at", "-id")


def ledger_verify(*, buyer_ids=None) -> list[dict]:
    """Prove the cached lot balances against the ledger. Returns the members that disagree.

    Checks, per member: sum(ledger) == pending + active remaining; every lot's remaining ==
    amount - sum(allocations); no remaining below zero.
    """
    where = ""
    params: list = []
    if buyer_ids is not None:
        ids = list(buyer_ids)
        if not ids:
            return []
        where = "WHERE e.buyer_id IN (%s)" % ",".join(["%s"] * len(ids))
        params = ids
    sql = f"""
        SELECT e.buyer_id,
               SUM(e.amount) AS ledger,
               SUM(CASE WHEN e.amount > 0 AND e.state IN ('pending', 'active') THEN e.remaining ELSE 0 END) AS held,
               SUM(CASE WHEN e.amount > 0 AND e.remaining <> e.amount - COALESCE(a.spent, 0) THEN 1 ELSE 0 END) AS bad_lots,
               SUM(CASE WHEN e.amount > 0 AND e.state IN ('expired', 'cancelled') AND e.remaining <> 0 THEN 1 ELSE 0 END) AS dead_lots
        FROM loyalty_pointsentry e
        LEFT JOIN (SELECT lot_id, SUM(amount) AS spent FROM loyalty_allocation GROUP BY lot_id) a ON a.lot_id = e.id
        {where}
        GROUP BY e.buyer_id
        HAVING SUM(e.amount) <> SUM(CASE WHEN e.amount > 0 AND e.state IN ('pending', 'active') THEN e.remaining ELSE 0 END)
            OR SUM(CASE WHEN e.amount > 0 AND e.remaining <> e.amount - COALESCE(a.spent, 0) THEN 1 ELSE 0 END) > 0
            OR SUM(CASE WHEN e.amount > 0 AND e.state IN ('expired', 'cancelled') AND e.remaining <> 0 THEN 1 ELSE 0 END) > 0
            OR SUM(e.amount) < 0
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [
            {"buyer_id": r[0], "ledger": r[1], "held": r[2], "bad_lots": r[3], "dead_lots": r[4]}
            for r in cursor.fetchall()
        ]


def points_accounting(*, buyer_id: int) -> dict:
    """Where every earned point went: earned == pending + active + redeemed + expired + reversed + deducted."""
    credits = PointsEntry.objects.filter(buyer_id=buyer_id, amount__gt=0).aggregate(
        earned=Sum("amount"),
        pending=Sum("remaining", filter=Q(state=EntryState.PENDING)),
        active=Sum("remaining", filter=Q(state=EntryState.ACTIVE)),
    )
    debits = dict(
        PointsEntry.objects.filter(buyer_id=buyer_id, amount__lt=0).values_list("kind").annotate(n=Sum("amount"))
    )
    return {
        "earned": credits["earned"] or 0,
        "pending": credits["pending"] or 0,
        "active": credits["active"] or 0,
        "redeemed": -(debits.get(EntryKind.REDEEM) or 0),
        "expired": -(debits.get(EntryKind.EXPIRE) or 0),
        "reversed": -(debits.get(EntryKind.REVERSE) or 0),
        "deducted": -(debits.get(EntryKind.ADJUST) or 0),
    }


def _earned(*, month: date | None = None, category: str | None = None):
    qs = PointsEntry.objects.filter(kind=EntryKind.EARN).exclude(state=EntryState.CANCELLED)
    if month:
        start, end = month_bounds(month)
        qs = qs.filter(occurred_at__gte=start, occurred_at__lt=end)
    if category:
        qs = qs.filter(category=category)
    return qs


def leaderboard(*, month: date | None = None, category: str | None = None, limit: int = 50) -> list[dict]:
    """Points earned (not spent, not reversed) from the ledger, overall or per month or category."""
    rows = (
        _earned(month=month, category=category)
        .values("buyer_id", "buyer__name")
        .annotate(points=Sum("amount"))
        .order_by("-points", "buyer_id")[:limit]
    )
    out, rank, previous = [], 0, None
    for position, row in enumerate(rows, start=1):
        if row["points"] != previous:
            rank, previous = position, row["points"]
        out.append({"rank": rank, "buyer_id": row["buyer_id"], "name": row["buyer__name"], "points": row["points"]})
    return out


def leaderboard_rank(*, buyer_id: int, month: date | None = None, category: str | None = None) -> dict:
    earned = _earned(month=month, category=category)
    mine = earned.filter(buyer_id=buyer_id).aggregate(n=Sum("amount"))["n"] or 0
    if mine == 0:
        return {"rank": None, "points": 0}
    ahead = earned.values("buyer_id").annotate(points=Sum("amount")).filter(points__gt=mine).count()
    return {"rank": ahead + 1, "points": mine}


POWER_USER_KINDS = ("story_share", "follow_artisan", "event_attendance", "message")


def power_users(*, days: int = 90, limit: int = 50, now: datetime | None = None) -> list[dict]:
    """Members ranked by engagement frequency (distinct active days), not spend."""
    from marketplace.models import EngagementEvent, Review

    now = now or timezone.now()
    since = now - timedelta(days=days)
    days_by_buyer: dict[int, set] = {}
    actions: dict[int, int] = {}
    events = (
        EngagementEvent.objects.filter(buyer__isnull=False, kind__in=POWER_USER_KINDS, occurred_at__gte=since)
        .annotate(day=TruncDate("occurred_at"))
        .values("buyer_id", "day")
        .annotate(n=Count("id"))
    )
    reviews = (
        Review.objects.filter(created_at__gte=since)
        .annotate(day=TruncDate("created_at"))
        .values("buyer_id", "day")
        .annotate(n=Count("id"))
    )
    for row in [*events, *reviews]:
        days_by_buyer.setdefault(row["buyer_id"], set()).add(row["day"])
        actions[row["buyer_id"]] = actions.get(row["buyer_id"], 0) + row["n"]
    ranked = sorted(days_by_buyer, key=lambda b: (-len(days_by_buyer[b]), -actions[b], b))[:limit]
    return [
        {
            "rank": i,
            "buyer_id": b,
            "active_days": len(days_by_buyer[b]),
            "actions": actions[b],
            "actions_per_week": round(actions[b] / (days / 7), 2),
        }
        for i, b in enumerate(ranked, start=1)
    ]


def rule_precedence(*, kind: str, at: datetime | None = None) -> list[dict]:
    """The order in which rules of one kind are considered, as shown to admins."""
    at = at or timezone.now()
    base = sorted(EarningRule.objects.filter(kind=kind), key=precedence_key)
    promos = sorted(EarningRule.objects.filter(kind=RuleKind.PROMOTION, promotion_of=kind), key=precedence_key)
    out = []
    winner_seen = False
    for step, rule in enumerate(base, start=1):
        in_window = rule.is_active and (not rule.starts_at or rule.starts_at <= at) and (not rule.ends_at or at < rule.ends_at)
        targeted = bool(rule.target_tier_id or rule.target_segment)
        if not in_window:
            role = "inactive now"
        elif targeted:
            role = "base rule for its target; otherwise falls through"
        elif not winner_seen:
            role = "base rule"
            winner_seen = True
        else:
            role = "shadowed by a higher-priority rule"
        out.append({"step": step, "rule_id": rule.pk, "name": rule.name, "priority": rule.priority, "stage": "base", "role": role})
    for step, rule in enumerate(promos, start=len(out) + 1):
        role = "exclusive: applies alone if first to match" if rule.exclusive else f"stacks: adds {rule.multiplier - 1:+}x"
        if rule.cap_points is not None:
            role += f"; extra capped at {rule.cap_points} per member per {rule.cap_period}"
        out.append({"step": step, "rule_id": rule.pk, "name": rule.name, "priority": rule.priority, "stage": "promotion", "role": role})
    return out


def reward_tier_refusal(*, reward: Reward, rank: int, now: datetime) -> str | None:
    """Why a member of tier ``rank`` (-1: no tier) may not redeem ``reward`` now, or None if they may.

    Needs ``min_tier`` and ``priority_tier`` loaded; redemption, suggestions and recommendations all ask here.
    """
    if reward.min_tier and rank < reward.min_tier.rank:
        return f"This reward is for {reward.min_tier.name} members and above."
    if reward.priority_until and now < reward.priority_until and rank < reward.priority_tier.rank:
        return (
            f"{reward.priority_tier.name} members and above redeem first, "
            f"until {reward.priority_until:%Y-%m-%d %H:%M} UTC."
        )
    return None


def reward_suggestions(*, buyer_id: int, limit: int = 10, now: datetime | None = None) -> list[dict]:
    """Rewards ranked by the member's interests (categories and artisans bought from) and balance."""
    from marketplace.models import Order, OrderStatus

    now = now or timezone.now()
    active = member_balance(buyer_id=buyer_id, now=now)["active"]
    tier = buyer_effective_tiers(buyer_ids=[buyer_id]).get(buyer_id)
    rank = tier.rank if tier else -1
    bought = list(
        Order.objects.filter(buyer_id=buyer_id, status=OrderStatus.DELIVERED)
        .values("seller_id", "seller__craft_category")
        .annotate(n=Count("id"))
    )
    total = sum(r["n"] for r in bought) or 1
    by_category: dict[str, int] = {}
    by_seller: dict[int, int] = {}
    for r in bought:
        by_category[r["seller__craft_category"]] = by_category.get(r["seller__craft_category"], 0) + r["n"]
        by_seller[r["seller_id"]] = r["n"]
    rewards = Reward.objects.filter(is_active=True).filter(Q(stock__isnull=True) | Q(stock__gt=0)).select_related(
        "min_tier", "priority_tier", "seller"
    )
    scored = []
    for reward in rewards:
        if reward_tier_refusal(reward=reward, rank=rank, now=now):
            continue
        interest = by_category.get(reward.category, 0) / total + 2 * by_seller.get(reward.seller_id, 0) / total
        affordable = reward.points_cost <= active
        reasons = []
        if reward.seller_id in by_seller:
            reasons.append(f"from {reward.seller.name}, an artisan you buy from")
        elif reward.category in by_category:
            reasons.append(f"in {reward.category.replace('_', ' ')}, a category you buy")
        reasons.append("you can redeem it now" if affordable else f"{reward.points_cost - active} more points needed")
        scored.append(
            {
                "reward_id": reward.pk,
                "name": reward.name,
                "points_cost": reward.points_cost,
                "affordable": affordable,
                "interest": round(interest, 3),
                "why": "; ".join(reasons),
                "_key": (not affordable, -interest, -reward.points_cost if affordable else reward.points_cost),
            }
        )
    scored.sort(key=lambda s: s.pop("_key"))
    return scored[:limit]


def member_badges(*, buyer_id: int) -> list[BadgeAward]:
    return list(BadgeAward.objects.filter(buyer_id=buyer_id, revoked_at__isnull=True).select_related("badge"))
