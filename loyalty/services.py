"""Writes to the points ledger: awards, reversals, redemptions, adjustments, expiry, reminders."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Sum
from django.utils import timezone

from core.bulk import id_list
from core.outbox import outbox_enqueue_many
from core.roles import can_work_team, is_marketplace_admin
from loyalty.bulk import insert_columns
from loyalty.models import (
    Allocation,
    EarningRule,
    EntryKind,
    EntryState,
    LoyaltyAccount,
    PointsEntry,
    Redemption,
    Reward,
    RuleKind,
    SourceType,
)
from loyalty.pricing import price_set
from loyalty.recommend import reward_recommendations, rewards_covered
from loyalty.rules import Action, RuleBook, expiry_for, expiry_for_many
from loyalty.selectors import (
    buyer_effective_tiers,
    buyer_segment_map,
    cap_usage,
    cap_usage_since,
    program_get,
    reward_tier_refusal,
    spendable_lots,
)
from marketplace.models import EngagementEvent, EngagementKind, Order, OrderStatus, Review

logger = logging.getLogger(__name__)

ENGAGEMENT_RULE_KIND = {
    EngagementKind.STORY_SHARE: RuleKind.STORY_SHARE,
    EngagementKind.FOLLOW_ARTISAN: RuleKind.FOLLOW_ARTISAN,
    EngagementKind.EVENT_ATTENDANCE: RuleKind.EVENT_ATTENDANCE,
}
# Bulk award chunk: 5,000 orders is ~8 queries and well under a second on PostgreSQL
# (bench/loyalty.py); small enough to keep row locks and memory short.
AWARD_CHUNK = 5000
EXPIRE_CHUNK = 5000
REMINDER_CHUNK = 500


def _accounts_ensure(buyer_ids) -> None:
    LoyaltyAccount.objects.bulk_create(
        [LoyaltyAccount(buyer_id=b) for b in set(buyer_ids)], ignore_conflicts=True, batch_size=5000
    )


def _account_lock(buyer_id: int) -> None:
    """Serialises every balance-changing write for one member (caps, redemptions, debits)."""
    _accounts_lock([buyer_id])


def _accounts_lock(buyer_ids: Iterable[int]) -> None:
    """``_account_lock`` for a set of members, taken in buyer order so two sets cannot deadlock."""
    ids = sorted(set(buyer_ids))
    if not ids:
        return
    _accounts_ensure(ids)
    list(LoyaltyAccount.objects.select_for_update().filter(buyer_id__in=ids).order_by("buyer_id").values_list("pk", flat=True))


def rules_load() -> RuleBook:
    return RuleBook(list(EarningRule.objects.filter(is_active=True).select_related("target_tier")))


def _price_actions(actions: list[Action], *, book: RuleBook, now: datetime) -> tuple[dict, int]:
    """The earn lots ``actions`` make, as ledger columns (attname -> one value per lot, or one
    value for every lot; loyalty/bulk.py ``insert_columns``) and how many lots there are."""
    program = program_get()
    buyer_ids = {a.buyer_id for a in actions}
    tiers = buyer_effective_tiers(buyer_ids=buyer_ids)
    needs_segment = any(r.target_segment for rs in [*book.base.values(), *book.promotions.values()] for r in rs)
    segments = buyer_segment_map(buyer_ids=buyer_ids) if needs_segment else {}
    usage = cap_usage(book, buyer_ids=buyer_ids, since=cap_usage_since(min(a.occurred_at for a in actions)))
    actions = sorted(actions, key=lambda a: (a.occurred_at, a.source_id))
    # Priced as a set (loyalty/pricing.py): the rule book's answers, without walking it per action.
    priced = price_set(book, actions, tiers=tiers, segments=segments, usage=usage)
    earning = [(a, p) for a, p in zip(actions, priced) if p.points > 0]
    # Columns, not a dict per lot: building a row per lot, then reading each column back out of
    # the rows for the COPY, cost more than the pricing.
    pending = timedelta(days=program.pending_days)
    available = [a.occurred_at + pending if a.pending else a.occurred_at for a, _ in earning]
    points = [p.points for _, p in earning]
    columns = {
        "buyer_id": [a.buyer_id for a, _ in earning],
        "amount": points,
        "remaining": points,
        "kind": EntryKind.EARN,
        "state": [EntryState.PENDING if at > now else EntryState.ACTIVE for at in available],
        "source_type": [a.source_type for a, _ in earning],
        "source_id": [a.source_id for a, _ in earning],
        "rule_id": [p.rule.pk if p.rule else None for _, p in earning],
        "reason": [a.reason for a, _ in earning],
        "comment": "",
        "breakdown": [p.breakdown for _, p in earning],
        "seller_id": [a.seller_id for a, _ in earning],
        "category": [a.category for a, _ in earning],
        "occurred_at": [a.occurred_at for a, _ in earning],
        "available_at": available,
        "expires_at": expiry_for_many(earned_at=available, policy=program.expiry_policy, days=program.expiry_days),
        "reminded_at": None,
        "created_by_id": None,
        "created_at": now,
    }
    return columns, len(earning)


def _award(actions: list[Action], *, now: datetime, book: RuleBook | None = None) -> int:
    """Insert earn lots; a source already awarded is skipped by the unique constraint."""
    if not actions:
        return 0
    book = book or rules_load()
    columns, count = _price_actions(actions, book=book, now=now)
    # The callers skip sources already awarded, so the rows are written once, by COPY.
    return insert_columns(PointsEntry, columns, count, conflicts_expected=False)


def _order_actions(orders: list[dict]) -> list[Action]:
    """Spend and repeat-purchase actions for delivered orders, with one set-based query."""
    if not orders:
        return []
    # A repeat purchase: the buyer had an earlier delivery from the same artisan. Judged in the
    # database, order by order, so only the ids of the repeats come back (not a first delivery
    # date per buyer and artisan to compare here).
    earlier = Order.objects.filter(
        buyer_id=OuterRef("buyer_id"), seller_id=OuterRef("seller_id"), status=OrderStatus.DELIVERED,
        delivered_at__isnull=False, delivered_at__lt=OuterRef("delivered_at"),
    )
    repeats = set(
        Order.objects.filter(pk__in=id_list(o["id"] for o in orders), delivered_at__isnull=False)
        .filter(Exists(earlier)).order_by().values_list("pk", flat=True)
    )
    actions = []
    for o in orders:
        common = dict(
            source_id=o["id"],
            buyer_id=o["buyer_id"],
            occurred_at=o["delivered_at"],
            seller_id=o["seller_id"],
            category=o["seller__craft_category"],
            pending=True,
        )
        actions.append(
            Action(
                source_type=SourceType.ORDER,
                kind=RuleKind.SPEND,
                base=Decimal(o["total_amount"]),
                reason=f"Order {o['external_id']} delivered",
                **common,
            )
        )
        if o["id"] in repeats:
            actions.append(
                Action(
                    source_type=SourceType.REPEAT_PURCHASE,
                    kind=RuleKind.REPEAT_PURCHASE,
                    reason=f"Repeat purchase from the same artisan (order {o['external_id']})",
                    **common,
                )
            )
    return actions


ORDER_FIELDS = ("id", "external_id", "buyer_id", "seller_id", "seller__craft_category", "total_amount", "delivered_at")


@transaction.atomic
def order_points_sync(*, order_id: int, now: datetime | None = None) -> str:
    """Delivered → earn pending points once; cancelled or returned → reverse them once."""
    now = now or timezone.now()
    order = Order.objects.filter(pk=order_id).values("status", "buyer_id", *ORDER_FIELDS).first()
    if order is None:
        raise Order.DoesNotExist(f"Order {order_id} does not exist.")
    _account_lock(order["buyer_id"])
    if order["status"] in (OrderStatus.CANCELLED, OrderStatus.RETURNED):
        return "reversed" if _order_points_reverse(order, now=now) else "nothing_to_reverse"
    if order["status"] == OrderStatus.DELIVERED and order["delivered_at"]:
        if order_id in orders_judged([order_id]):
            return "already_awarded"
        created = _award(_order_actions([order]), now=now)
        return "awarded" if created else "no_points"
    return "not_delivered"


def _order_points_reverse(order: dict, *, now: datetime) -> bool:
    """Take back what a cancelled or returned order earned (spend and repeat-purchase lots), once."""
    reason = f"Order {order['external_id']} {order['status']}"
    reversed_any = False
    for source_type in (SourceType.ORDER, SourceType.REPEAT_PURCHASE):
        reversed_any |= points_reverse_source(source_type=source_type, source_id=order["id"], reason=reason, now=now)
    return reversed_any


def orders_judged(order_ids: list[int]) -> set[int]:
    """The orders whose award is done. An order's award is one unit of work: once either of its
    lots exists (a spend lot capped to nothing still leaves the repeat-purchase lot), the order
    was judged and is not priced again."""
    return set(
        PointsEntry.objects.filter(
            source_type__in=[SourceType.ORDER, SourceType.REPEAT_PURCHASE], source_id__in=list(order_ids), kind=EntryKind.EARN
        ).values_list("source_id", flat=True)
    )


def points_award_delivered_orders(
    *, after_id: int = 0, up_to_id: int | None = None, limit: int = AWARD_CHUNK, now: datetime | None = None
) -> tuple[int, int | None]:
    """One chunk of the nightly catch-up: delivered orders with no earn entry yet.

    Returns (entries inserted, last order id covered, or None when done). Without ``up_to_id``
    it covers the next ``limit`` order ids.
    """
    now = now or timezone.now()
    windowed = up_to_id is None
    if windowed:
        up_to_id = after_id + limit
    # The orders of the range already awarded, read once: a correlated NOT EXISTS per order made
    # SQLite scan every earn entry of the ledger for each order (its partial unique index cannot
    # serve a parameterised query), so each chunk cost more than the one before.
    # An order's award is one unit of work: if either of its lots exists (a spend lot capped to
    # nothing still leaves the repeat-purchase lot), the order was judged and is not priced again.
    awarded = set(
        PointsEntry.objects.filter(
            source_type__in=[SourceType.ORDER, SourceType.REPEAT_PURCHASE], kind=EntryKind.EARN,
            source_id__gt=after_id, source_id__lte=up_to_id,
        ).order_by().values_list("source_id", flat=True)
    )
    delivered = Order.objects.filter(
        pk__gt=after_id, pk__lte=up_to_id, status=OrderStatus.DELIVERED, delivered_at__isnull=False
    ).order_by("pk").values(*ORDER_FIELDS)
    # At most len(awarded) of the first rows are skipped, so these hold the next ``limit`` to award.
    orders = [order for order in delivered[: limit + len(awarded)] if order["id"] not in awarded][:limit]
    if not orders:
        more = windowed and Order.objects.filter(pk__gt=up_to_id).exists()
        return 0, (up_to_id if more else None)
    with transaction.atomic():
        created = _award(_order_actions(orders), now=now)
    return created, (up_to_id if windowed and len(orders) < limit else orders[-1]["id"])


@transaction.atomic
def engagement_points(*, event_id: int, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    event = (
        EngagementEvent.objects.filter(pk=event_id)
        .values("id", "buyer_id", "kind", "occurred_at", "target_seller_id", "target_seller__craft_category")
        .first()
    )
    if event is None:
        raise EngagementEvent.DoesNotExist(f"Engagement event {event_id} does not exist.")
    if event["buyer_id"] is None or event["kind"] not in ENGAGEMENT_RULE_KIND:
        return False
    _account_lock(event["buyer_id"])
    if PointsEntry.objects.filter(source_type=SourceType.ENGAGEMENT, source_id=event_id, kind=EntryKind.EARN).exists():
        return False
    return bool(_award(_engagement_actions([event]), now=now))


def _engagement_actions(events: list[dict]) -> list[Action]:
    return [
        Action(
            source_type=SourceType.ENGAGEMENT,
            source_id=e["id"],
            buyer_id=e["buyer_id"],
            kind=ENGAGEMENT_RULE_KIND[e["kind"]],
            occurred_at=e["occurred_at"],
            reason=EngagementKind(e["kind"]).label,
            seller_id=e["target_seller_id"],
            category=e["target_seller__craft_category"] or "",
        )
        for e in events
    ]


@transaction.atomic
def review_points(*, review_id: int, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    review = Review.objects.filter(pk=review_id).values("id", "buyer_id", "seller_id", "seller__craft_category", "created_at").first()
    if review is None:
        raise Review.DoesNotExist(f"Review {review_id} does not exist.")
    _account_lock(review["buyer_id"])
    if PointsEntry.objects.filter(source_type=SourceType.REVIEW, source_id=review_id, kind=EntryKind.EARN).exists():
        return False
    return bool(_award(_review_actions([review]), now=now))


def _review_actions(reviews: list[dict]) -> list[Action]:
    """Review rows (id, buyer_id, seller_id, seller__craft_category, created_at) as earning actions."""
    return [
        Action(
            source_type=SourceType.REVIEW,
            source_id=r["id"],
            buyer_id=r["buyer_id"],
            kind=RuleKind.REVIEW,
            occurred_at=r["created_at"],
            reason="Review written",
            seller_id=r["seller_id"],
            category=r["seller__craft_category"],
        )
        for r in reviews
    ]


def points_award_fixed(*, actions: list[Action], now: datetime | None = None) -> int:
    """Fixed-point lots (badge bonuses); idempotent per source."""
    return _award(actions, now=now or timezone.now())


def _debit(*, buyer_id: int, amount: int, kind: str, source_type: str, reason: str, now: datetime,
           lots: list[PointsEntry], comment: str = "", actor=None, source_id: int | None = None,
           breakdown: dict | None = None) -> PointsEntry | None:
    """Append a debit and allocate it to ``lots`` in order. The caller holds the account lock."""
    left = amount
    plan = []
    for lot in lots:
        if left == 0:
            break
        take = min(lot.remaining, left)
        if take > 0:
            plan.append((lot, take))
            left -= take
    taken = amount - left
    if taken == 0:
        return None
    entry = PointsEntry.objects.create(
        buyer_id=buyer_id, amount=-taken, kind=kind, state=EntryState.POSTED, source_type=source_type,
        source_id=source_id, reason=reason, comment=comment, created_by=actor, occurred_at=now, created_at=now,
        breakdown=breakdown or {},
    )
    Allocation.objects.bulk_create([Allocation(debit=entry, lot=lot, amount=take) for lot, take in plan])
    for lot, take in plan:
        lot.remaining -= take
    PointsEntry.objects.bulk_update([lot for lot, _ in plan], ["remaining"])
    return entry


def points_reverse_source(*, source_type: str, source_id: int, reason: str, now: datetime | None = None) -> bool:
    """Take back what one source earned, once. Unspent points of the lot go first; what the
    member already spent is clawed back from their other active points, never below zero."""
    now = now or timezone.now()
    with transaction.atomic():
        lots = PointsEntry.objects.filter(source_type=source_type, source_id=source_id, kind=EntryKind.EARN)
        buyer_id = lots.values_list("buyer_id", flat=True).first()
        if buyer_id is None:
            return False
        # Account first, then lots: the same order as redemptions, so the two cannot deadlock.
        _account_lock(buyer_id)
        lot = lots.select_for_update().first()
        if lot.state == EntryState.CANCELLED:
            return False
        others = [x for x in spendable_lots(buyer_id=lot.buyer_id, now=now, lock=True) if x.pk != lot.pk]
        own = [lot] if lot.state in (EntryState.PENDING, EntryState.ACTIVE) else []
        # Points of this lot that expired were never used; only the rest is taken back.
        expired = (
            Allocation.objects.filter(lot=lot, debit__kind=EntryKind.EXPIRE).aggregate(n=Sum("amount"))["n"] or 0
        )
        entry = _debit(
            buyer_id=lot.buyer_id, amount=lot.amount - expired, kind=EntryKind.REVERSE, source_type=source_type,
            source_id=source_id, reason=f"Reversed: {reason}", now=now, lots=own + others,
            breakdown={"lot": lot.pk},
        )
        if entry is not None and -entry.amount < lot.amount:
            logger.info("reversal of %s %s recovered %s of %s points", source_type, source_id, -entry.amount, lot.amount)
        PointsEntry.objects.filter(pk=lot.pk).update(state=EntryState.CANCELLED)
        return True


def _ensure_staff_can_adjust(actor) -> None:
    if actor is None or not (is_marketplace_admin(actor) or can_work_team(actor, "customer_success")):
        raise PermissionDenied("Only Customer Success and Marketplace Admins may adjust points.")


@transaction.atomic
def points_adjust(*, buyer_id: int, amount: int, comment: str, actor, now: datetime | None = None) -> PointsEntry:
    """A staff correction: positive adds an active lot, negative spends active points. Comment required."""
    _ensure_staff_can_adjust(actor)
    now = now or timezone.now()
    comment = (comment or "").strip()
    if not comment:
        raise ValidationError({"comment": "An adjustment needs a comment explaining why."})
    if not isinstance(amount, int) or amount == 0:
        raise ValidationError({"amount": "Amount must be a non-zero whole number of points."})
    _account_lock(buyer_id)
    if amount > 0:
        program = program_get()
        return PointsEntry.objects.create(
            buyer_id=buyer_id, amount=amount, remaining=amount, kind=EntryKind.ADJUST, state=EntryState.ACTIVE,
            source_type=SourceType.ADJUSTMENT, reason="Adjustment by staff", comment=comment, created_by=actor,
            occurred_at=now, available_at=now, created_at=now,
            expires_at=expiry_for(earned_at=now, policy=program.expiry_policy, days=program.expiry_days),
        )
    lots = spendable_lots(buyer_id=buyer_id, now=now, lock=True)
    available = sum(lot.remaining for lot in lots)
    if -amount > available:
        raise ValidationError({"amount": f"Cannot deduct {-amount} points: the active balance is {available}."})
    return _debit(
        buyer_id=buyer_id, amount=-amount, kind=EntryKind.ADJUST, source_type=SourceType.ADJUSTMENT,
        reason="Adjustment by staff", comment=comment, actor=actor, now=now, lots=lots,
    )


@transaction.atomic
def points_redeem(*, buyer_id: int, reward_id: int, actor=None, now: datetime | None = None) -> Redemption:
    """Spend active points on a reward, oldest expiry first.

    The account row lock serialises concurrent redemptions of one member, so two requests
    cannot both read the same balance and overdraw it; the conditional stock UPDATE keeps
    two members from taking the last unit.
    """
    now = now or timezone.now()
    reward = Reward.objects.filter(pk=reward_id, is_active=True).select_related("min_tier", "priority_tier").first()
    if reward is None:
        raise ValidationError({"reward": "Unknown or inactive reward."})
    _account_lock(buyer_id)
    tier = buyer_effective_tiers(buyer_ids=[buyer_id]).get(buyer_id)
    rank = tier.rank if tier else -1
    refusal = reward_tier_refusal(reward=reward, rank=rank, now=now)
    if refusal:
        raise ValidationError({"reward": refusal})
    lots = spendable_lots(buyer_id=buyer_id, now=now, lock=True)
    available = sum(lot.remaining for lot in lots)
    if reward.points_cost > available:
        raise ValidationError(
            {"points": f"{reward.name} costs {reward.points_cost} points; the active balance is {available}."}
        )
    if reward.stock is not None:
        taken = Reward.objects.filter(pk=reward.pk, stock__gt=0).update(stock=F("stock") - 1)
        if not taken:
            raise ValidationError({"reward": f"{reward.name} is out of stock."})
    entry = _debit(
        buyer_id=buyer_id, amount=reward.points_cost, kind=EntryKind.REDEEM, source_type=SourceType.REDEMPTION,
        reason=f"Redeemed: {reward.name}", actor=actor, now=now, lots=lots,
    )
    return Redemption.objects.create(
        buyer_id=buyer_id, reward=reward, points=reward.points_cost, entry=entry, created_by=actor, created_at=now
    )


def points_activate_due(*, now: datetime | None = None) -> int:
    now = now or timezone.now()
    return PointsEntry.objects.filter(state=EntryState.PENDING, available_at__lte=now).update(state=EntryState.ACTIVE)


def points_expire_due(*, now: datetime | None = None, limit: int = EXPIRE_CHUNK) -> int:
    """Expire one chunk of lots past their expiry date. Returns lots handled (0 = done).

    skip_locked lets two beat runs share the work instead of queueing on each other's rows.
    """
    now = now or timezone.now()
    if connection.vendor == "postgresql":
        return _expire_due_sql(now=now, limit=limit)
    with transaction.atomic():
        lots = list(
            PointsEntry.objects.select_for_update(skip_locked=True)
            .filter(state=EntryState.ACTIVE, expires_at__lte=now)
            .order_by("pk")
            .only("pk", "buyer_id", "remaining", "expires_at")[:limit]
        )
        if not lots:
            return 0
        with_points = [lot for lot in lots if lot.remaining > 0]
        debits = PointsEntry.objects.bulk_create(
            [
                PointsEntry(
                    buyer_id=lot.buyer_id, amount=-lot.remaining, kind=EntryKind.EXPIRE, state=EntryState.POSTED,
                    source_type=SourceType.EXPIRY, source_id=None, reason=f"Points expired on {lot.expires_at:%Y-%m-%d}",
                    occurred_at=now, created_at=now, breakdown={"lot": lot.pk},
                )
                for lot in with_points
            ],
            batch_size=2000,
        )
        Allocation.objects.bulk_create(
            [Allocation(debit=d, lot=lot, amount=lot.remaining) for d, lot in zip(debits, with_points, strict=True)],
            batch_size=2000,
        )
        PointsEntry.objects.filter(pk__in=[lot.pk for lot in lots]).update(state=EntryState.EXPIRED, remaining=0)
        return len(lots)


_EXPIRE_SQL = """
WITH due AS (
    SELECT id, buyer_id, remaining, expires_at FROM loyalty_pointsentry
    WHERE state = 'active' AND expires_at <= %(now)s
    ORDER BY id LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), debit AS (
    INSERT INTO loyalty_pointsentry (buyer_id, amount, remaining, kind, state, source_type, source_id, rule_id, reason,
        comment, breakdown, seller_id, category, occurred_at, available_at, expires_at, reminded_at, created_by_id, created_at)
    SELECT buyer_id, -remaining, 0, 'expire', 'posted', 'expiry', NULL, NULL,
           'Points expired on ' || to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), '', jsonb_build_object('lot', id),
           NULL, '', %(now)s, NULL, NULL, NULL, NULL, %(now)s
    FROM due WHERE remaining > 0
    RETURNING id, (breakdown ->> 'lot')::bigint AS lot_id, -amount AS amount
), allocated AS (
    INSERT INTO loyalty_allocation (debit_id, lot_id, amount) SELECT id, lot_id, amount FROM debit
)
UPDATE loyalty_pointsentry p SET state = 'expired', remaining = 0 FROM due WHERE p.id = due.id
"""


def _expire_due_sql(*, now: datetime, limit: int) -> int:
    """The same chunk as the ORM path in one statement: entries, allocations and lot states."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(_EXPIRE_SQL, {"now": now, "limit": limit})
        return cursor.rowcount


def expiry_reminders_send(*, now: datetime | None = None, limit: int = REMINDER_CHUNK, buyer_range: tuple[int, int] | None = None) -> int:
    """Email each lot's owner once, N days before it expires, through the outbox.

    ``buyer_range`` (lowest, highest buyer id) limits it to those members' lots, so the nightly
    pipeline can spread the reminders over its workers; locked lots are skipped, never sent twice.
    """
    now = now or timezone.now()
    program = program_get()
    horizon = now + timedelta(days=program.reminder_days_before)
    due = PointsEntry.objects.filter(
        state=EntryState.ACTIVE, remaining__gt=0, reminded_at__isnull=True, expires_at__gt=now, expires_at__lte=horizon
    )
    if buyer_range is not None:
        due = due.filter(buyer_id__gte=buyer_range[0], buyer_id__lte=buyer_range[1])
    with transaction.atomic():
        lots = list(
            due.select_for_update(skip_locked=True, of=("self",))
            .select_related("buyer")
            .order_by("expires_at", "pk")[:limit]
        )
        # What each member's expiring points would pay for, ranked by their interests (set-based).
        expiring = {lot.buyer_id: 0 for lot in lots}
        for lot in lots:
            expiring[lot.buyer_id] += lot.remaining
        recommended = reward_recommendations(buyer_ids=list(expiring), now=now, limit=5)
        outbox_enqueue_many(
            [
                {
                    "dedupe_key": f"loyalty:expiry-reminder:{lot.pk}",
                    "to": lot.buyer.email,
                    "category": "loyalty_expiry_reminder",
                    "context": {
                        "points": lot.remaining,
                        "expires_on": f"{lot.expires_at.day} {lot.expires_at:%B %Y}",
                        "reason": lot.reason,
                        "covers": rewards_covered(rewards=recommended.get(lot.buyer_id, []), points=lot.remaining)[:3],
                    },
                }
                for lot in lots
            ]
        )
        PointsEntry.objects.filter(pk__in=[lot.pk for lot in lots]).update(reminded_at=now)
        return len(lots)


@transaction.atomic
def rule_create(*, actor, **fields) -> EarningRule:
    """A new earning rule. Admin only; the model's constraints are the last line of defence."""
    if not is_marketplace_admin(actor):
        raise PermissionDenied("Only Marketplace Admins may configure earning rules.")
    if Decimal(fields.get("points", 0)) < 0:
        raise ValidationError({"points": "A rule cannot award negative points."})
    rule = EarningRule(**fields)
    rule.full_clean()
    rule.save()
    return rule
