"""Reward recommendations: which rewards each member can afford now or soon, ranked by interest.

Set-based over any number of members (five queries whatever their count), so the nightly
expiry reminders can say what the expiring points cover without one query per member.

Ranking (docs/loyalty.md, "Reward recommendations"):
  * eligible only: active, in stock, the member's tier meets ``min_tier`` and any priority window;
  * affordable now (cost <= active balance) before affordable soon (cost <= active + pending
    points, or within SOON_SHARE of the balance), before the rest, which are left out;
  * within a group, by interest: the share of the member's delivered orders in the reward's
    category, twice the share from the reward's artisan, and 1.5 x the share of past
    redemptions in its category (3 x for the very reward redeemed before);
  * then, for equal interest, the reward that uses more of the balance (fewer points left to expire),
    and finally the reward id, so the order is stable.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from django.db.models import Count, Q, Sum
from django.utils import timezone

from loyalty.models import BuyerTier, EntryState, PointsEntry, Redemption, Reward
from loyalty.selectors import reward_tier_refusal

# "Soon": within this share of the active balance (a purchase or two away).
SOON_SHARE = 0.25


def _balances(buyer_ids: list[int], now: datetime) -> dict[int, tuple[int, int]]:
    rows = (
        PointsEntry.objects.filter(buyer_id__in=buyer_ids, remaining__gt=0, state__in=[EntryState.ACTIVE, EntryState.PENDING])
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .values("buyer_id")
        .annotate(
            active=Sum("remaining", filter=Q(state=EntryState.ACTIVE)),
            pending=Sum("remaining", filter=Q(state=EntryState.PENDING)),
        )
        .order_by()
    )
    return {r["buyer_id"]: (r["active"] or 0, r["pending"] or 0) for r in rows}


def _interests(buyer_ids: list[int]):
    from marketplace.models import Order, OrderStatus

    by_category: dict[int, dict[str, int]] = defaultdict(dict)
    by_seller: dict[int, dict[int, int]] = defaultdict(dict)
    totals: dict[int, int] = defaultdict(int)
    for row in (
        Order.objects.filter(buyer_id__in=buyer_ids, status=OrderStatus.DELIVERED)
        .values("buyer_id", "seller_id", "seller__craft_category")
        .annotate(n=Count("id"))
        .order_by()
    ):
        b = row["buyer_id"]
        cat = row["seller__craft_category"]
        by_category[b][cat] = by_category[b].get(cat, 0) + row["n"]
        by_seller[b][row["seller_id"]] = row["n"]
        totals[b] += row["n"]
    redeemed_cat: dict[int, dict[str, int]] = defaultdict(dict)
    redeemed_reward: dict[int, set[int]] = defaultdict(set)
    redeemed_total: dict[int, int] = defaultdict(int)
    for row in Redemption.objects.filter(buyer_id__in=buyer_ids).values("buyer_id", "reward_id", "reward__category").annotate(n=Count("id")).order_by():
        b = row["buyer_id"]
        redeemed_cat[b][row["reward__category"]] = redeemed_cat[b].get(row["reward__category"], 0) + row["n"]
        redeemed_reward[b].add(row["reward_id"])
        redeemed_total[b] += row["n"]
    return by_category, by_seller, totals, redeemed_cat, redeemed_reward, redeemed_total


def reward_recommendations(
    *, buyer_ids, now: datetime | None = None, limit: int = 5, balances: dict[int, tuple[int, int]] | None = None
) -> dict[int, list[dict]]:
    """Per member, up to ``limit`` rewards affordable now or soon, best first (see module doc).

    ``balances`` (buyer -> (active, pending)) lets callers ask "as of" a past balance, as the benchmark does.
    """
    now = now or timezone.now()
    buyer_ids = list(buyer_ids)
    if not buyer_ids:
        return {}
    balances = balances if balances is not None else _balances(buyer_ids, now)
    ranks = dict(BuyerTier.objects.filter(buyer_id__in=buyer_ids, tier__isnull=False).values_list("buyer_id", "tier__rank"))
    rewards = list(
        Reward.objects.filter(is_active=True)
        .filter(Q(stock__isnull=True) | Q(stock__gt=0))
        .select_related("min_tier", "priority_tier", "seller")
        .order_by("pk")
    )
    by_category, by_seller, totals, redeemed_cat, redeemed_reward, redeemed_total = _interests(buyer_ids)
    out: dict[int, list[dict]] = {}
    for b in buyer_ids:
        active, pending = balances.get(b, (0, 0))
        rank = ranks.get(b, -1)
        total = totals.get(b) or 0
        red_total = redeemed_total.get(b) or 0
        scored = []
        for reward in rewards:
            if reward_tier_refusal(reward=reward, rank=rank, now=now):
                continue
            cost = reward.points_cost
            if cost <= active:
                group = 0
            elif cost <= active + pending or (active and cost <= active * (1 + SOON_SHARE)):
                group = 1
            else:
                continue
            interest = 0.0
            reasons = []
            if total:
                interest += by_category[b].get(reward.category, 0) / total if b in by_category else 0
                interest += 2 * by_seller[b].get(reward.seller_id, 0) / total if b in by_seller else 0
            if red_total:
                interest += 1.5 * redeemed_cat[b].get(reward.category, 0) / red_total
                if reward.pk in redeemed_reward[b]:
                    interest += 3
                    reasons.append("you redeemed it before")
            if reward.seller_id and reward.seller_id in by_seller.get(b, {}):
                reasons.append(f"from {reward.seller.name}, an artisan you buy from")
            elif reward.category and reward.category in by_category.get(b, {}):
                reasons.append(f"in {reward.category.replace('_', ' ')}, a category you buy")
            reasons.append("you can redeem it now" if group == 0 else f"{cost - active} more points needed")
            scored.append(
                (
                    (group, -interest, -cost if group == 0 else cost, reward.pk),
                    {
                        "reward_id": reward.pk,
                        "name": reward.name,
                        "points_cost": cost,
                        "affordable": group == 0,
                        "points_short": max(cost - active, 0),
                        "interest": round(interest, 3),
                        "why": "; ".join(reasons),
                    },
                )
            )
        scored.sort(key=lambda s: s[0])
        out[b] = [row for _, row in scored[:limit]]
    return out


def member_reward_recommendations(*, buyer_id: int, limit: int = 5, now: datetime | None = None) -> list[dict]:
    """The selector for one member (API, buyer page partial)."""
    return reward_recommendations(buyer_ids=[buyer_id], now=now, limit=limit).get(buyer_id, [])


def rewards_covered(*, rewards: list[dict], points: int) -> list[str]:
    """Names of recommended rewards the given points pay for on their own, for the expiry reminder."""
    return [r["name"] for r in rewards if r["points_cost"] <= points]


def cheapest_affordable(*, buyer_ids, now: datetime | None = None, limit: int = 5,
                        balances: dict[int, tuple[int, int]] | None = None) -> dict[int, list[int]]:
    """The naive baseline for the benchmark: the cheapest rewards the member can afford now."""
    now = now or timezone.now()
    buyer_ids = list(buyer_ids)
    balances = balances if balances is not None else _balances(buyer_ids, now)
    costs = list(Reward.objects.filter(is_active=True).order_by("points_cost", "pk").values_list("pk", "points_cost"))
    return {b: [pk for pk, cost in costs if cost <= balances.get(b, (0, 0))[0]][:limit] for b in buyer_ids}
