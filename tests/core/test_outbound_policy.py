"""The outbound policy, tested at the outbox: no caller can queue around it."""

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.core import signing
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from buyers.factories import BuyerFactory
from core import outbox
from core.messaging import (
    contact_mark_bounced,
    contact_unsubscribe,
    policy_get,
    preference_set,
    unsubscribe_token,
    unsubscribe_token_read,
)
from core.models import ContactPreference, MessageTemplate, OutboxMessage, OutboxStatus, SuppressedReason
from core.tasks import outbox_sweep_task
from loyalty.factories import EarnLotFactory, RewardFactory, TierFactory
from loyalty.models import BuyerTier
from marketplace.factories import OrderFactory

pytestmark = pytest.mark.django_db


def _news(i, to="ana@example.com", category="survey_invitation"):
    return outbox.outbox_enqueue(dedupe_key=f"news:{i}", to=to, subject=f"News {i}", body="Hello Ana", category=category)


def test_a_message_over_the_recipients_weekly_cap_is_stored_as_suppressed_with_the_reason(mailoutbox):
    preference_set(address="Ana@Example.com", weekly_cap=2)

    messages = [_news(i)[0] for i in range(3)]

    assert [m.status for m in messages[:2]] == [OutboxStatus.PENDING, OutboxStatus.PENDING]
    assert messages[2].status == OutboxStatus.SUPPRESSED
    assert messages[2].suppressed_reason == SuppressedReason.PERSONAL_CAP
    assert OutboxMessage.objects.count() == 3


def test_the_marketplace_cap_applies_to_people_without_preferences_and_within_one_bulk_batch():
    policy = policy_get()
    policy.global_weekly_cap = 2
    policy.save()

    outbox.outbox_enqueue_many(
        [{"dedupe_key": f"b:{i}", "to": "bo@example.com", "subject": "S", "body": "B", "category": "survey_invitation"} for i in range(3)]
    )

    reasons = list(OutboxMessage.objects.order_by("dedupe_key").values_list("suppressed_reason", flat=True))
    assert reasons == ["", "", SuppressedReason.GLOBAL_CAP]


def test_a_muted_topic_is_suppressed_but_other_topics_still_go_out():
    preference_set(address="ana@example.com", muted_topics=["surveys"])

    survey, _ = _news(1)
    reminder, _ = _news(2, category="competition_prize")

    assert (survey.status, survey.suppressed_reason) == (OutboxStatus.SUPPRESSED, SuppressedReason.TOPIC_MUTED)
    assert reminder.status != OutboxStatus.SUPPRESSED


def test_unsubscribing_from_everything_still_lets_essential_order_updates_through_but_a_hard_bounce_stops_all():
    contact_unsubscribe(address="ana@example.com")
    news, _ = _news(1)
    order_update, _ = _news(2, category="late_order_status")
    contact_mark_bounced(address="ana@example.com", detail="550 no such user")
    after_bounce, _ = _news(3, category="late_order_status")

    assert news.suppressed_reason == SuppressedReason.UNSUBSCRIBED
    assert order_update.status != OutboxStatus.SUPPRESSED
    assert after_bounce.suppressed_reason == SuppressedReason.HARD_BOUNCE


def test_staff_alerts_to_team_inboxes_are_exempt_operational_mail(mailoutbox, django_capture_on_commit_callbacks):
    contact_mark_bounced(address="seller-support@localhost")
    with django_capture_on_commit_callbacks(execute=True):
        message, _ = outbox.outbox_enqueue(
            dedupe_key="alert:1", to="seller-support@localhost", subject="Return rate", body="Up", category="kpi_alert"
        )

    message.refresh_from_db()
    assert message.exempt and message.status == OutboxStatus.SENT
    assert "unsubscribe" not in message.body.lower()


def test_someone_who_unsubscribes_after_a_message_was_queued_does_not_receive_it(mailoutbox, django_capture_on_commit_callbacks):
    message, _ = _news(1)
    contact_unsubscribe(address="ana@example.com")

    assert outbox.outbox_deliver(message_id=message.pk) is False
    message.refresh_from_db()
    assert (message.status, message.suppressed_reason) == (OutboxStatus.SUPPRESSED, SuppressedReason.UNSUBSCRIBED)
    assert mailoutbox == []


def test_a_refused_address_is_recorded_as_a_hard_bounce_and_suppresses_later_mail(mailoutbox):
    from smtplib import SMTPRecipientsRefused

    message, _ = _news(1)
    OutboxMessage.objects.filter(pk=message.pk).update(status=OutboxStatus.PENDING)
    with mock.patch("core.outbox.send_mail", side_effect=SMTPRecipientsRefused({"ana@example.com": (550, b"unknown")})):
        assert outbox.outbox_deliver(message_id=message.pk) is False

    assert ContactPreference.objects.get(address="ana@example.com").hard_bounced_at is not None
    assert _news(2)[0].suppressed_reason == SuppressedReason.HARD_BOUNCE


def test_quiet_hours_hold_a_message_until_morning_in_the_recipients_time_zone(
    settings, mailoutbox, django_capture_on_commit_callbacks
):
    settings.MESSAGING_QUIET_HOURS = True
    preference_set(address="ana@example.com", time_zone="Asia/Tokyo")
    late_evening_in_tokyo = datetime(2026, 3, 2, 13, 30, tzinfo=UTC)  # 22:30 in Tokyo

    with mock.patch("django.utils.timezone.now", return_value=late_evening_in_tokyo), django_capture_on_commit_callbacks(execute=True):
        message, _ = _news(1)

    message.refresh_from_db()
    assert message.status == OutboxStatus.PENDING and mailoutbox == []
    assert message.next_attempt_at == datetime(2026, 3, 2, 23, 0, tzinfo=UTC)  # 08:00 next day in Tokyo
    with mock.patch("django.utils.timezone.now", return_value=datetime(2026, 3, 2, 23, 1, tzinfo=UTC)):
        assert outbox_sweep_task() == 1
    message.refresh_from_db()
    assert message.status == OutboxStatus.SENT and len(mailoutbox) == 1


def test_the_same_moment_is_daytime_for_a_recipient_elsewhere(settings, mailoutbox, django_capture_on_commit_callbacks):
    settings.MESSAGING_QUIET_HOURS = True
    preference_set(address="ana@example.com", time_zone="America/New_York")

    with mock.patch("django.utils.timezone.now", return_value=datetime(2026, 3, 2, 13, 30, tzinfo=UTC)), django_capture_on_commit_callbacks(execute=True):  # 08:30 in NY
        message, _ = _news(1)

    message.refresh_from_db()
    assert message.status == OutboxStatus.SENT


def test_a_template_that_fails_to_render_blocks_only_its_own_message_with_a_visible_error():
    MessageTemplate.objects.create(category="survey_invitation", subject="Hi", body="{% include 'missing/partial.txt' %}")

    broken, _ = _news(1)
    fine, _ = _news(2, to="bo@example.com", category="competition_prize")

    assert (broken.status, broken.suppressed_reason) == (OutboxStatus.SUPPRESSED, SuppressedReason.RENDER_ERROR)
    assert "TemplateDoesNotExist" in broken.last_error
    assert fine.status != OutboxStatus.SUPPRESSED


def test_every_message_is_rendered_with_the_recipients_own_context():
    buyer = BuyerFactory(name="Mira Ode", email="mira@example.com")
    BuyerTier.objects.create(buyer=buyer, tier=TierFactory(code="gold", name="Gold"), since=timezone.now(), computed_at=timezone.now())
    OrderFactory(buyer=buyer, seller__name="Juniper Clay")
    MessageTemplate.objects.create(
        category="survey_invitation",
        subject="{{ recipient.name }}, a question",
        body="Dear {{ recipient.name }} ({{ recipient.tier }}), you bought from {{ recipient.recent_artisans|join:', ' }}.",
    )

    message, _ = _news(1, to="mira@example.com")

    assert message.subject == "Mira Ode, a question"
    assert "Dear Mira Ode (Gold), you bought from Juniper Clay." in message.body
    assert "/messages/unsubscribe/" in message.body


def test_preferences_name_the_bad_field():
    with pytest.raises(ValidationError) as bad_zone:
        preference_set(address="ana@example.com", time_zone="Mars/Olympus")
    with pytest.raises(ValidationError) as bad_topic:
        preference_set(address="ana@example.com", muted_topics=["spam"])
    with pytest.raises(ValidationError) as bad_cap:
        preference_set(address="ana@example.com", weekly_cap=99)
    with pytest.raises(ValidationError) as bad_channel:
        preference_set(address="ana@example.com", channel="pigeon")

    assert "time_zone" in bad_zone.value.message_dict and "Mars/Olympus" in str(bad_zone.value)
    assert "muted_topics" in bad_topic.value.message_dict
    assert "weekly_cap" in bad_cap.value.message_dict
    assert "channel" in bad_channel.value.message_dict
    assert not ContactPreference.objects.exists()


def test_an_unsubscribe_token_is_signed_and_cannot_be_edited_to_name_someone_else():
    token = unsubscribe_token(address="ana@example.com", topic="loyalty")

    assert unsubscribe_token_read(token) == {"address": "ana@example.com", "topic": "loyalty"}
    with pytest.raises(signing.BadSignature):
        unsubscribe_token_read(token[:-2] + ("AA" if not token.endswith("AA") else "BB"))


def test_the_unsubscribe_page_asks_on_get_and_mutes_the_topic_on_post(client):
    url = reverse("messaging-unsubscribe", args=[unsubscribe_token(address="ana@example.com", topic="loyalty")])

    page = client.get(url)
    assert page.status_code == 200 and not ContactPreference.objects.exists()
    done = client.post(url, {"scope": "topic"})

    assert done.status_code == 200
    assert ContactPreference.objects.get(address="ana@example.com").muted_topics == ["loyalty"]
    assert client.get(reverse("messaging-unsubscribe", args=["forged"])).status_code == 400


def test_unsubscribing_from_everything_through_the_page():
    from django.test import Client

    url = reverse("messaging-unsubscribe", args=[unsubscribe_token(address="ana@example.com", topic="surveys")])
    Client().post(url, {"scope": "all"})

    assert ContactPreference.objects.get(address="ana@example.com").unsubscribed_at is not None


def test_the_expiry_reminder_says_what_the_expiring_points_cover():
    now = timezone.now()
    lot = EarnLotFactory(amount=420, expires_at=now + timedelta(days=10))
    RewardFactory(name="Ceramic mug", points_cost=300)
    RewardFactory(name="Weekend workshop", points_cost=2000)

    from loyalty.services import expiry_reminders_send

    expiry_reminders_send(now=now)

    message = OutboxMessage.objects.get()
    assert message.to == lot.buyer.email
    assert f"You have 420 points expiring on {lot.expires_at:%d %B %Y}; they cover Ceramic mug." in message.body
    assert "Weekend workshop" not in message.body


def _superuser_client(client):
    from core.factories import UserFactory

    client.force_login(UserFactory(is_superuser=True))
    return client


def test_the_admin_previews_a_template_for_a_real_recipient_and_shows_a_render_error(client):
    BuyerFactory(name="Mira Ode", email="mira@example.com")
    good = MessageTemplate.objects.create(category="survey_invitation", subject="Hi {{ recipient.name }}", body="Dear {{ recipient.name }}")
    bad = MessageTemplate.objects.create(category="competition_prize", subject="Hi", body="{% include 'nowhere.txt' %}")
    admin = _superuser_client(client)

    shown = admin.get(reverse("admin:core_messagetemplate_change", args=[good.pk]), {"preview_to": "mira@example.com"})
    broken = admin.get(reverse("admin:core_messagetemplate_change", args=[bad.pk]))

    assert shown.status_code == 200 and "Dear Mira Ode" in shown.content.decode()
    assert "Does not render: TemplateDoesNotExist" in broken.content.decode()


def test_a_template_with_a_syntax_error_is_refused_naming_the_field(client):
    admin = _superuser_client(client)

    reply = admin.post(
        reverse("admin:core_messagetemplate_add"),
        {"category": "survey_invitation", "subject": "Fine", "body": "{% if %}", "is_active": "on"},
    )

    assert reply.status_code == 200 and "Template error" in reply.content.decode()
    assert not MessageTemplate.objects.exists()


def test_the_cap_counts_messages_to_the_same_address_written_in_another_case():
    preference_set(address="ana@example.com", weekly_cap=1)

    _news(1, to="Ana@Example.com")
    second, _ = _news(2, to="ana@example.com")

    assert second.suppressed_reason == SuppressedReason.PERSONAL_CAP


def test_preferences_are_set_through_the_api_and_bad_fields_are_named(admin_client):
    reply = admin_client.put(
        "/api/v1/messaging/preferences/",
        {"address": "Ana@Example.com", "muted_topics": ["surveys"], "weekly_cap": 2, "time_zone": "Europe/Paris"},
        format="json",
    )
    bad = admin_client.put(
        "/api/v1/messaging/preferences/", {"address": "ana@example.com", "time_zone": "Nowhere/Land"}, format="json"
    )
    read = admin_client.get("/api/v1/messaging/preferences/", {"address": "ana@example.com"})

    assert reply.status_code == 200 and reply.data["muted_topics"] == ["surveys"]
    assert bad.status_code == 400 and "time_zone" in str(bad.data)
    assert read.data["weekly_cap"] == 2 and read.data["time_zone"] == "Europe/Paris"
