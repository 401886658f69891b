"""Reads for the Buyer 360 page: everything customer success needs about one buyer, in a bounded number of queries."""

from django.db.models import Prefetch

from buyers.models import Buyer, InterventionAssignment
from buyers.selectors import buyer_retention_profile
from casework.models import Case
from feedback.models import Response, ResponseTheme
from loyalty.selectors import buyer_effective_tiers, ledger_history, member_badges, member_balance
from marketplace.models import Order

RECENT = 10


def buyer_360_get(*, buyer: Buyer) -> dict:
    """Identity, retention, loyalty, orders, feedback, cases and intervention group of one buyer."""
    responses = list(
        Response.objects.filter(buyer=buyer)
        .select_related("survey", "seller")
        .prefetch_related(Prefetch("theme_codes", queryset=ResponseTheme.objects.select_related("theme")))
        .order_by("-submitted_at")[:RECENT]
    )
    nps_history = list(
        Response.objects.filter(buyer=buyer, nps__isnull=False).order_by("submitted_at").values_list("submitted_at", "nps")[:24]
    )
    return {
        "buyer": buyer,
        "retention": buyer_retention_profile(buyer_id=buyer.pk),
        "tier": buyer_effective_tiers(buyer_ids=[buyer.pk]).get(buyer.pk),
        "balance": member_balance(buyer_id=buyer.pk),
        "badges": member_badges(buyer_id=buyer.pk),
        "ledger": list(ledger_history(buyer_id=buyer.pk)[:RECENT]),
        "orders": list(Order.objects.filter(buyer=buyer).select_related("seller").order_by("-placed_at")[:RECENT]),
        "order_count": Order.objects.filter(buyer=buyer).count(),
        "responses": responses,
        "nps_history": nps_history,
        "cases": list(Case.objects.filter(buyer=buyer).select_related("assignee").order_by("-created_at")[:20]),
        "intervention": InterventionAssignment.objects.filter(buyer=buyer).select_related("case").order_by("-flagged_at").first(),
    }
