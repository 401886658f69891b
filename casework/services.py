"""Writes to cases. Every change is recorded in the case's history."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from casework.kinds import KIND_OUTCOMES, policy_for
from casework.models import ACTIVE_STATUSES, Case, CaseEvent, CaseStatus, Outcome
from core.roles import can_work_team


def _record(case: Case, *, actor, action: str, field: str = "", from_value="", to_value="", note: str = ""):
    return CaseEvent(
        case=case,
        actor=actor,
        action=action,
        field=field,
        from_value=str(from_value or ""),
        to_value=str(to_value or ""),
        note=note,
    )


def _new_case(*, kind: str, reason: str, evidence: dict | None, now, priority: int | None = None, **subject) -> Case:
    """An unsaved case routed to its kind's team, with the kind's priority and SLA."""
    policy = policy_for(kind)
    return Case(kind=kind, team=policy.team, priority=priority or policy.priority, due_at=now + policy.sla,
                reason=reason, evidence=evidence or {}, created_at=now, **subject)


def _opened(case: Case, *, actor=None) -> CaseEvent:
    return _record(case, actor=actor, action="opened", field="status", to_value=CaseStatus.OPEN, note=case.reason)


def case_open(
    *,
    kind: str,
    reason: str,
    seller=None,
    buyer=None,
    evidence: dict | None = None,
    priority: int | None = None,
    actor=None,
) -> tuple[Case, bool]:
    """Open a case unless one of this kind is already active for the subject.

    Returns (case, created). Safe under concurrency: the partial unique constraint
    rejects a second active case, and the loser returns the winner's case.
    """
    if (seller is None) == (buyer is None):
        raise ValidationError("A case needs exactly one subject: a seller or a buyer.")
    existing = Case.objects.active().filter(kind=kind).for_subject(seller=seller, buyer=buyer).first()
    if existing:
        return existing, False
    case = _new_case(kind=kind, reason=reason, evidence=evidence, priority=priority, now=timezone.now(), seller=seller, buyer=buyer)
    try:
        with transaction.atomic():
            case.save()
            _opened(case, actor=actor).save()
    except IntegrityError:
        existing = Case.objects.active().filter(kind=kind).for_subject(seller=seller, buyer=buyer).first()
        if existing is None:
            raise
        return existing, False
    return case, True


def cases_open_many(*, kind: str, subject: str, openings: list[tuple[int, str, dict]]) -> dict[int, tuple[Case, bool]]:
    """``case_open`` for many subjects of one kind: (subject id, reason, evidence) each.

    ``subject`` is "buyer" or "seller". Returns subject id -> (case, created). Set-based: one
    query for the active cases, then bulk inserts of the new cases and their "opened" events.
    If another process opens one of these cases meanwhile, the unique constraint stops the bulk
    insert and the openings fall back to ``case_open`` one by one, which settles each race.
    """
    if subject not in ("buyer", "seller"):
        raise ValidationError("A case subject is a buyer or a seller.")
    field = f"{subject}_id"
    ids = [subject_id for subject_id, _, _ in openings]
    result = {getattr(c, field): (c, False) for c in Case.objects.active().filter(kind=kind, **{f"{field}__in": ids})}
    now = timezone.now()
    pending = {subject_id: (reason, evidence) for subject_id, reason, evidence in openings if subject_id not in result}
    cases = [
        _new_case(kind=kind, reason=reason, evidence=evidence, now=now, **{field: subject_id})
        for subject_id, (reason, evidence) in pending.items()
    ]
    try:
        with transaction.atomic():
            Case.objects.bulk_create(cases, batch_size=1000)
            CaseEvent.objects.bulk_create([_opened(c) for c in cases], batch_size=1000)
    except IntegrityError:
        subject_model = Case._meta.get_field(subject).related_model
        for subject_id, (reason, evidence) in pending.items():
            result[subject_id] = case_open(kind=kind, reason=reason, evidence=evidence, **{subject: subject_model(pk=subject_id)})
        return result
    result.update({getattr(c, field): (c, True) for c in cases})
    return result


def case_owner_message(case: Case) -> str:
    """Whose case this is, for staff of another team who reach it."""
    return (f"Case #{case.pk} ({case.get_kind_display()}) belongs to the {case.get_team_display()} team. "
            f"Ask them, or a marketplace admin, to work it.")


def _ensure_can_act(case: Case, user) -> None:
    if not can_work_team(user, case.team):
        raise PermissionDenied(case_owner_message(case))


def case_ensure_active(case: Case) -> None:
    if case.status not in ACTIVE_STATUSES:
        # Usually a stale page: someone else closed the case after it was loaded.
        closer = case.history.filter(action=case.status).select_related("actor").last()
        by = f" by {closer.actor}" if closer and closer.actor else ""
        raise ValidationError(
            f"Case #{case.pk} was already {case.get_status_display().lower()}{by}; nothing was changed."
        )


@transaction.atomic
def case_assign(*, case: Case, assignee, actor) -> Case:
    case = Case.objects.select_for_update().get(pk=case.pk)
    _ensure_can_act(case, actor)
    case_ensure_active(case)
    if assignee is not None and not can_work_team(assignee, case.team):
        raise ValidationError(f"{assignee} is not on the {case.get_team_display()} team.")
    previous = case.assignee
    case.assignee = assignee
    if case.status == CaseStatus.OPEN and assignee is not None:
        case.status = CaseStatus.IN_PROGRESS
    elif assignee is None:
        # Back in the team's unassigned queue for someone else to pick up.
        case.status = CaseStatus.OPEN
    case.save(update_fields=["assignee", "status", "updated_at"])
    _record(case, actor=actor, action="assigned", field="assignee", from_value=previous, to_value=assignee).save()
    return case


@transaction.atomic
def case_assign_many(*, case_ids: list[int], assignee, actor) -> int:
    """Assign (or, with ``assignee=None``, unassign) several cases at once.

    Cases the actor may not work are skipped, not half-done.
    """
    cases = list(
        Case.objects.select_for_update(of=("self",))
        .filter(pk__in=case_ids, status__in=ACTIVE_STATUSES)
        .select_related("assignee")
        .order_by("pk")
    )
    workable = [
        case for case in cases
        if can_work_team(actor, case.team) and (assignee is None or can_work_team(assignee, case.team))
    ]
    events = []
    for case in workable:
        events.append(_record(case, actor=actor, action="assigned", field="assignee", from_value=case.assignee, to_value=assignee))
        case.assignee = assignee
        case.status = CaseStatus.IN_PROGRESS if assignee is not None else CaseStatus.OPEN
        case.updated_at = timezone.now()
    Case.objects.bulk_update(workable, ["assignee", "status", "updated_at"])
    CaseEvent.objects.bulk_create(events)
    return len(workable)


def _close(case: Case, *, status: str, outcome: str, note: str, actor) -> Case:
    _ensure_can_act(case, actor)
    case_ensure_active(case)
    previous = case.status
    case.status = status
    case.outcome = outcome
    case.resolution_note = note
    case.closed_at = timezone.now()
    case.save(update_fields=["status", "outcome", "resolution_note", "closed_at", "updated_at"])
    _record(case, actor=actor, action=status, field="status", from_value=previous, to_value=status, note=note).save()
    return case


@transaction.atomic
def case_resolve(*, case: Case, outcome: str, note: str = "", actor) -> Case:
    if outcome not in Outcome.values:
        raise ValidationError({"outcome": f"Unknown outcome {outcome!r}."})
    case = Case.objects.select_for_update().get(pk=case.pk)
    if outcome not in KIND_OUTCOMES.get(case.kind, Outcome.values):
        raise ValidationError({"outcome": f"{Outcome(outcome).label!r} is not an outcome for a {case.get_kind_display()} case."})
    return _close(case, status=CaseStatus.RESOLVED, outcome=outcome, note=note, actor=actor)


@transaction.atomic
def case_dismiss(*, case: Case, note: str, actor) -> Case:
    if not note.strip():
        raise ValidationError({"note": "Say why the case is dismissed."})
    case = Case.objects.select_for_update().get(pk=case.pk)
    return _close(case, status=CaseStatus.DISMISSED, outcome=Outcome.NO_ACTION, note=note, actor=actor)


@transaction.atomic
def case_comment(*, case: Case, note: str, actor) -> CaseEvent:
    _ensure_can_act(case, actor)
    if not note.strip():
        raise ValidationError({"note": "A comment cannot be empty."})
    return CaseEvent.objects.create(case=case, actor=actor, action="commented", note=note)
