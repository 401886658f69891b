"""Campaign audiences: who to contact, and what to say to each person."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import timedelta

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from buyers.models import BuyerRetention, CadenceState, CampaignAudience, ChurnBand, Segment
from core import formatting
from core.roles import is_marketplace_admin
from sellers.models import Listing

FILTER_CHOICES = {
    "segments": Segment.values,
    "churn_bands": ChurnBand.values,
    "cadence_states": CadenceState.values,
}
EXPORT_FIELDS = [
    "buyer_id", "external_id", "name", "email", "segment", "churn_band", "churn_probability", "cadence_state",
    "next_purchase_from", "next_purchase_to", "clv_12m", "top_artisan", "recommended_listings", "reason_for_contact",
]
BATCH = 2000


def audience_filters_clean(data: dict) -> dict:
    """Validate filters; raises ValidationError keyed by the offending field."""
    errors: dict[str, str] = {}
    cleaned: dict = {}
    for field, allowed in FILTER_CHOICES.items():
        value = data.get(field) or []
        if isinstance(value, str):
            value = [v for v in value.split(",") if v]
        if not isinstance(value, (list, tuple)):
            errors[field] = "Expected a list of codes."
            continue
        unknown = [v for v in value if v not in allowed]
        if unknown:
            errors[field] = f"Unknown value(s) {', '.join(map(str, unknown))}; choose from {', '.join(allowed)}."
            continue
        cleaned[field] = list(dict.fromkeys(value))
    days = data.get("points_expiring_within_days")
    if days in (None, ""):
        cleaned["points_expiring_within_days"] = None
    else:
        try:
            days = int(days)
        except (TypeError, ValueError):
            days = -1
        if not 1 <= days <= 366:
            errors["points_expiring_within_days"] = "Must be a whole number of days between 1 and 366."
        else:
            cleaned["points_expiring_within_days"] = days
    if errors:
        raise ValidationError(errors)
    return cleaned


def audience_save(*, actor, name: str, filters: dict, audience: CampaignAudience | None = None) -> CampaignAudience:
    if not is_marketplace_admin(actor):
        raise PermissionDenied("Only marketplace admins define campaign audiences.")
    if not (name or "").strip():
        raise ValidationError({"name": "An audience needs a name."})
    cleaned = audience_filters_clean(filters)
    with transaction.atomic():
        audience = audience or CampaignAudience(created_by=actor)
        audience.name = name.strip()
        for field, value in cleaned.items():
            setattr(audience, field, value)
        audience.full_clean()
        audience.save()
    return audience


def audience_filters_of(audience: CampaignAudience) -> dict:
    return {
        "segments": audience.segments,
        "churn_bands": audience.churn_bands,
        "cadence_states": audience.cadence_states,
        "points_expiring_within_days": audience.points_expiring_within_days,
    }


def audience_members(*, filters: dict) -> QuerySet[BuyerRetention]:
    filters = audience_filters_clean(filters)
    members = BuyerRetention.objects.select_related("buyer", "top_seller").order_by("buyer_id")
    if filters["segments"]:
        members = members.filter(segment__in=filters["segments"])
    if filters["churn_bands"]:
        members = members.filter(churn_band__in=filters["churn_bands"])
    if filters["cadence_states"]:
        members = members.filter(cadence_state__in=filters["cadence_states"])
    if filters["points_expiring_within_days"]:
        from loyalty.models import EntryState, PointsEntry

        now = timezone.now()
        expiring = PointsEntry.objects.filter(
            buyer_id=OuterRef("buyer_id"),
            state=EntryState.ACTIVE,
            remaining__gt=0,
            expires_at__gt=now,
            expires_at__lte=now + timedelta(days=filters["points_expiring_within_days"]),
        )
        members = members.filter(Exists(expiring))
    return members


def contact_reason(row: BuyerRetention, *, points_days: int | None = None) -> str:
    """One sentence a marketer can act on, from the buyer's own numbers."""
    top = row.top_seller.name if row.top_seller_id else None
    if points_days:
        return f"Has loyalty points expiring within {points_days} days" + (f"; favourite artisan {top}." if top else ".")
    if row.segment == Segment.LAPSING:
        cadence = f"usually buys every {row.cadence_days:.0f} days" if row.cadence_days else "was a regular"
        return f"Lapsing: {cadence}, last order {row.days_since_last_order or 0:.0f} days ago."
    if row.segment == Segment.CHURNED:
        return f"Win-back: no order for {row.days_since_last_order or 0:.0f} days."
    if row.segment == Segment.HIGH_VALUE:
        return f"High-value customer ({row.order_count} orders); thank and reward" + (f", new pieces from {top}." if top else ".")
    if row.segment == Segment.NEW:
        return "New buyer: welcome and suggest a second purchase." if row.order_count else "Signed up but has not bought yet."
    if row.cadence_state == CadenceState.DUE:
        return f"Due for the next purchase (usually every {row.cadence_days or 0:.0f} days)."
    return f"Potential: {formatting.plural(row.order_count, 'order')}, likely to buy again (P(alive) {row.p_alive:.0%})."


def audience_rows(*, filters: dict, buyer_ids=None) -> Iterator[dict]:
    """Personalised rows in batches: a fixed number of queries per BATCH buyers."""
    cleaned = audience_filters_clean(filters)
    members = audience_members(filters=cleaned)
    if buyer_ids is not None:
        members = members.filter(buyer_id__in=list(buyer_ids))
    last_id = 0
    while True:
        batch = list(members.filter(buyer_id__gt=last_id)[:BATCH])
        if not batch:
            return
        listing_ids = {i for row in batch for i in row.recommended_listing_ids[:3]}
        titles = dict(Listing.objects.filter(pk__in=listing_ids).values_list("pk", "title"))
        for row in batch:
            yield {
                "buyer_id": row.buyer_id,
                "external_id": row.buyer.external_id,
                "name": row.buyer.name,
                "email": row.buyer.email,
                "segment": row.segment,
                "churn_band": row.churn_band,
                "churn_probability": round(row.churn_probability, 3),
                "cadence_state": row.cadence_state,
                "next_purchase_from": row.next_purchase_from.date().isoformat() if row.next_purchase_from else "",
                "next_purchase_to": row.next_purchase_to.date().isoformat() if row.next_purchase_to else "",
                "clv_12m": f"{row.clv:.2f}",
                "top_artisan": row.top_seller.name if row.top_seller_id else "",
                "recommended_listings": [
                    {"id": i, "title": titles[i]} for i in row.recommended_listing_ids[:3] if i in titles
                ],
                "reason_for_contact": contact_reason(row, points_days=cleaned["points_expiring_within_days"]),
            }
        last_id = batch[-1].buyer_id


def audience_csv_lines(*, filters: dict) -> Iterator[str]:
    """CSV text, one line at a time, for a streaming response."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_FIELDS)
    writer.writeheader()
    yield buffer.getvalue()
    for row in audience_rows(filters=filters):
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(row | {"recommended_listings": "; ".join(item["title"] for item in row["recommended_listings"])})
        yield buffer.getvalue()
