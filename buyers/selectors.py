"""Reads for retention: segments, profiles, audiences and the intervention report."""

from __future__ import annotations

from buyers.models import Buyer, BuyerRetention, BuyerSegmentChange, RetentionSettings, Segment


def retention_settings_get() -> RetentionSettings:
    settings, _ = RetentionSettings.objects.get_or_create(pk=1)
    return settings


def buyer_segments(*, buyer_ids) -> dict[int, str]:
    """Each buyer's current segment code; buyers never computed (or unknown) are 'new'."""
    buyer_ids = list(buyer_ids)
    known = dict(BuyerRetention.objects.filter(buyer_id__in=buyer_ids).values_list("buyer_id", "segment"))
    return {buyer_id: known.get(buyer_id, Segment.NEW.value) for buyer_id in buyer_ids}


def buyer_ids_in_segment(*, segment: str):
    """A lazy queryset of buyer ids currently in ``segment`` (for promotions targeting a segment)."""
    return BuyerRetention.objects.filter(segment=segment).values_list("buyer_id", flat=True)


def buyer_get(*, buyer_id: int) -> Buyer | None:
    return Buyer.objects.filter(pk=buyer_id).first()


def buyer_retention_profile(*, buyer_id: int) -> dict | None:
    """The buyer's stored retention picture; defined defaults before the first recompute. None: unknown buyer."""
    buyer = Buyer.objects.filter(pk=buyer_id).first()
    if buyer is None:
        return None
    row = BuyerRetention.objects.select_related("top_seller").filter(buyer_id=buyer_id).first()
    history = [
        {"from": c.from_segment, "to": c.to_segment, "at": c.changed_at.isoformat()}
        for c in BuyerSegmentChange.objects.filter(buyer_id=buyer_id).order_by("-changed_at", "-pk")[:20]
    ]
    if row is None:
        row = BuyerRetention(buyer=buyer, reasons=["Not computed yet."])
    top = row.top_seller if row.top_seller_id else None
    return {
        "buyer_id": buyer.pk,
        "external_id": buyer.external_id,
        "computed": row.computed_at is not None,
        "computed_at": row.computed_at,
        "segment": row.segment,
        "segment_since": row.segment_since,
        "segment_history": history,
        "order_count": row.order_count,
        "frequency": row.frequency,
        "recency_days": row.recency_days,
        "age_days": row.age_days,
        "days_since_last_order": row.days_since_last_order,
        "total_spend": row.total_spend,
        "p_alive": row.p_alive if row.computed_at else 1.0,
        "expected_purchases_90d": row.expected_purchases_90d,
        "expected_order_value": row.expected_order_value,
        "clv": row.clv,
        "churn_probability": row.churn_probability,
        "churn_band": row.churn_band,
        "churn_model_version": row.churn_model_version,
        "cadence_days": row.cadence_days,
        "cadence_is_estimated": row.cadence_is_estimated,
        "next_purchase_from": row.next_purchase_from,
        "next_purchase_to": row.next_purchase_to,
        "cadence_state": row.cadence_state,
        "top_artisan": {"id": top.pk, "name": top.name, "craft_category": top.craft_category} if top else None,
        "reasons": row.reasons,
    }


def buyer_recommendations(*, buyer_id: int) -> dict | None:
    """Stored recommendations with listing and artisan details (3 queries). None: unknown buyer."""
    from sellers.models import Listing, Seller

    if not Buyer.objects.filter(pk=buyer_id).exists():
        return None
    row = BuyerRetention.objects.filter(buyer_id=buyer_id).first()
    listing_ids = row.recommended_listing_ids if row else []
    seller_ids = row.recommended_seller_ids if row else []
    listings = {
        listing.pk: listing
        for listing in Listing.objects.filter(pk__in=listing_ids, is_active=True).select_related("seller")
    }
    sellers = {seller.pk: seller for seller in Seller.objects.filter(pk__in=seller_ids)}
    return {
        "buyer_id": buyer_id,
        "computed_at": row.computed_at if row else None,
        "listings": [
            {"id": l.pk, "title": l.title, "artisan_id": l.seller_id, "artisan": l.seller.name, "price": l.price}
            for l in (listings[i] for i in listing_ids if i in listings)
        ],
        "artisans": [
            {"id": s.pk, "name": s.name, "craft_category": s.craft_category}
            for s in (sellers[i] for i in seller_ids if i in sellers)
        ],
    }
