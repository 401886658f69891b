"""The onboarding and workshop actions of the case workbench, registered from ``SellersConfig.ready``.

The workbench (``casework/workbench.py``) sits below sellers, so the actions that call the
onboarding services are handed to it here rather than imported by it. "seat" also serves
late-shipment coaching cases: the artisan is seated like any other, and the case closes.
"""

from django.core.exceptions import ValidationError

from casework import workbench
from core.formatting import day_and_time
from sellers import selectors
from sellers import services as onboarding
from sellers.models import WorkshopSession

ONBOARDING_VERBS = ("approve", "reject", "request_info", "approve_and_seat", "seat", "complete_call")


def onboarding_case_work(*, case, verb: str, actor, note: str = "", session=None) -> str:
    seller = case.seller
    if verb in ("approve", "reject", "request_info"):
        onboarding.onboarding_review_decide(seller=seller, decision=verb, actor=actor, note=note)
        return {
            "approve": f"Approved: {seller} now waits in the workshop queue",
            "reject": f"Rejected: {seller} was told by email",
            "request_info": f"Asked {seller} for more information",
        }[verb]
    if verb in ("approve_and_seat", "seat"):
        if session is None:
            raise ValidationError({"session": "Choose a workshop session with a free seat."})
        if verb == "approve_and_seat":
            onboarding.onboarding_review_decide(seller=seller, decision="approve", actor=actor, note=note)
        onboarding.workshop_assign_from_case(case=case, session=session, actor=actor)
        return f"Seated {seller} in {session.workshop.topic} on {day_and_time(session.starts_at)}"
    if verb == "complete_call":
        onboarding.onboarding_call_complete(seller=seller, actor=actor, note=note)
        return f"Onboarding call held: {seller} is onboarded"
    raise ValidationError(f"Unknown action “{verb}”.")  # pragma: no cover - ONBOARDING_VERBS guards this


def _session_get(pk):
    return WorkshopSession.objects.select_related("workshop").filter(pk=pk).first()


def register() -> None:
    workbench.actions_register(ONBOARDING_VERBS, onboarding_case_work)
    workbench.sessions_register(
        queryset=selectors.workshop_sessions_with_seats, label=selectors.workshop_session_label, get=_session_get,
    )
