"""Badges as rules over data: bulk evaluation, revocation, threshold analysis."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Exists, OuterRef
from django.utils import timezone

from core.roles import is_marketplace_admin
from core.statistics import statistics_refresh
from loyalty.bulk import insert_ignoring_conflicts
from loyalty.models import Badge, BadgeAward, BadgeMetric, EntryKind, PointsEntry, SourceType
from loyalty.rules import Action
from marketplace.models import EngagementEvent, EngagementKind, Order, OrderStatus, Review


def badge_metric_values(*, metric: str, start: datetime, end: datetime, buyer_ids=None) -> dict[int, int]:
    """metric value per member over [start, end), one aggregate query."""
    scope = {} if buyer_ids is None else {"buyer_id__in": list(buyer_ids)}
    if metric == BadgeMetric.ORDERS_SAME_ARTISAN:
        per_pair = (
            Order.objects.filter(status=OrderStatus.DELIVERED, delivered_at__gte=start, delivered_at__lt=end, **scope)
            .values("buyer_id", "seller_id")
            .annotate(n=Count("id"))
        )
        out: dict[int, int] = {}
        for row in per_pair:
            out[row["buyer_id"]] = max(out.get(row["buyer_id"], 0), row["n"])
        return out
    if metric == BadgeMetric.REVIEWS_WRITTEN:
        rows = Review.objects.filter(created_at__gte=start, created_at__lt=end, **scope).values_list("buyer_id").annotate(n=Count("id"))
        return dict(rows)
    kind, distinct = {
        BadgeMetric.STORIES_SHARED: (EngagementKind.STORY_SHARE, False),
        BadgeMetric.EVENTS_ATTENDED: (EngagementKind.EVENT_ATTENDANCE, False),
        BadgeMetric.ARTISANS_FOLLOWED: (EngagementKind.FOLLOW_ARTISAN, True),
    }[metric]
    rows = (
        EngagementEvent.objects.filter(kind=kind, buyer__isnull=False, occurred_at__gte=start, occurred_at__lt=end, **scope)
        .values_list("buyer_id")
        .annotate(n=Count("target_seller_id", distinct=True) if distinct else Count("id"))
    )
    return dict(rows)


def _period_key(badge: Badge, now: datetime) -> str:
    if not badge.repeatable:
        return "once"
    return str(int(now.timestamp() // 86400) // badge.window_days)


def badges_evaluate(*, badge_ids=None, now: datetime | None = None) -> dict[str, int]:
    """Award every active badge to every qualifying member; safe to re-run (unique per period)."""
    from loyalty.services import points_award_fixed

    now = now or timezone.now()
    badges = Badge.objects.filter(is_active=True)
    if badge_ids is not None:
        badges = badges.filter(pk__in=list(badge_ids))
    result = {}
    for badge in badges:
        values = badge_metric_values(metric=badge.metric, start=now - timedelta(days=badge.window_days), end=now)
        period = _period_key(badge, now)
        with transaction.atomic():
            holders = set(BadgeAward.objects.filter(badge=badge, period_key=period).values_list("buyer_id", flat=True))
            fresh = [
                {"badge_id": badge.pk, "buyer_id": b, "period_key": period, "metric_value": v, "awarded_at": now}
                for b, v in values.items()
                if v >= badge.threshold and b not in holders
            ]
            # Holders are left out above, so the awards go straight in by COPY; a concurrent run that
            # awarded some of them first sends the rest through the conflict-skipping path.
            insert_ignoring_conflicts(BadgeAward, fresh, conflicts_expected=False)
            result[badge.code] = BadgeAward.objects.filter(badge=badge, period_key=period).count() - len(holders)
            # The bonus query anti-joins these awards with the ledger; planned on an empty table's
            # statistics, it compared every award with every bonus (minutes at 100,000 awards).
            statistics_refresh(BadgeAward)
            if badge.points_bonus:
                _bonus_missing(badge=badge, now=now, award=points_award_fixed)
    return result


def _bonus_missing(*, badge: Badge, now: datetime, award) -> int:
    paid = PointsEntry.objects.filter(source_type=SourceType.BADGE, source_id=OuterRef("pk"), kind=EntryKind.EARN)
    unpaid = (
        BadgeAward.objects.filter(badge=badge, revoked_at__isnull=True)
        .filter(~Exists(paid))
        .values_list("pk", "buyer_id", "awarded_at")
    )
    actions = [
        Action(source_type=SourceType.BADGE, source_id=pk, buyer_id=buyer_id, kind=None, fixed_points=badge.points_bonus,
               occurred_at=awarded_at, reason=f"Badge earned: {badge.name}")
        for pk, buyer_id, awarded_at in unpaid
    ]
    return award(actions=actions, now=now)


@transaction.atomic
def badge_revoke(*, award_id: int, reason: str, actor) -> BadgeAward:
    from loyalty.services import points_reverse_source

    if not is_marketplace_admin(actor):
        raise PermissionDenied("Only Marketplace Admins may revoke badges.")
    if not (reason or "").strip():
        raise ValidationError({"reason": "A revocation needs a reason."})
    award = BadgeAward.objects.select_for_update().select_related("badge").filter(pk=award_id).first()
    if award is None:
        raise ValidationError({"award": "Unknown badge award."})
    if award.revoked_at:
        raise ValidationError({"award": "This badge was already revoked."})
    award.revoked_at, award.revoked_reason, award.revoked_by = timezone.now(), reason.strip(), actor
    award.save(update_fields=["revoked_at", "revoked_reason", "revoked_by"])
    points_reverse_source(source_type=SourceType.BADGE, source_id=award.pk, reason=f"badge {award.badge.name} revoked")
    return award


def badge_threshold_analysis(*, badge: Badge, thresholds: list[int], as_of: datetime | None = None) -> dict:
    """For candidate thresholds: how many would qualify and how often they bought again.

    The metric is measured in the window before ``as_of - window``; repeat purchase is any
    delivered order in the following window. Only members who had bought by then count,
    so qualifiers and non-qualifiers are compared on the same footing.
    """
    if not thresholds or any((not isinstance(t, int)) or t < 1 for t in thresholds):
        raise ValidationError({"thresholds": "Give one or more whole numbers of at least 1."})
    as_of = as_of or timezone.now()
    window = timedelta(days=badge.window_days)
    cut = as_of - window
    metric = badge_metric_values(metric=badge.metric, start=cut - window, end=cut)
    buyers_before = set(
        Order.objects.filter(status=OrderStatus.DELIVERED, delivered_at__lt=cut).values_list("buyer_id", flat=True).distinct()
    )
    repeaters = set(
        Order.objects.filter(status__in=[OrderStatus.DELIVERED, OrderStatus.RETURNED], placed_at__gte=cut, placed_at__lt=as_of,
                             buyer_id__in=buyers_before)
        .values_list("buyer_id", flat=True)
        .distinct()
    ) if buyers_before else set()
    rows = []
    for t in sorted(set(thresholds)):
        q = {b for b in buyers_before if metric.get(b, 0) >= t}
        nq = buyers_before - q
        q_rate = len(q & repeaters) / len(q) if q else None
        nq_rate = len(nq & repeaters) / len(nq) if nq else None
        rows.append({
            "threshold": t,
            "qualifiers": len(q),
            "non_qualifiers": len(nq),
            "repeat_rate_qualifiers": round(q_rate, 4) if q_rate is not None else None,
            "repeat_rate_non_qualifiers": round(nq_rate, 4) if nq_rate is not None else None,
            "lift": round(q_rate - nq_rate, 4) if q_rate is not None and nq_rate is not None else None,
        })
    return {"badge": badge.code, "metric": badge.metric, "window_days": badge.window_days,
            "measured_from": cut - window, "outcome_until": as_of, "population": len(buyers_before), "rows": rows}
