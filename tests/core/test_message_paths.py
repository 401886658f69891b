"""Every path that writes to the outbox is judged by the outbound policy.

Each test takes a real caller (a service that existed before the policy), suppresses its
recipient, and shows the message is stored as suppressed rather than sent.
"""

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.core import mail
from django.utils import timezone

from core.messaging import KINDS, contact_mark_bounced, contact_unsubscribe, message_kind
from core.models import OutboxMessage, OutboxStatus, SuppressedReason
from feedback.factories import SurveyFactory
from feedback.invitations import invitations_send
from feedback.models import Moment
from loyalty.factories import EarnLotFactory
from loyalty.services import expiry_reminders_send
from marketplace.factories import OrderFactory
from scoring.factories import SellerScoreFactory
from sellers import services as seller_services
from sellers.factories import SellerFactory, WorkshopSessionFactory
from sellers.models import OnboardingStatus

pytestmark = pytest.mark.django_db


def test_expiry_reminders_respect_an_unsubscribe():
    lot = EarnLotFactory(amount=50, expires_at=timezone.now() + timedelta(days=5))
    contact_unsubscribe(address=lot.buyer.email)

    expiry_reminders_send()

    message = OutboxMessage.objects.get()
    assert (message.status, message.suppressed_reason) == (OutboxStatus.SUPPRESSED, SuppressedReason.UNSUBSCRIBED)


def test_an_expiry_reminder_names_the_day_without_a_leading_zero():
    now = datetime(2026, 12, 1, 9, tzinfo=dt_timezone.utc)
    EarnLotFactory(amount=50, expires_at=datetime(2026, 12, 5, 12, tzinfo=dt_timezone.utc), created_at=now - timedelta(days=30))

    expiry_reminders_send(now=now)

    message = OutboxMessage.objects.get(category="loyalty_expiry_reminder")
    assert "5 December 2026" in message.body and "05 December" not in message.body


def test_survey_invitations_respect_a_muted_topic():
    SurveyFactory(slug="post-purchase", moment=Moment.POST_PURCHASE, delay_days=7, min_gap_days=60)
    order = OrderFactory(placed_at=timezone.now() - timedelta(days=14))
    contact_unsubscribe(address=order.buyer.email, topic="surveys")

    invitations_send()

    message = OutboxMessage.objects.get(category="survey_invitation")
    assert message.suppressed_reason == SuppressedReason.TOPIC_MUTED


def _workshop_pending(cs_user):
    seller = SellerFactory(onboarding_status=OnboardingStatus.APPLIED, applied_at=timezone.now(), approved_at=None)
    seller_services.seller_route(seller=seller, score=SellerScoreFactory(seller=seller, score=10))
    return seller_services.onboarding_review_decide(seller=seller, decision="approve", actor=cs_user)


def test_workshop_invitations_are_essential_yet_stop_at_a_hard_bounce(cs_user, support_user, django_capture_on_commit_callbacks):
    seller = _workshop_pending(cs_user)
    contact_unsubscribe(address=seller.email)  # unsubscribing from news does not cancel a booked seat's email
    first = WorkshopSessionFactory(capacity=2, starts_at=datetime(2027, 1, 7, 16, tzinfo=dt_timezone.utc))
    with django_capture_on_commit_callbacks(execute=True):
        seller_services.workshop_assign(session=first, seller=seller, actor=support_user)
    sent = OutboxMessage.objects.get(category="workshop_invitation")

    other = _workshop_pending(cs_user)
    contact_mark_bounced(address=other.email)
    with django_capture_on_commit_callbacks(execute=True):
        seller_services.workshop_assign(session=WorkshopSessionFactory(capacity=2), seller=other, actor=support_user)

    assert sent.status == OutboxStatus.SENT and mail.outbox[-1].to == [seller.email]
    assert "on Thursday 7 January 2027 at 16:00 UTC" in sent.body  # no zero-padded day
    assert OutboxMessage.objects.get(category="workshop_invitation", to=other.email).suppressed_reason == SuppressedReason.HARD_BOUNCE


def test_requests_for_information_from_applicants_go_through_the_policy(cs_user):
    seller = SellerFactory(onboarding_status=OnboardingStatus.APPLIED, applied_at=timezone.now(), approved_at=None)
    seller_services.seller_route(seller=seller, score=SellerScoreFactory(seller=seller, score=10))
    contact_mark_bounced(address=seller.email)

    seller_services.onboarding_review_decide(seller=seller, decision="request_info", note="Photos of your kiln", actor=cs_user)

    message = OutboxMessage.objects.get(category="onboarding_info_request")
    assert message.suppressed_reason == SuppressedReason.HARD_BOUNCE


def test_every_registered_category_is_classified_and_only_staff_mail_is_exempt():
    exempt = {category for category, kind in KINDS.items() if kind.exempt}

    assert exempt == {"kpi_alert", "churn_review_digest"}


def test_a_badge_notice_is_loyalty_mail_that_a_buyer_can_mute_with_the_loyalty_topic():
    kind = message_kind(category="loyalty_badge_earned", to="buyer@example.com")

    assert kind.topic == "loyalty" and not kind.essential and not kind.exempt
