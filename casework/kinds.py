"""Which team works each kind of case, and how fast (the SLA)."""

from dataclasses import dataclass
from datetime import timedelta

from casework.models import CaseKind, Priority, Team


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
}


def policy_for(kind: str) -> KindPolicy:
    return KIND_POLICIES[CaseKind(kind)]
