from datetime import timedelta
from smtplib import SMTPServerDisconnected
from unittest import mock

import pytest
from django.db import transaction
from django.utils import timezone

from core import outbox
from core.models import OutboxMessage, OutboxStatus
from core.tasks import outbox_sweep_task

pytestmark = pytest.mark.django_db


def _enqueue(key="workshop:1"):
    return outbox.outbox_enqueue(
        dedupe_key=key, to="artisan@example.com", subject="Your workshop", body="See you Tuesday", category="workshop_invitation"
    )


def test_message_is_sent_once_after_the_transaction_commits(mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        message, created = _enqueue()
        assert created and len(mailoutbox) == 0
    assert len(callbacks) == 1
    message.refresh_from_db()
    assert message.status == OutboxStatus.SENT and message.sent_at is not None and message.attempts == 1
    assert [m.subject for m in mailoutbox] == ["Your workshop"]


def test_nothing_is_queued_when_the_causing_transaction_rolls_back(mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                _enqueue()
                raise RuntimeError("the change failed")
        except RuntimeError:
            pass
    assert OutboxMessage.objects.count() == 0 and mailoutbox == []


def test_same_cause_is_queued_once(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        _enqueue("expiry:lot:7")
        _, created = _enqueue("expiry:lot:7")
    assert not created
    assert OutboxMessage.objects.count() == 1 and len(callbacks) == 1


def test_a_delivered_message_is_not_sent_again(mailoutbox):
    message, _ = _enqueue()
    assert outbox.outbox_deliver(message_id=message.pk) is True
    assert outbox.outbox_deliver(message_id=message.pk) is False
    assert len(mailoutbox) == 1


def test_failed_send_stays_visible_with_its_error_and_is_retried_by_the_sweep(mailoutbox):
    message, _ = _enqueue()
    with mock.patch("core.outbox.send_mail", side_effect=SMTPServerDisconnected("mail server down")):
        with pytest.raises(SMTPServerDisconnected):
            outbox.outbox_deliver(message_id=message.pk)
    message.refresh_from_db()
    assert message.status == OutboxStatus.FAILED
    assert "mail server down" in message.last_error and message.attempts == 1
    assert message.next_attempt_at > timezone.now()

    OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert outbox_sweep_task() == 1
    message.refresh_from_db()
    assert message.status == OutboxStatus.SENT and len(mailoutbox) == 1


def test_a_claim_abandoned_by_a_dead_worker_is_released():
    message, _ = _enqueue()
    OutboxMessage.objects.filter(pk=message.pk).update(status=OutboxStatus.SENDING, claimed_at=timezone.now() - timedelta(hours=1))
    assert outbox.outbox_release_stale_claims() == 1
    message.refresh_from_db()
    assert message.status == OutboxStatus.PENDING


def test_many_messages_are_queued_in_bulk_and_a_dedupe_key_already_queued_is_not_sent_twice(
    mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _enqueue("reminder:1")
    messages = [
        {"dedupe_key": f"reminder:{i}", "to": f"m{i}@example.com", "subject": f"Reminder {i}", "body": "Points expire",
         "category": "survey_invitation"}
        for i in (1, 2, 3)
    ]

    with django_capture_on_commit_callbacks(execute=True):
        assert outbox.outbox_enqueue_many(messages) == 2

    assert OutboxMessage.objects.count() == 3
    assert sorted(m.subject for m in mailoutbox) == ["Reminder 2", "Reminder 3", "Your workshop"]
    assert set(OutboxMessage.objects.values_list("status", flat=True)) == {OutboxStatus.SENT}


def test_bulk_queued_messages_are_not_sent_when_the_transaction_rolls_back(mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError):
            with transaction.atomic():
                outbox.outbox_enqueue_many(
                    [{"dedupe_key": "r:9", "to": "a@example.com", "subject": "S", "body": "B", "category": "c"}]
                )
                raise RuntimeError("the caller failed")

    assert not OutboxMessage.objects.exists() and mailoutbox == []


def _messages(count):
    return [
        {"dedupe_key": f"batch:{i}", "to": f"m{i}@example.com", "subject": f"Note {i}", "body": "Hello", "category": "test"}
        for i in range(count)
    ]


def test_deliveries_are_queued_a_batch_per_task_and_each_message_is_sent_once(mailoutbox, django_capture_on_commit_callbacks):
    from core.tasks import outbox_deliver_batch_task

    count = 2 * outbox.DELIVERY_BATCH + 7
    with mock.patch.object(outbox_deliver_batch_task, "apply_async", wraps=outbox_deliver_batch_task.apply_async) as queued:
        with django_capture_on_commit_callbacks(execute=True):
            assert outbox.outbox_enqueue_many(_messages(count)) == count

    batches = [call.args[0][0] for call in queued.call_args_list]
    assert [len(batch) for batch in batches] == [outbox.DELIVERY_BATCH, outbox.DELIVERY_BATCH, 7]
    assert sorted(sum(batches, [])) == sorted(OutboxMessage.objects.values_list("pk", flat=True))
    assert len(mailoutbox) == count and len({m.to[0] for m in mailoutbox}) == count


def test_a_failed_send_in_a_batch_does_not_hold_up_the_rest_and_a_redelivered_batch_sends_nothing_twice(mailoutbox):
    from django.core.mail import send_mail as real_send_mail

    ids = []
    for fields in _messages(3):
        message, _ = outbox.outbox_enqueue(**fields)
        ids.append(message.pk)

    def send_or_fail(subject, *args, **kwargs):
        if subject == "Note 1":
            raise SMTPServerDisconnected("mail server down")
        return real_send_mail(subject, *args, **kwargs)

    with mock.patch("core.outbox.send_mail", side_effect=send_or_fail):
        assert outbox.outbox_deliver_many(message_ids=ids) == 2
    statuses = dict(OutboxMessage.objects.values_list("subject", "status"))
    assert statuses == {"Note 0": OutboxStatus.SENT, "Note 1": OutboxStatus.FAILED, "Note 2": OutboxStatus.SENT}
    assert "mail server down" in OutboxMessage.objects.get(subject="Note 1").last_error

    # The same batch again (a worker died before acknowledging it): nothing is sent twice, and the
    # failed message waits for its back-off rather than being retried at once.
    assert outbox.outbox_deliver_many(message_ids=ids) == 0
    assert sorted(m.subject for m in mailoutbox) == ["Note 0", "Note 2"]
