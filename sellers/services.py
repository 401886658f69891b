"""Tiered onboarding: policy bands, routing by score, manual review, calls and workshops."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.template.defaultfilters import pluralize
from django.utils import timezone

from casework.models import Case, CaseKind, Outcome, Team
from casework.services import case_comment, case_open, case_resolve
from core import formatting
from core.outbox import outbox_enqueue
from core.roles import can_work_team, is_marketplace_admin
from sellers.models import (
    AssignmentStatus,
    OnboardingAction,
    OnboardingDecision,
    OnboardingPolicy,
    OnboardingStatus,
    RiskTier,
    Seller,
    WorkshopAssignment,
    WorkshopOutcome,
    WorkshopSession,
)

BAND_FIELDS = ("high_min", "high_max", "mid_min", "mid_max", "low_min", "low_max")
# Statuses in which an artisan is still being onboarded (a rescore may re-route them).
ONBOARDING_STATUSES = (
    OnboardingStatus.APPLIED,
    OnboardingStatus.CALL_PENDING,
    OnboardingStatus.MANUAL_REVIEW,
    OnboardingStatus.INFO_REQUESTED,
    OnboardingStatus.WORKSHOP_PENDING,
)


def _now_for(seller: Seller):
    # The storefront stamps applied_at; a clock a little ahead must not break "approved after applied".
    return max(timezone.now(), seller.applied_at)


# --- Policy ------------------------------------------------------------------------------


def onboarding_bands_validate(bands: dict) -> None:
    """Raise a ValidationError naming the problem if the bands do not tile 0-100 exactly."""
    errors = {}
    for name in BAND_FIELDS:
        value = bands.get(name)
        if value is None or isinstance(value, bool) or not isinstance(value, int):
            errors[name] = f"{name} must be a whole number from 0 to 100."
        elif not 0 <= value <= 100:
            errors[name] = f"{name} must be between 0 and 100, got {value}."
    if errors:
        raise ValidationError(errors)
    spans = [("high", bands["high_min"], bands["high_max"]), ("mid", bands["mid_min"], bands["mid_max"]), ("low", bands["low_min"], bands["low_max"])]
    for tier, low, high in spans:
        if low > high:
            errors[f"{tier}_min"] = f"The {tier}-risk band starts at {low}, after its end {high}."
    if errors:
        raise ValidationError(errors)
    if bands["high_min"] != 0:
        errors["high_min"] = f"Scores 0-{bands['high_min'] - 1} fall in no band: the high-risk band must start at 0."
    if bands["low_max"] != 100:
        errors["low_max"] = f"Scores {bands['low_max'] + 1}-100 fall in no band: the low-risk band must end at 100."
    for (lower, _lo1, end), (upper, start, _hi2) in zip(spans, spans[1:]):
        if start > end + 1:
            errors[f"{upper}_min"] = f"Gap: scores {end + 1}-{start - 1} fall between the {lower}- and {upper}-risk bands."
        elif start <= end:
            errors[f"{upper}_min"] = f"Overlap: scores {start}-{end} are in both the {lower}- and {upper}-risk bands."
    if errors:
        raise ValidationError(errors)


def _ensure_admin(actor, what: str) -> None:
    if actor is None or not is_marketplace_admin(actor):
        raise PermissionDenied(f"Only marketplace admins may {what}.")


@transaction.atomic
def onboarding_policy_save(*, actor, name: str, bands: dict, policy: OnboardingPolicy | None = None,
                           activate: bool = True) -> OnboardingPolicy:
    """Create or change a policy. It applies to applications routed from now on."""
    _ensure_admin(actor, "change onboarding bands")
    onboarding_bands_validate(bands)
    if not name.strip():
        raise ValidationError({"name": "Give the policy a name."})
    policy = policy or OnboardingPolicy()
    policy.name = name
    for field in BAND_FIELDS:
        setattr(policy, field, bands[field])
    policy.updated_at = timezone.now()
    if activate:
        # Deactivate the current policy first; the partial unique index allows only one active.
        OnboardingPolicy.objects.filter(is_active=True).exclude(pk=policy.pk).update(is_active=False)
        policy.is_active = True
    policy.save()
    return policy


@transaction.atomic
def onboarding_policy_activate(*, policy: OnboardingPolicy, actor) -> OnboardingPolicy:
    _ensure_admin(actor, "activate an onboarding policy")
    OnboardingPolicy.objects.filter(is_active=True).exclude(pk=policy.pk).update(is_active=False)
    OnboardingPolicy.objects.filter(pk=policy.pk).update(is_active=True, updated_at=timezone.now())
    policy.refresh_from_db()
    return policy


def onboarding_policy_active() -> OnboardingPolicy:
    policy = OnboardingPolicy.objects.filter(is_active=True).first()
    if policy is None:
        # Never leave an application unrouted: fall back to the brief's default bands.
        policy, _ = OnboardingPolicy.objects.get_or_create(is_active=True, defaults={"name": "Default bands"})
    return policy


# --- Routing -----------------------------------------------------------------------------


def _evidence(score) -> dict:
    version = score.model_version
    return {
        "score": None if score.score is None else int(score.score),
        "basis": getattr(score, "basis", None),
        "reasons": [{"text": r["text"], "contribution": r["contribution"]} for r in (score.reasons or [])],
        "model_version": str(version) if version else None,
        "model_version_id": version.pk if version else None,
        "cold_start": bool(score.cold_start),
    }


def _decision(*, seller, policy, score, tier, action, reason, trigger, case=None) -> OnboardingDecision:
    version = score.model_version
    return OnboardingDecision.objects.create(
        seller=seller,
        policy=policy,
        bands=policy.bands(),
        model_version=version,
        model_version_label=str(version) if version else "no active model",
        score=score.score,
        tier=tier,
        action=action,
        trigger=trigger,
        reason=reason,
        reasons=score.reasons or [],
        case=case,
    )


def _open_review(seller, score, policy, reason):
    case, _ = case_open(kind=CaseKind.ONBOARDING_REVIEW, seller=seller, reason=reason, evidence=_evidence(score))
    return case


def seller_route(*, seller: Seller, score, trigger: str = "application") -> OnboardingDecision:
    """Route an artisan by its score under the active policy, and record why.

    low → approved at once; mid → seller-support call case; high → customer-success
    manual-review case (a workshop follows approval).
    """
    with transaction.atomic():
        # Lock the artisan: the application task and a rescore arriving together must not
        # both route it (two decisions, two cases).
        seller = Seller.objects.select_for_update().get(pk=seller.pk)
        if seller.onboarding_status != OnboardingStatus.APPLIED:
            raise ValidationError(f"{seller} was already routed ({seller.get_onboarding_status_display()}).")
        policy = onboarding_policy_active()
        if score.score is None:
            # No validated model can speak for this applicant yet: the policy says where it goes.
            tier = policy.unscored_tier
            band = f"{tier}-risk route that policy '{policy.name}' sets for applicants without a score"
            label = f"Not scored ({score.get_basis_display().lower()})"
        else:
            tier = policy.tier_for(score.score)
            low, high = policy.bands()[tier]
            band = f"{tier}-risk band {low}-{high} of policy '{policy.name}'"
            label = f"Score {score.score} is"
        now = _now_for(seller)
        case = None
        if tier == RiskTier.LOW:
            action = OnboardingAction.APPROVED
            reason = f"{label} in the {band}: approved instantly."
            seller.onboarding_status = OnboardingStatus.APPROVED
            seller.approved_at = now
            # Approval is the only required step on the low-risk path.
            seller.onboarded_at = now
        elif tier == RiskTier.MID:
            action = OnboardingAction.ONBOARDING_CALL
            reason = f"{label} in the {band}: schedule a virtual onboarding call."
            case, _ = case_open(kind=CaseKind.ONBOARDING_CALL, seller=seller, reason=reason, evidence=_evidence(score))
            seller.onboarding_status = OnboardingStatus.CALL_PENDING
        else:
            action = OnboardingAction.MANUAL_REVIEW
            reason = f"{label} in the {band}: manual review, then a mandatory workshop."
            case = _open_review(seller, score, policy, reason)
            seller.onboarding_status = OnboardingStatus.MANUAL_REVIEW
        seller.save(update_fields=["onboarding_status", "approved_at", "onboarded_at", "updated_at"])
        return _decision(seller=seller, policy=policy, score=score, tier=tier, action=action, reason=reason, trigger=trigger, case=case)


def seller_route_on_rescore(*, seller: Seller, score) -> OnboardingDecision | None:
    """A new score during onboarding: route a fresh applicant; escalate a pending call to review.

    Artisans already past onboarding are not re-routed by a score change.
    """
    seller.refresh_from_db(fields=["onboarding_status"])
    if seller.onboarding_status == OnboardingStatus.APPLIED:
        try:
            return seller_route(seller=seller, score=score, trigger="application")
        except ValidationError:
            # A concurrent delivery routed it between our read and our lock; its decision stands.
            return None
    if seller.onboarding_status != OnboardingStatus.CALL_PENDING:
        return None
    with transaction.atomic():
        seller = Seller.objects.select_for_update().get(pk=seller.pk)
        if seller.onboarding_status != OnboardingStatus.CALL_PENDING:
            return None
        policy = onboarding_policy_active()
        if score.score is None or policy.tier_for(score.score) != RiskTier.HIGH:
            return None
        low, high = policy.bands()[RiskTier.HIGH]
        reason = (
            f"Rescored {score.score} during onboarding, now in the high-risk band {low}-{high} of policy "
            f"'{policy.name}': escalated to manual review, then a mandatory workshop."
        )
        case = _open_review(seller, score, policy, reason)
        seller.onboarding_status = OnboardingStatus.MANUAL_REVIEW
        seller.save(update_fields=["onboarding_status", "updated_at"])
        return _decision(
            seller=seller, policy=policy, score=score, tier=RiskTier.HIGH, action=OnboardingAction.MANUAL_REVIEW,
            reason=reason, trigger="rescore", case=case,
        )


# --- Manual review (customer success) and calls (seller support) ----------------------------


REVIEW_DECISIONS = ("approve", "reject", "request_info")


def _active_case(seller, kind):
    return Case.objects.active().filter(kind=kind, seller=seller).first()


def _latest_evidence(seller) -> dict:
    decision = seller.onboarding_decisions.order_by("-created_at", "-pk").first()
    if decision is None:
        return {}
    return {
        "score": decision.score,
        "reasons": [{"text": r["text"], "contribution": r["contribution"]} for r in decision.reasons],
        "model_version": decision.model_version_label,
        "model_version_id": decision.model_version_id,
    }


@transaction.atomic
def onboarding_review_decide(*, seller: Seller, decision: str, actor, note: str = "") -> Seller:
    """Customer success approves, rejects or asks for more information on a high-risk artisan."""
    if not can_work_team(actor, Team.CUSTOMER_SUCCESS):
        raise PermissionDenied("Only customer success works manual reviews.")
    if decision not in REVIEW_DECISIONS:
        raise ValidationError({"decision": f"Unknown decision {decision!r}; use one of {', '.join(REVIEW_DECISIONS)}."})
    seller = Seller.objects.select_for_update().get(pk=seller.pk)
    if seller.onboarding_status not in (OnboardingStatus.MANUAL_REVIEW, OnboardingStatus.INFO_REQUESTED):
        raise ValidationError(f"{seller} is not awaiting manual review ({seller.get_onboarding_status_display()}).")
    case = _active_case(seller, CaseKind.ONBOARDING_REVIEW)
    now = _now_for(seller)
    if decision == "request_info":
        if not note.strip():
            raise ValidationError({"note": "Say what information the artisan must send."})
        seller.onboarding_status = OnboardingStatus.INFO_REQUESTED
        seller.save(update_fields=["onboarding_status", "updated_at"])
        if case:
            case_comment(case=case, note=f"More information requested: {note}", actor=actor)
        outbox_enqueue(
            dedupe_key=f"onboarding-info-request:{seller.pk}:{now.isoformat()}",
            to=seller.email,
            subject="Kiln: we need a little more information about your shop",
            body=f"Hello {seller.name},\n\nTo finish reviewing your application we need: {note}\n\nThe Kiln team",
            category="onboarding_info_request",
        )
        return seller
    if decision == "reject":
        if case:
            case_resolve(case=case, outcome=Outcome.REJECTED, note=note, actor=actor)
        seller.onboarding_status = OnboardingStatus.REJECTED
        seller.rejected_at = now
        seller.save(update_fields=["onboarding_status", "rejected_at", "updated_at"])
        return seller
    if case:
        case_resolve(case=case, outcome=Outcome.APPROVED, note=note, actor=actor)
    seller.onboarding_status = OnboardingStatus.WORKSHOP_PENDING
    seller.approved_at = now
    seller.save(update_fields=["onboarding_status", "approved_at", "updated_at"])
    case_open(
        kind=CaseKind.WORKSHOP_ASSIGNMENT,
        seller=seller,
        reason="Approved after manual review: assign the mandatory onboarding workshop.",
        evidence=_latest_evidence(seller),
        actor=actor,
    )
    return seller


@transaction.atomic
def onboarding_call_complete(*, seller: Seller, actor, note: str = "") -> Seller:
    """Seller support held the virtual onboarding call: the mid-risk path is done."""
    if not can_work_team(actor, Team.SELLER_SUPPORT):
        raise PermissionDenied("Only seller support records onboarding calls.")
    seller = Seller.objects.select_for_update().get(pk=seller.pk)
    if seller.onboarding_status != OnboardingStatus.CALL_PENDING:
        raise ValidationError(f"{seller} has no onboarding call pending ({seller.get_onboarding_status_display()}).")
    case = _active_case(seller, CaseKind.ONBOARDING_CALL)
    if case:
        case_resolve(case=case, outcome=Outcome.CALL_COMPLETED, note=note, actor=actor)
    now = _now_for(seller)
    seller.onboarding_status = OnboardingStatus.APPROVED
    seller.approved_at = seller.approved_at or now
    seller.onboarded_at = now
    seller.save(update_fields=["onboarding_status", "approved_at", "onboarded_at", "updated_at"])
    return seller


# --- Workshops (seller support) -----------------------------------------------------------


def _ensure_support(actor, what: str) -> None:
    if actor is None or not can_work_team(actor, Team.SELLER_SUPPORT):
        raise PermissionDenied(f"Only seller support may {what}.")


def workshop_assign(*, session: WorkshopSession, seller: Seller, actor) -> WorkshopAssignment:
    """Give an artisan a seat and email them. Never overbooks, even with two staff at once."""
    _ensure_support(actor, "assign workshops")
    try:
        with transaction.atomic():
            # The conditional UPDATE is the seat claim: of two concurrent assignments to the
            # last seat, the database lets exactly one increment pass the booked < capacity test.
            claimed = WorkshopSession.objects.filter(pk=session.pk, booked__lt=F("capacity")).update(booked=F("booked") + 1)
            if not claimed:
                if not WorkshopSession.objects.filter(pk=session.pk).exists():
                    raise ValidationError({"session": f"Unknown workshop session {session.pk}."})
                session.refresh_from_db()
                raise ValidationError({"session": f"{session.workshop.topic} on {formatting.day_and_time(session.starts_at)} "
                                                  f"is full ({formatting.plural(session.capacity, 'seat')})."})
            assignment = WorkshopAssignment.objects.create(session=session, seller=seller, assigned_by=actor)
            session.refresh_from_db()
            outbox_enqueue(
                dedupe_key=f"workshop-assignment:{assignment.pk}",
                to=seller.email,
                subject=f"Kiln workshop: {session.workshop.topic}",
                body=(
                    f"Hello {seller.name},\n\nYou have a seat at the Kiln workshop \"{session.workshop.topic}\" on "
                    f"{session.starts_at:%A} {session.starts_at.day} {session.starts_at:%B %Y at %H:%M} UTC ({session.get_format_display().lower()}"
                    f"{', ' + session.location if session.location else ''}).\n\nThe Kiln seller support team"
                ),
                category="workshop_invitation",
            )
            case = _active_case(seller, CaseKind.WORKSHOP_ASSIGNMENT)
            if case:
                case_resolve(case=case, outcome=Outcome.WORKSHOP_ASSIGNED, note=f"Seat booked: {session}", actor=actor)
            return assignment
    except IntegrityError as exc:
        raise ValidationError({"seller": f"{seller} already has an upcoming seat or is already in this session."}) from exc


@transaction.atomic
def workshop_assign_from_case(*, case: Case, session: WorkshopSession, actor) -> WorkshopAssignment:
    """Seat the case's artisan, then close the case as assigned to a workshop if the seat did not.

    ``workshop_assign`` closes the artisan's onboarding workshop case itself; a coaching case (late
    shipments) that seats its artisan is closed here, so its outcome is never recorded without a seat.
    """
    assignment = workshop_assign(session=session, seller=case.seller, actor=actor)
    case = Case.objects.get(pk=case.pk)
    if case.is_active:
        case_resolve(case=case, outcome=Outcome.WORKSHOP_ASSIGNED, note=f"Seat booked: {session}", actor=actor)
    return assignment


@transaction.atomic
def workshop_session_set_capacity(*, session: WorkshopSession, capacity: int, actor) -> WorkshopSession:
    _ensure_support(actor, "change workshop sessions")
    if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
        raise ValidationError({"capacity": "Capacity must be a whole number of at least 1."})
    # Lock the session so no seat is claimed between the check and the write.
    session = WorkshopSession.objects.select_for_update().get(pk=session.pk)
    if capacity < session.booked:
        raise ValidationError({"capacity": f"Capacity {capacity} is below the {session.booked} seat{pluralize(session.booked)} already booked."})
    session.capacity = capacity
    session.save(update_fields=["capacity"])
    return session


@transaction.atomic
def workshop_assignment_cancel(*, assignment: WorkshopAssignment, actor) -> WorkshopAssignment:
    _ensure_support(actor, "cancel workshop seats")
    assignment = WorkshopAssignment.objects.select_for_update().get(pk=assignment.pk)
    if assignment.status != AssignmentStatus.ASSIGNED:
        raise ValidationError(f"Only an upcoming seat can be cancelled; this one is {assignment.get_status_display().lower()}.")
    assignment.status = AssignmentStatus.CANCELLED
    assignment.save(update_fields=["status"])
    WorkshopSession.objects.filter(pk=assignment.session_id, booked__gt=0).update(booked=F("booked") - 1)
    return assignment


@transaction.atomic
def workshop_attendance_record(*, assignment: WorkshopAssignment, attended: bool, outcome: str = "", note: str = "", actor) -> WorkshopAssignment:
    """Record attendance and outcome; a passed mandatory workshop completes onboarding."""
    _ensure_support(actor, "record workshop attendance")
    assignment = WorkshopAssignment.objects.select_for_update().select_related("seller", "session__workshop").get(pk=assignment.pk)
    if assignment.status not in (AssignmentStatus.ASSIGNED, AssignmentStatus.ATTENDED, AssignmentStatus.NO_SHOW):
        raise ValidationError("Attendance cannot be recorded for a cancelled seat.")
    if attended and outcome not in (WorkshopOutcome.PASSED, WorkshopOutcome.NEEDS_FOLLOWUP):
        raise ValidationError({"outcome": "Say how the workshop went: passed or needs follow-up."})
    assignment.status = AssignmentStatus.ATTENDED if attended else AssignmentStatus.NO_SHOW
    assignment.outcome = outcome if attended else WorkshopOutcome.PENDING
    assignment.note = note
    assignment.attendance_recorded_by = actor
    assignment.attendance_recorded_at = timezone.now()
    assignment.save(update_fields=["status", "outcome", "note", "attendance_recorded_by", "attendance_recorded_at"])
    seller = assignment.seller
    if assignment.status == AssignmentStatus.ATTENDED and assignment.outcome == WorkshopOutcome.PASSED:
        onboarding_complete_if_done(seller=seller)
    elif seller.onboarding_status == OnboardingStatus.WORKSHOP_PENDING:
        # Missed or not yet good enough: back into the assignment queue for another session.
        case_open(
            kind=CaseKind.WORKSHOP_ASSIGNMENT,
            seller=seller,
            reason=f"Workshop {'needs follow-up' if attended else 'missed'}: assign another session.",
            evidence=_latest_evidence(seller),
            actor=actor,
        )
    return assignment


def onboarding_required_steps(seller: Seller) -> dict[str, bool]:
    passed = WorkshopAssignment.objects.filter(
        seller=seller, status=AssignmentStatus.ATTENDED, outcome=WorkshopOutcome.PASSED
    ).exists()
    return {"approved": seller.approved_at is not None, "mandatory_workshop": passed}


def onboarding_complete_if_done(*, seller: Seller) -> bool:
    """A high-risk artisan is onboarded once approved and through the mandatory workshop."""
    with transaction.atomic():
        seller = Seller.objects.select_for_update().get(pk=seller.pk)
        if seller.onboarding_status != OnboardingStatus.WORKSHOP_PENDING:
            return False
        if not all(onboarding_required_steps(seller).values()):
            return False
        seller.onboarding_status = OnboardingStatus.APPROVED
        seller.onboarded_at = _now_for(seller)
        seller.save(update_fields=["onboarding_status", "onboarded_at", "updated_at"])
        return True
