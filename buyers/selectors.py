"""Reads for retention: segments, profiles, audiences and the intervention report."""

from __future__ import annotations

from buyers.models import Buyer, BuyerRetention, RetentionSettings, Segment


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
