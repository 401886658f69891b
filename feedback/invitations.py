"""Choosing who to survey at each lifecycle moment, without over-surveying anyone."""

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from core.outbox import outbox_enqueue
from feedback.models import Moment, Survey, SurveyInvitation
from marketplace.models import Order, OrderStatus
from sellers.models import OnboardingStatus, Seller

# Invitations created per survey per run; the beat schedule runs hourly, so a backlog drains
# over a few runs instead of one long transaction.
BATCH_SIZE = 500
# Moments older than delay + this window are not surveyed any more (the memory has faded).
LOOKBACK = timedelta(days=14)


def quarter_of(moment: datetime) -> str:
    return f"{moment.year}Q{(moment.month - 1) // 3 + 1}"


def invitation_candidates(*, survey: Survey, now: datetime) -> list[SurveyInvitation]:
    """Unsaved invitations for who is due now; the gap rule and dedupe keys are applied here."""
    due_before = now - timedelta(days=survey.delay_days)
    if survey.moment == Moment.POST_PURCHASE:
        recent = SurveyInvitation.objects.filter(
            buyer=OuterRef("buyer"), invited_at__gte=now - timedelta(days=survey.min_gap_days)
        )
        asked = SurveyInvitation.objects.filter(order=OuterRef("pk"), survey=survey)
        orders = (
            Order.objects.filter(
                status=OrderStatus.DELIVERED, delivered_at__lte=due_before, delivered_at__gt=due_before - LOOKBACK
            )
            .filter(~Exists(recent), ~Exists(asked))
            .order_by("buyer_id", "-delivered_at")
            .values_list("pk", "buyer_id")
        )
        seen, picked = set(), []
        for order_id, buyer_id in orders.iterator(chunk_size=2000):
            if buyer_id not in seen:  # one invitation per buyer per run: the latest delivery
                seen.add(buyer_id)
                picked.append(
                    SurveyInvitation(survey=survey, buyer_id=buyer_id, order_id=order_id, invited_at=now,
                                     dedupe_key=f"{survey.pk}:order:{order_id}")
                )
            if len(picked) >= BATCH_SIZE:
                break
        return picked
    recent = SurveyInvitation.objects.filter(
        seller=OuterRef("pk"), invited_at__gte=now - timedelta(days=survey.min_gap_days)
    )
    sellers = Seller.objects.filter(~Exists(recent))
    if survey.moment == Moment.POST_ONBOARDING:
        asked = SurveyInvitation.objects.filter(seller=OuterRef("pk"), survey=survey)
        sellers = sellers.filter(onboarded_at__lte=due_before, onboarded_at__gt=due_before - LOOKBACK).filter(~Exists(asked))
        period = ""
        key = lambda pk: f"{survey.pk}:seller:{pk}"  # noqa: E731
    elif survey.moment == Moment.QUARTERLY_ARTISAN:
        period = quarter_of(now)
        sellers = sellers.filter(onboarding_status=OnboardingStatus.APPROVED).filter(
            Q(onboarded_at__lte=due_before) | Q(onboarded_at__isnull=True, approved_at__lte=due_before)
        )
        key = lambda pk: f"{survey.pk}:seller:{pk}:{period}"  # noqa: E731
    else:
        return []
    ids = list(sellers.order_by("pk").values_list("pk", flat=True)[:BATCH_SIZE])
    return [SurveyInvitation(survey=survey, seller_id=pk, period=period, invited_at=now, dedupe_key=key(pk)) for pk in ids]


def invitations_send(*, survey_id: int | None = None, now: datetime | None = None) -> dict:
    """Create due invitations for each active lifecycle survey and queue their emails via the outbox."""
    now = now or timezone.now()
    surveys = Survey.objects.filter(is_active=True).exclude(moment=Moment.AD_HOC)
    if survey_id is not None:
        surveys = surveys.filter(pk=survey_id)
    summary = {}
    for survey in surveys:
        candidates = invitation_candidates(survey=survey, now=now)
        with transaction.atomic():
            # The unique dedupe_key makes a re-run (or a concurrent run) invite nobody twice.
            SurveyInvitation.objects.bulk_create(candidates, ignore_conflicts=True)
            invitations = (
                SurveyInvitation.objects.filter(dedupe_key__in=[c.dedupe_key for c in candidates])
                .select_related("buyer", "seller", "order")
            )
            for invitation in invitations:
                person = invitation.buyer or invitation.seller
                outbox_enqueue(
                    dedupe_key=f"feedback-invite:{invitation.dedupe_key}",
                    to=person.email,
                    subject=f"{survey.name}: tell us how it went",
                    body=_body(survey, invitation),
                    category="survey_invitation",
                )
        summary[survey.slug] = len(candidates)
    return summary


def _body(survey: Survey, invitation: SurveyInvitation) -> str:
    person = invitation.buyer or invitation.seller
    hidden = f"buyer_id={invitation.buyer.external_id}" if invitation.buyer else f"seller_id={invitation.seller.external_id}"
    if invitation.order:
        hidden += f"&order_id={invitation.order.external_id}"
    link = f"{survey.invite_url}#{hidden}" if survey.invite_url else "(link to follow)"
    return f"Hello {person.name},\n\n{survey.purpose or 'We would love your feedback.'}\n\n{link}\n"
