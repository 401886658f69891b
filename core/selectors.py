"""Read-side views of the pipeline's output, used to compare runs row for row."""

from django.apps import apps

# What each stage writes, as (model, columns that must match between two runs of the same day).
# Timestamps of when a row was written are left out: they differ by design.
PIPELINE_OUTPUTS: dict[str, tuple[str, ...]] = {
    "scoring.SellerScore": ("seller_id", "score", "probability", "cold_start"),
    "buyers.BuyerRetention": ("buyer_id", "segment", "churn_band", "churn_probability", "p_alive", "clv", "cadence_state"),
    "loyalty.PointsEntry": ("buyer_id", "amount", "kind", "state", "source_type", "source_id", "remaining"),
    "loyalty.BuyerTier": ("buyer_id", "tier_id"),
    "loyalty.BadgeAward": ("buyer_id", "badge_id"),
    "casework.Case": ("kind", "seller_id", "buyer_id", "status", "reason"),
    "dashboard.KpiSnapshot": ("as_of", "kpi", "group_by", "group", "value"),
}


def pipeline_outputs_digest() -> dict[str, list[tuple]]:
    digest = {}
    for label, columns in PIPELINE_OUTPUTS.items():
        model = apps.get_model(label)
        rows = model.objects.order_by(*columns).values_list(*columns)
        digest[label] = [tuple(round(v, 6) if isinstance(v, float) else v for v in row) for row in rows]
    return digest
