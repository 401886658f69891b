"""Working a case from any page that shows it: one entry point per verb, whatever the kind.

The admin pages (the Case list and every queue) only collect input and show the message
returned here; the state changes live in ``casework.services`` and, for onboarding and
workshops, in ``sellers.services``, whose actions ``sellers/workbench_actions.py`` registers
here (``actions_register``, ``sessions_register``) so that casework imports no app above it.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction

from casework import services
from casework.kinds import outcome_choices
from casework.models import Case, CaseKind, Outcome
from core.roles import can_work_team


@dataclass(frozen=True)
class Verb:
    name: str
    label: str
    needs_note: bool = False
    needs_session: bool = False


# Actions every case offers.
COMMON_VERBS = ("assign_me", "unassign", "resolve", "dismiss", "comment")

# Actions only some kinds offer, in the order their buttons appear.
KIND_VERBS: dict[str, tuple[Verb, ...]] = {
    CaseKind.ONBOARDING_REVIEW: (
        Verb("approve", "Approve (sends the artisan to the workshop queue)"),
        Verb("reject", "Reject"),
        Verb("request_info", "Request information", needs_note=True),
        Verb("approve_and_seat", "Approve and assign a workshop", needs_session=True),
    ),
    CaseKind.ONBOARDING_CALL: (Verb("complete_call", "Call held: complete onboarding"),),
    CaseKind.WORKSHOP_ASSIGNMENT: (Verb("seat", "Assign to this workshop session", needs_session=True),),
    CaseKind.INVENTORY_AUDIT: (Verb("fixed", "Listings fixed"),),
    # Coaching may be a workshop seat: the seat is booked like any other, and the case closes with it.
    CaseKind.SELLER_LATE_SHIPMENTS: (Verb("seat", "Assign to this workshop session", needs_session=True),),
}


@dataclass(frozen=True)
class StepOutcome:
    """An outcome that says a domain step was done, and the kind's action that does the step.

    ``refusal`` is set when that action needs input Resolve does not collect (a session) or
    does not close the case (a request for information): Resolve then names the button instead.
    """

    verb: str
    refusal: str = ""


# Resolve never just records one of these: an artisan would stay where they were behind a closed
# case. It does the step through the kind's own action (one service, same checks), or refuses.
STEP_OUTCOMES: dict[str, dict[str, StepOutcome]] = {
    CaseKind.ONBOARDING_REVIEW: {
        Outcome.APPROVED: StepOutcome("approve"),
        Outcome.REJECTED: StepOutcome("reject"),
        Outcome.INFO_REQUESTED: StepOutcome(
            "request_info",
            "Use “Request information” to ask this artisan for more: it emails them what to send and keeps "
            "the case open until they answer.",
        ),
        Outcome.WORKSHOP_ASSIGNED: StepOutcome(
            "approve_and_seat",
            "Use “Approve and assign a workshop” to seat this artisan: it approves them and books a seat in "
            "the session you choose (or “Approve”, and seller support seats them from the workshop queue).",
        ),
    },
    CaseKind.ONBOARDING_CALL: {Outcome.CALL_COMPLETED: StepOutcome("complete_call")},
    CaseKind.WORKSHOP_ASSIGNMENT: {
        Outcome.WORKSHOP_ASSIGNED: StepOutcome(
            "seat",
            "Use “Assign to this workshop session” to seat this artisan: it books a seat in the session you "
            "choose, emails them and closes the case.",
        ),
    },
    CaseKind.SELLER_LATE_SHIPMENTS: {
        Outcome.WORKSHOP_ASSIGNED: StepOutcome(
            "seat",
            "Use “Assign to this workshop session” to coach this artisan in a workshop: it books a seat in the "
            "session you choose, emails them and closes the case.",
        ),
    },
}


def resolve_choices(kinds) -> list[tuple[str, str]]:
    """The outcomes Resolve offers for these kinds: all but those only a kind's own button records."""
    refused = {outcome for kind in set(kinds) for outcome, step in STEP_OUTCOMES.get(kind, {}).items() if step.refusal}
    return [(value, label) for value, label in outcome_choices(kinds) if value not in refused]


# Actions whose state change belongs to another app, by verb: handler(case=, verb=, actor=,
# note=, session=) -> message. Filled by the owning app's AppConfig.ready().
VERB_HANDLERS: dict[str, Callable[..., str]] = {}

# Where a session for ``needs_session`` verbs comes from: queryset(), label(session), get(pk).
SESSIONS: dict[str, Callable] = {}


def actions_register(verbs, handler: Callable[..., str]) -> None:
    for verb in verbs:
        VERB_HANDLERS[verb] = handler


def sessions_register(*, queryset: Callable, label: Callable, get: Callable) -> None:
    SESSIONS.update(queryset=queryset, label=label, get=get)


def kind_verbs(kind: str) -> tuple[Verb, ...]:
    return KIND_VERBS.get(kind, ())


def known_verb(kind: str, verb: str) -> bool:
    return verb in COMMON_VERBS or any(v.name == verb for v in kind_verbs(kind))


def _outcome_label(outcome: str) -> str:
    return Outcome(outcome).label.lower() if outcome in Outcome.values else outcome


@transaction.atomic
def case_work(*, case: Case, verb: str, actor, outcome: str = "", note: str = "", session=None) -> str:
    """Do one action on one case as ``actor``; returns what happened in plain words.

    Raises PermissionDenied for another team's case (saying whose it is) and ValidationError
    for missing input or a case that changed meanwhile (a stale page), in which case nothing
    is written.
    """
    case = Case.objects.select_related("seller", "buyer", "assignee").get(pk=case.pk)
    if not can_work_team(actor, case.team):
        raise PermissionDenied(services.case_owner_message(case))
    if not known_verb(case.kind, verb):
        raise ValidationError(f"A {case.get_kind_display()} case cannot be worked with “{verb}”.")
    if verb == "comment":
        services.case_comment(case=case, note=note, actor=actor)
        return "Comment added"
    if not case.is_active:
        services.case_ensure_active(case)  # raises, saying who closed it
    if verb == "assign_me":
        services.case_assign(case=case, assignee=actor, actor=actor)
        return "Assigned to you"
    if verb == "unassign":
        services.case_assign(case=case, assignee=None, actor=actor)
        return "Unassigned: back in the team queue"
    if verb == "resolve":
        return _resolve(case=case, outcome=outcome, note=note, actor=actor)
    if verb == "dismiss":
        if not note.strip():
            raise ValidationError({"note": "Say why the case is dismissed: the reason is kept in its history."})
        services.case_dismiss(case=case, note=note, actor=actor)
        return "Dismissed"
    handler = VERB_HANDLERS.get(verb)
    if handler is not None:
        return handler(case=case, verb=verb, actor=actor, note=note, session=session)
    if verb == "fixed":
        services.case_resolve(case=case, outcome=Outcome.FIXED, note=note, actor=actor)
        return f"Resolved: {_outcome_label(Outcome.FIXED)}"
    raise ValidationError(f"Unknown action “{verb}”.")  # pragma: no cover - known_verb guards this


def _resolve(*, case: Case, outcome: str, note: str, actor) -> str:
    if not outcome:
        choices = ", ".join(label for _, label in resolve_choices([case.kind]))
        if not choices:
            raise ValidationError({"outcome": f"A {case.get_kind_display()} case is closed by its own action above, "
                                              "or dismissed with a reason."})
        raise ValidationError({"outcome": f"Choose an outcome to resolve this case: {choices}."})
    step = STEP_OUTCOMES.get(case.kind, {}).get(outcome)
    if step is None:
        services.case_resolve(case=case, outcome=outcome, note=note, actor=actor)
        return f"Resolved: {_outcome_label(outcome)}"
    if step.refusal:
        raise ValidationError({"outcome": f"{step.refusal} Nothing was changed."})
    done = VERB_HANDLERS[step.verb](case=case, verb=step.verb, actor=actor, note=note, session=None)
    return f"Resolved: {_outcome_label(outcome)}. {done}"


def cases_work(*, cases, verb: str, actor, **inputs) -> tuple[int, list[str]]:
    """``case_work`` for each case; returns how many were done and one line per refusal."""
    done, problems = 0, []
    for case in cases:
        try:
            case_work(case=case, verb=verb, actor=actor, **inputs)
            done += 1
        except (ValidationError, PermissionDenied) as exc:
            problems.append(f"Case #{case.pk}: {error_text(exc)}")
    return done, problems


def error_text(exc: Exception) -> str:
    return " ".join(getattr(exc, "messages", None) or [str(exc)])
