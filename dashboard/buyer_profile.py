"""Reads for the Buyer 360 page: everything customer success needs about one buyer, in a bounded number of queries."""

from datetime import datetime

from django.db.models import Prefetch

from buyers.models import Buyer, CadenceState, InterventionAssignment, Segment
from buyers.selectors import buyer_retention_profile
from casework.models import Case, CaseKind
from core import formatting
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
    retention = buyer_retention_profile(buyer_id=buyer.pk)
    intervention = InterventionAssignment.objects.filter(buyer=buyer).select_related("case").order_by("-flagged_at").first()
    return {
        "buyer": buyer,
        "retention": retention,
        "retention_shown": _retention_shown(retention),
        "tier": buyer_effective_tiers(buyer_ids=[buyer.pk]).get(buyer.pk),
        "balance": member_balance(buyer_id=buyer.pk),
        "badges": member_badges(buyer_id=buyer.pk),
        "ledger": list(ledger_history(buyer_id=buyer.pk)[:RECENT]),
        "orders": list(Order.objects.filter(buyer=buyer).select_related("seller").order_by("-placed_at")[:RECENT]),
        "order_count": Order.objects.filter(buyer=buyer).count(),
        "responses": responses,
        "nps_history": nps_history,
        "cases": list(Case.objects.filter(buyer=buyer).select_related("assignee").order_by("-created_at")[:20]),
        "intervention": intervention,
        "intervention_kind": _label(CaseKind.choices, intervention.kind) if intervention else "",
    }


def _label(choices, code) -> str:
    return dict(choices).get(code, code or formatting.DASH)


def _retention_shown(retention: dict | None) -> dict | None:
    """The retention picture's codes as their names ("High value", not "high_value") and its
    segment moves dated as the back-office writes days ("3 Dec 2026")."""
    if retention is None:
        return None
    return {
        "segment": _label(Segment.choices, retention["segment"]),
        "cadence_state": _label(CadenceState.choices, retention["cadence_state"]),
        "segment_history": [
            {
                "from": _label(Segment.choices, change["from"]),
                "to": _label(Segment.choices, change["to"]),
                "on": formatting.day(datetime.fromisoformat(change["at"])),
            }
            for change in retention["segment_history"]
        ],
    }
