"""Tiers: configuration with validation, preview, set-based recompute, manual overrides."""

from __future__ import annotations

from bisect import bisect_right
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, F, Sum
from django.utils import timezone

from buyers.models import Buyer
from core.roles import is_marketplace_admin
from loyalty.bulk import insert_ignoring_conflicts, update_rows
from loyalty.models import (
    BuyerTier,
    EntryKind,
    EntryState,
    PointsEntry,
    Tier,
    TierBasis,
    TierChange,
    TierChangeCause,
    TierOverride,
)
from loyalty.selectors import program_get

ENGAGEMENT_KINDS = ("story_share", "follow_artisan", "event_attendance")


def tiers_validate(*, tiers: list[dict]) -> list[dict]:
    """Clean a full tier table. Thresholds must strictly increase with rank (no overlap)."""
    if not tiers:
        raise ValidationError({"tiers": "At least one tier is required."})
    cleaned = []
    for i, raw in enumerate(tiers):
        try:
            threshold = Decimal(str(raw["threshold"]))
            multiplier = Decimal(str(raw.get("multiplier", 1)))
            rank = int(raw.get("rank", i))
            code = str(raw["code"]).strip()
        except (KeyError, InvalidOperation, ValueError, TypeError) as exc:
            raise ValidationError({"tiers": f"Tier #{i + 1} needs code, threshold, multiplier and rank ({exc})."}) from exc
        if not code:
            raise ValidationError({"tiers": f"Tier #{i + 1} needs a code."})
        if threshold < 0:
            raise ValidationError({"tiers": f"Tier {code!r}: threshold cannot be negative."})
        if multiplier < 0:
            raise ValidationError({"tiers": f"Tier {code!r}: multiplier cannot be negative."})
        cleaned.append(
            {"code": code, "name": raw.get("name") or code.title(), "rank": rank, "threshold": threshold,
             "multiplier": multiplier, "perks": raw.get("perks", "")}
        )
    for field in ("code", "rank"):
        values = [t[field] for t in cleaned]
        if len(set(values)) != len(values):
            raise ValidationError({"tiers": f"Two tiers share the same {field}."})
    cleaned.sort(key=lambda t: t["rank"])
    for lower, higher in zip(cleaned, cleaned[1:]):
        if higher["threshold"] <= lower["threshold"]:
            raise ValidationError(
                {"tiers": f"Tier {higher['code']!r} (threshold {higher['threshold']}) overlaps {lower['code']!r} "
                          f"(threshold {lower['threshold']}): thresholds must increase with rank."}
            )
    return cleaned


def _member_scope(*, buyer_ids=None, id_range=None, field: str = "buyer_id") -> dict:
    """Filter kwargs for the given members: a key range [lo, hi] (the pipeline's chunks: two
    bounds, so the statement stays the same size whatever the chunk size) or an id list."""
    if id_range is not None:
        lo, hi = id_range
        return {f"{field}__gte": lo, f"{field}__lte": hi}
    return {} if buyer_ids is None else {f"{field}__in": list(buyer_ids)}


def tier_basis_values(*, basis: str, window_days: int, now: datetime, buyer_ids=None, id_range=None) -> dict[int, Decimal]:
    """The value each member's tier is judged on, from one aggregate query."""
    from marketplace.models import EngagementEvent, Order, OrderStatus, Review

    since = now - timedelta(days=window_days)
    scope = _member_scope(buyer_ids=buyer_ids, id_range=id_range)
    if basis == TierBasis.POINTS_EARNED:
        rows = (
            PointsEntry.objects.filter(kind=EntryKind.EARN, occurred_at__gte=since, occurred_at__lt=now, **scope)
            .exclude(state=EntryState.CANCELLED)
            .values_list("buyer_id")
            .annotate(v=Sum("amount"))
        )
        return {b: Decimal(v) for b, v in rows}
    if basis == TierBasis.QUALIFYING_SPEND:
        rows = (
            Order.objects.filter(status=OrderStatus.DELIVERED, delivered_at__gte=since, delivered_at__lt=now, **scope)
            .values_list("buyer_id")
            .annotate(v=Sum("total_amount"))
        )
        return {b: Decimal(v) for b, v in rows}
    if basis == TierBasis.ENGAGEMENT:
        values: dict[int, Decimal] = {}
        events = (
            EngagementEvent.objects.filter(kind__in=ENGAGEMENT_KINDS, buyer__isnull=False, occurred_at__gte=since, occurred_at__lt=now, **scope)
            .values_list("buyer_id")
            .annotate(v=Count("id"))
        )
        reviews = Review.objects.filter(created_at__gte=since, created_at__lt=now, **scope).values_list("buyer_id").annotate(v=Count("id"))
        for b, v in [*events, *reviews]:
            values[b] = values.get(b, Decimal(0)) + v
        return values
    raise ValidationError({"basis": f"Unknown tier basis {basis!r}."})


class _Ladder:
    def __init__(self, tiers):
        self.tiers = sorted(tiers, key=lambda t: t["threshold"] if isinstance(t, dict) else t.threshold)
        self.thresholds = [t["threshold"] if isinstance(t, dict) else t.threshold for t in self.tiers]

    def place(self, value: Decimal):
        i = bisect_right(self.thresholds, value)
        return self.tiers[i - 1] if i else None


def tiers_preview(*, tiers: list[dict], basis: str | None = None, window_days: int | None = None,
                  grace_days: int | None = None, now: datetime | None = None) -> dict:
    """Members per tier under a candidate configuration, before it is saved.

    ``members`` counts the tier each member qualifies for. ``members_after_recompute`` is what
    the next recompute would leave them in: active overrides keep their tier (matched by code),
    and members who would drop below the tier they hold keep it while inside the grace period.
    """
    now = now or timezone.now()
    program = program_get()
    cleaned = tiers_validate(tiers=tiers)
    basis = basis or program.tier_basis
    if basis not in TierBasis.values:
        raise ValidationError({"basis": f"Unknown tier basis {basis!r}."})
    if grace_days is not None and grace_days < 0:
        raise ValidationError({"grace_days": "The grace period cannot be negative."})
    window_days = window_days or program.tier_window_days
    grace = timedelta(days=program.downgrade_grace_days if grace_days is None else grace_days)
    values = tier_basis_values(basis=basis, window_days=window_days, now=now)
    ladder = _Ladder(cleaned)
    rank = {t["code"]: t["rank"] for t in cleaned}
    held = {
        row[0]: row[1:]
        for row in BuyerTier.objects.filter(tier__isnull=False).values_list("buyer_id", "tier__code", "below_since", "override_id")
    }
    overrides = dict(
        TierOverride.objects.filter(starts_at__lte=now, ends_at__gt=now).order_by("created_at").values_list("buyer_id", "tier__code")
    )
    qualified_counts = dict.fromkeys(rank, 0)
    after_counts = dict.fromkeys(rank, 0)
    by_override = by_grace = 0
    members = 0
    for buyer_id in Buyer.objects.values_list("pk", flat=True).iterator(chunk_size=10000):
        members += 1
        tier = ladder.place(values.get(buyer_id, Decimal(0)))
        qualified = tier["code"] if tier else None
        if qualified:
            qualified_counts[qualified] += 1
        held_code, below_since, held_by_override = held.get(buyer_id, (None, None, None))
        override = overrides.get(buyer_id) if overrides.get(buyer_id) in rank else None
        code, cause, kept_below_since = _placement(
            qualified=qualified, held=held_code if held_code in rank else None, held_by_override=held_by_override is not None,
            below_since=below_since, override_tier=override, now=now, grace=grace, rank=rank.__getitem__,
        )
        by_override += cause == TierChangeCause.OVERRIDE and code != qualified
        by_grace += kept_below_since is not None
        if code:
            after_counts[code] += 1
    current = dict(BuyerTier.objects.filter(tier__isnull=False).values_list("tier__code").annotate(n=Count("id")))
    return {
        "basis": basis,
        "window_days": window_days,
        "grace_days": grace.days,
        "members": members,
        "tiers": [{"code": t["code"], "threshold": str(t["threshold"]), "members": qualified_counts[t["code"]],
                   "members_after_recompute": after_counts[t["code"]], "members_now": current.get(t["code"], 0)}
                  for t in cleaned],
        "no_tier": members - sum(qualified_counts.values()),
        "held_by_override": by_override,
        "kept_by_grace": by_grace,
    }


@transaction.atomic
def tiers_configure(*, tiers: list[dict], actor, basis: str | None = None, window_days: int | None = None,
                    grace_days: int | None = None) -> list[Tier]:
    """Replace the tier table (and optionally the basis). Admin only; all or nothing."""
    if not is_marketplace_admin(actor):
        raise PermissionDenied("Only Marketplace Admins may configure tiers.")
    cleaned = tiers_validate(tiers=tiers)
    program = program_get()
    if basis is not None:
        if basis not in TierBasis.values:
            raise ValidationError({"basis": f"Unknown tier basis {basis!r}."})
        program.tier_basis = basis
    if window_days is not None:
        if window_days < 1:
            raise ValidationError({"window_days": "The window must be at least one day."})
        program.tier_window_days = window_days
    if grace_days is not None:
        if grace_days < 0:
            raise ValidationError({"grace_days": "The grace period cannot be negative."})
        program.downgrade_grace_days = grace_days
    program.save()
    existing = {t.code: t for t in Tier.objects.select_for_update()}
    removed = set(existing) - {t["code"] for t in cleaned}
    if removed and BuyerTier.objects.filter(tier__code__in=removed).exists():
        raise ValidationError({"tiers": f"Tiers {sorted(removed)} still have members; recompute before removing them."})
    Tier.objects.filter(code__in=removed).delete()
    # Shift ranks and thresholds out of the way first so the unique constraints hold mid-update.
    Tier.objects.filter(code__in=set(existing) - removed).update(rank=F("rank") + 10000, threshold=F("threshold") + 10**11)
    out = []
    for t in cleaned:
        tier, _ = Tier.objects.update_or_create(code=t["code"], defaults={k: v for k, v in t.items() if k != "code"})
        out.append(tier)
    return out


@transaction.atomic
def tier_override_create(*, buyer_id: int, tier_id: int, reason: str, ends_at: datetime, actor,
                         starts_at: datetime | None = None) -> TierOverride:
    if not is_marketplace_admin(actor):
        raise PermissionDenied("Only Marketplace Admins may override tiers.")
    now = timezone.now()
    starts_at = starts_at or now
    if not (reason or "").strip():
        raise ValidationError({"reason": "An override needs a reason."})
    if ends_at <= starts_at:
        raise ValidationError({"ends_at": "The end date must be after the start."})
    tier = Tier.objects.filter(pk=tier_id).first()
    if tier is None:
        raise ValidationError({"tier": "Unknown tier."})
    override = TierOverride.objects.create(
        buyer_id=buyer_id, tier=tier, reason=reason.strip(), starts_at=starts_at, ends_at=ends_at, created_by=actor
    )
    if starts_at <= now:
        tiers_recompute(buyer_ids=[buyer_id], now=now)
    return override


def _placement(*, qualified, held, held_by_override: bool, below_since, override_tier, now, grace, rank):
    """(tier, cause, below_since) the next recompute gives a member; tiers are anything ``rank`` orders.

    An active override wins. A member below the tier they hold keeps it for the grace period,
    counted from the first recompute that found them below, unless an override had put them
    there; otherwise they move to the tier they qualify for.
    """
    if override_tier is not None:
        return override_tier, TierChangeCause.OVERRIDE, None
    if held is not None and (qualified is None or rank(qualified) < rank(held)):
        if held_by_override:
            return qualified, TierChangeCause.OVERRIDE_ENDED, None
        below_since = below_since or now
        if now - below_since < grace:
            return held, TierChangeCause.RECOMPUTE, below_since  # inside the grace period: keep the tier
        return qualified, TierChangeCause.GRACE_EXPIRED, None
    return qualified, TierChangeCause.RECOMPUTE, None


def tiers_recompute(*, buyer_ids=None, id_range: tuple[int, int] | None = None, now: datetime | None = None) -> dict:
    """Place every member (or the given ones, or those with ids in ``id_range``, both ends
    included) in a tier; record each change with its cause.

    Upgrades apply at once. A member below their tier keeps it for the grace period, counted
    from the first recompute that found them below. Active overrides win; when one ends the
    member moves straight to the tier they qualify for.
    """
    now = now or timezone.now()
    program = program_get()
    ladder = _Ladder(list(Tier.objects.all()))
    grace = timedelta(days=program.downgrade_grace_days)
    values = tier_basis_values(
        basis=program.tier_basis, window_days=program.tier_window_days, now=now, buyer_ids=buyer_ids, id_range=id_range
    )
    scope = _member_scope(buyer_ids=buyer_ids, id_range=id_range)
    members = Buyer.objects.filter(**_member_scope(buyer_ids=buyer_ids, id_range=id_range, field="pk"))
    overrides = {
        o.buyer_id: o
        for o in TierOverride.objects.filter(starts_at__lte=now, ends_at__gt=now, **scope)
        .select_related("tier")
        .order_by("created_at")
    }
    tiers_by_id = {t.pk: t for t in ladder.tiers}
    # Plain rows: loading 200,000 model instances took longer than the recompute itself.
    current = {
        row["buyer_id"]: row
        for row in BuyerTier.objects.filter(**scope).values(
            "id", "buyer_id", "tier_id", "below_since", "basis_value", "override_id"
        )
    }
    creates, updates, changes = [], [], []
    stats = {"members": 0, "changed": 0}
    with transaction.atomic():
        for buyer_id in members.values_list("pk", flat=True).iterator(chunk_size=10000):
            stats["members"] += 1
            value = values.get(buyer_id, Decimal(0))
            qualified = ladder.place(value)
            override = overrides.get(buyer_id)
            bt = current.get(buyer_id)
            target, cause, below_since = _placement(
                qualified=qualified,
                held=tiers_by_id.get(bt["tier_id"]) if bt is not None else None,
                held_by_override=bt is not None and bt["override_id"] is not None,
                below_since=bt["below_since"] if bt is not None else None,
                override_tier=override.tier if override is not None else None,
                now=now,
                grace=grace,
                rank=lambda tier: tier.rank,
            )
            if bt is None:
                # Rows as dicts: for 200,000 members, model instances cost more than the writes.
                creates.append({"buyer_id": buyer_id, "tier_id": target.pk if target else None, "basis_value": value,
                                "since": now, "below_since": below_since, "computed_at": now,
                                "override_id": override.pk if override else None})
                if target is not None:
                    changes.append({"buyer_id": buyer_id, "from_tier_id": None, "to_tier_id": target.pk, "cause": cause,
                                    "basis_value": value, "override_id": override.pk if override else None,
                                    "created_at": now, "detail": _detail(cause, value, program, override)})
                continue
            target_id = target.pk if target else None
            override_id = override.pk if override else None
            moved = bt["tier_id"] != target_id
            if moved:
                changes.append({"buyer_id": buyer_id, "from_tier_id": bt["tier_id"], "to_tier_id": target_id,
                                "cause": cause, "basis_value": value, "override_id": override_id,
                                "created_at": now, "detail": _detail(cause, value, program, override)})
            if moved or bt["below_since"] != below_since or bt["basis_value"] != value or bt["override_id"] != override_id:
                updates.append({"id": bt["id"], "tier_id": target_id, "below_since": below_since, "basis_value": value,
                                "computed_at": now, "override_id": override_id,
                                **({"since": now} if moved else {})})
        # Members without a row were read inside this transaction, so the rows go straight in by
        # COPY; a concurrent placement that got there first sends them through the conflict-skipping path.
        insert_ignoring_conflicts(BuyerTier, creates, conflicts_expected=False)
        moved_rows = [u for u in updates if "since" in u]
        update_rows(BuyerTier, moved_rows, ["tier", "since", "below_since", "basis_value", "computed_at", "override"])
        update_rows(BuyerTier, [u for u in updates if "since" not in u],
                    ["tier", "below_since", "basis_value", "computed_at", "override"])
        insert_ignoring_conflicts(TierChange, changes, conflicts_expected=False)  # a history: nothing to conflict with
    stats["changed"] = len(changes)
    return stats


def _detail(cause: str, value: Decimal, program, override) -> str:
    if override is not None:
        return f"Override until {override.ends_at:%Y-%m-%d}: {override.reason}"[:255]
    return f"{program.get_tier_basis_display()}: {value} over {program.tier_window_days} days ({cause})"[:255]


def tier_progress(*, buyer_id: int, now: datetime | None = None) -> dict:
    now = now or timezone.now()
    program = program_get()
    value = tier_basis_values(basis=program.tier_basis, window_days=program.tier_window_days, now=now, buyer_ids=[buyer_id]).get(buyer_id, Decimal(0))
    bt = BuyerTier.objects.filter(buyer_id=buyer_id).select_related("tier").first()
    tier = bt.tier if bt else None
    nxt = Tier.objects.filter(rank__gt=tier.rank if tier else -1).order_by("rank").first()
    return {
        "tier": tier.code if tier else None,
        "tier_name": tier.name if tier else None,
        "multiplier": str(tier.multiplier) if tier else "1",
        "perks": tier.perks if tier else "",
        "basis": program.tier_basis,
        "window_days": program.tier_window_days,
        "value": str(value),
        "next_tier": nxt.code if nxt else None,
        "next_tier_name": nxt.name if nxt else None,
        "needed_for_next": str(max(nxt.threshold - value, Decimal(0))) if nxt else None,
        "progress": float(min(value / nxt.threshold, 1)) if nxt and nxt.threshold else 1.0,
        "grace_until": (bt.below_since + timedelta(days=program.downgrade_grace_days)) if bt and bt.below_since else None,
    }
