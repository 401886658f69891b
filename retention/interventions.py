"""Flags become cases, with a random holdout so Kiln can measure what the cases achieve.

Every flagged subject gets an InterventionAssignment. Its arm is drawn from a keyed hash of
(kind, subject, flag day) under the installation's HOLDOUT_SALT, so a re-run on the same day
draws the same arm, nobody without the salt can tell a subject's arm in advance, and two
installations (or two simulated marketplaces) do not share their arms; a subject
with an assignment whose outcome window is still open is not re-drawn at all: a held-out
buyer stays without a case until the window closes. Treated subjects get a case through
casework.services.cases_open_many, which keeps one active case per kind and subject.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings as django_settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from buyers.models import BuyerRetention, ChurnBand, InterventionArm, InterventionAssignment, Segment, SellerDormancy
from buyers.selectors import retention_settings_get
from casework.models import Case, CaseKind
from casework.services import cases_open_many
from core.bulk import update_by_key
from core.formatting import money


@dataclass(frozen=True)
class Flag:
    subject_id: int
    reason: str
    evidence: dict


def holdout_salt() -> str:
    """The installation's key for the holdout draw: HOLDOUT_SALT, else the SECRET_KEY."""
    return django_settings.HOLDOUT_SALT or django_settings.SECRET_KEY


def holdout_draw(*, kind: str, subject_id: int, flagged_at: datetime) -> float:
    """A uniform number in [0, 1) fixed by the flag and the installation's salt, so re-runs agree.

    Keyed (HMAC-SHA256): without the salt the arm of a subject id on a flag day would be the same
    in every installation and computable by anyone who knows the id.
    """
    message = f"{kind}:{subject_id}:{flagged_at:%Y-%m-%d}".encode()
    digest = hmac.new(holdout_salt().encode(), message, hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _assignment(*, kind: str, flag, flagged_at: datetime, settings, field: str) -> InterventionAssignment:
    """A flagged subject's arm, drawn deterministically so a re-run puts it in the same arm."""
    held_out = holdout_draw(kind=kind, subject_id=flag.subject_id, flagged_at=flagged_at) < settings.holdout_share
    return InterventionAssignment(
        kind=kind,
        arm=InterventionArm.HOLDOUT if held_out else InterventionArm.TREATED,
        flagged_at=flagged_at,
        window_ends_at=flagged_at + timedelta(days=settings.outcome_window_days),
        evidence=flag.evidence,
        **{field: flag.subject_id},
    )


def interventions_assign(*, kind: str, subject: str, flags: list[Flag], as_of: datetime | None = None) -> dict[int, str]:
    """Draw an arm for each flag whose subject has no open assignment. Returns subject id -> arm
    for every flagged subject, including those that keep the arm of an assignment still open.

    For plays without a case (a message, say): the caller acts on the treated arm only.
    """
    as_of = as_of or timezone.now()
    settings = retention_settings_get()
    flagged_at = as_of.replace(hour=0, minute=0, second=0, microsecond=0)
    field = f"{subject}_id"
    ids = [flag.subject_id for flag in flags]
    arms = dict(
        InterventionAssignment.objects.filter(kind=kind, window_ends_at__gt=as_of, **{f"{field}__in": ids})
        .order_by("flagged_at")
        .values_list(field, "arm")
    )
    fresh = {flag.subject_id: flag for flag in flags if flag.subject_id not in arms}
    InterventionAssignment.objects.bulk_create(
        [_assignment(kind=kind, flag=flag, flagged_at=flagged_at, settings=settings, field=field) for flag in fresh.values()],
        ignore_conflicts=True,
    )
    arms.update(
        InterventionAssignment.objects.filter(kind=kind, flagged_at=flagged_at, **{f"{field}__in": list(fresh)}).values_list(field, "arm")
    )
    return arms


def interventions_open(*, kind: str, subject: str, flags: list[Flag], as_of: datetime | None = None) -> dict:
    """Assign each new flag to an arm, open cases for the treated. Returns counts.

    ``subject`` is "buyer" or "seller".
    """
    as_of = as_of or timezone.now()
    settings = retention_settings_get()
    flagged_at = as_of.replace(hour=0, minute=0, second=0, microsecond=0)
    field = f"{subject}_id"
    ids = [flag.subject_id for flag in flags]
    open_assignment = set(
        InterventionAssignment.objects.filter(kind=kind, window_ends_at__gt=as_of, **{f"{field}__in": ids}).values_list(field, flat=True)
    )
    open_case = set(Case.objects.active().filter(kind=kind, **{f"{field}__in": ids}).values_list(field, flat=True))
    fresh = [flag for flag in flags if flag.subject_id not in open_assignment and flag.subject_id not in open_case]
    assignments = [_assignment(kind=kind, flag=flag, flagged_at=flagged_at, settings=settings, field=field) for flag in fresh]
    by_subject = {flag.subject_id: flag for flag in fresh}
    opened = 0
    with transaction.atomic():
        # The unique (kind, subject, flag day) constraint makes a concurrent duplicate run a no-op.
        InterventionAssignment.objects.bulk_create(assignments, ignore_conflicts=True)
        treated = list(
            InterventionAssignment.objects.filter(
                kind=kind, flagged_at=flagged_at, arm=InterventionArm.TREATED, case__isnull=True, **{f"{field}__in": list(by_subject)}
            )
        )
        cases = cases_open_many(
            kind=kind,
            subject=subject,
            openings=[(f.subject_id, f.reason, f.evidence) for f in (by_subject[getattr(a, field)] for a in treated)],
        )
        for assignment in treated:
            case, created = cases[getattr(assignment, field)]
            assignment.case = case
            opened += int(created)
        update_by_key(InterventionAssignment, key="id", columns={"id": [a.pk for a in treated], "case": [a.case_id for a in treated]})
    held = sum(1 for a in assignments if a.arm == InterventionArm.HOLDOUT)
    return {"flagged": len(flags), "new": len(assignments), "held_out": held, "cases_opened": opened}


def _money(value) -> str:
    return f"{float(value):.2f}"


def buyer_churn_flags(*, settings=None) -> list[Flag]:
    """At-risk high-value buyers: high churn band, not churned or new, valuable by orders or spend."""
    settings = settings or retention_settings_get()
    rows = (
        BuyerRetention.objects.filter(churn_band=ChurnBand.HIGH)
        .exclude(segment__in=[Segment.CHURNED, Segment.NEW])
        .filter(Q(order_count__gte=settings.high_value_min_orders) | Q(total_spend__gte=settings.high_value_min_clv))
        .select_related("top_seller")
        .order_by("buyer_id")
    )
    flags = []
    for row in rows:
        evidence = {
            "churn_probability": round(row.churn_probability, 3),
            "churn_band": row.churn_band,
            "churn_model": row.churn_model_version or "1 - P(alive)",
            "p_alive": round(row.p_alive, 3),
            "segment": row.segment,
            "orders": row.order_count,
            "total_spend": _money(row.total_spend),
            "clv_12m": _money(row.clv),
            "days_since_last_order": round(row.days_since_last_order or 0, 1),
            "cadence_days": round(row.cadence_days or 0, 1),
            "cadence_state": row.cadence_state,
            "top_artisan": row.top_seller.name if row.top_seller else None,
            "reasons": row.reasons,
        }
        reason = (
            f"High-value buyer ({row.order_count} orders, {money(row.total_spend)} spent) at high churn risk "
            f"({row.churn_probability:.0%}); last order {evidence['days_since_last_order']:.0f} days ago against a "
            f"usual {evidence['cadence_days']:.0f}-day cadence ({row.get_cadence_state_display().lower()})."
        )
        flags.append(Flag(subject_id=row.buyer_id, reason=reason, evidence=evidence))
    return flags


def seller_dormant_flags() -> list[Flag]:
    rows = SellerDormancy.objects.filter(is_flagged=True).order_by("seller_id")
    return [
        Flag(subject_id=row.seller_id, reason=f"Artisan activity declining. {row.explanation}", evidence=row.signals)
        for row in rows
    ]


def buyer_churn_cases_open(*, as_of: datetime | None = None) -> dict:
    return interventions_open(kind=CaseKind.BUYER_CHURN_RISK, subject="buyer", flags=buyer_churn_flags(), as_of=as_of)


def seller_dormant_cases_open(*, as_of: datetime | None = None) -> dict:
    return interventions_open(kind=CaseKind.SELLER_DORMANT, subject="seller", flags=seller_dormant_flags(), as_of=as_of)
