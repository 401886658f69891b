"""Which team works each kind of case, and how fast (the SLA)."""

from dataclasses import dataclass
from datetime import timedelta

from casework.models import CaseKind, Outcome, Priority, Team


@dataclass(frozen=True)
class KindPolicy:
    team: str
    sla: timedelta
    priority: int = Priority.NORMAL


KIND_POLICIES: dict[str, KindPolicy] = {
    CaseKind.ONBOARDING_REVIEW: KindPolicy(Team.CUSTOMER_SUCCESS, timedelta(days=2), Priority.HIGH),
    CaseKind.ONBOARDING_CALL: KindPolicy(Team.SELLER_SUPPORT, timedelta(days=3)),
    CaseKind.WORKSHOP_ASSIGNMENT: KindPolicy(Team.SELLER_SUPPORT, timedelta(days=5)),
    CaseKind.INVENTORY_AUDIT: KindPolicy(Team.SELLER_SUPPORT, timedelta(days=7), Priority.LOW),
    CaseKind.SELLER_DORMANT: KindPolicy(Team.SELLER_SUPPORT, timedelta(days=7)),
    CaseKind.SELLER_QUALITY_ALERT: KindPolicy(Team.SELLER_SUPPORT, timedelta(days=3), Priority.HIGH),
    CaseKind.BUYER_CHURN_RISK: KindPolicy(Team.CUSTOMER_SUCCESS, timedelta(days=5)),
    CaseKind.DETRACTOR_FOLLOWUP: KindPolicy(Team.CUSTOMER_SUCCESS, timedelta(days=2), Priority.HIGH),
    CaseKind.FEEDBACK_MATCH: KindPolicy(Team.CUSTOMER_SUCCESS, timedelta(days=7), Priority.LOW),
    CaseKind.SELLER_LATE_SHIPMENTS: KindPolicy(Team.SELLER_SUPPORT, timedelta(days=3), Priority.HIGH),
}


def policy_for(kind: str) -> KindPolicy:
    return KIND_POLICIES[CaseKind(kind)]


# The outcomes that make sense when closing each kind of case. An onboarding call or workshop
# case has no "approved" or "rejected": no onboarding step approves or rejects from there, so
# recording one would leave the artisan where they were behind a closed case. "Assigned to a
# workshop" is recorded only by the seat action, with the seat booked (casework.workbench.STEP_OUTCOMES).
KIND_OUTCOMES: dict[str, tuple[str, ...]] = {
    CaseKind.ONBOARDING_REVIEW: (Outcome.APPROVED, Outcome.REJECTED, Outcome.INFO_REQUESTED, Outcome.WORKSHOP_ASSIGNED),
    CaseKind.ONBOARDING_CALL: (Outcome.CALL_COMPLETED, Outcome.NO_ACTION),
    CaseKind.WORKSHOP_ASSIGNMENT: (Outcome.WORKSHOP_ASSIGNED,),
    CaseKind.INVENTORY_AUDIT: (Outcome.FIXED, Outcome.CONTACTED, Outcome.NO_ACTION),
    CaseKind.SELLER_DORMANT: (Outcome.CONTACTED, Outcome.RETAINED, Outcome.NO_ACTION),
    CaseKind.SELLER_QUALITY_ALERT: (Outcome.CONTACTED, Outcome.FIXED, Outcome.NO_ACTION),
    CaseKind.BUYER_CHURN_RISK: (Outcome.CONTACTED, Outcome.RETAINED, Outcome.NO_ACTION),
    CaseKind.DETRACTOR_FOLLOWUP: (Outcome.CONTACTED, Outcome.FIXED, Outcome.RETAINED, Outcome.NO_ACTION),
    CaseKind.FEEDBACK_MATCH: (Outcome.MATCHED, Outcome.NO_ACTION),
    CaseKind.SELLER_LATE_SHIPMENTS: (Outcome.CONTACTED, Outcome.WORKSHOP_ASSIGNED, Outcome.FIXED, Outcome.NO_ACTION),
}


def outcome_choices(kinds) -> list[tuple[str, str]]:
    """Outcomes valid for every one of the given kinds, as form choices."""
    allowed = set(Outcome.values)
    for kind in set(kinds):
        allowed &= set(KIND_OUTCOMES.get(kind, Outcome.values))
    return [(value, label) for value, label in Outcome.choices if value in allowed]
