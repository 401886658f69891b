"""The notification outbox: every email Kiln sends goes through here."""

import logging
from smtplib import SMTPRecipientsRefused
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from core.messaging import contact_mark_bounced, delivery_decision, messages_admit
from core.models import OutboxMessage, OutboxStatus

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
# A claim older than this belongs to a worker that died mid-send; the row may be retried.
CLAIM_TIMEOUT = timedelta(minutes=10)


def outbox_enqueue(
    *, dedupe_key: str, to: str, category: str, subject: str = "", body: str = "", context: dict | None = None
) -> tuple[OutboxMessage, bool]:
    """Queue a message inside the caller's transaction; it is sent after that commits.

    Returns the message and whether it was new. Calling twice for the same cause
    (the same dedupe_key) queues it once. The outbound policy (core.messaging) renders it
    from its template with the recipient's context and may store it as suppressed instead.
    """
    existing = OutboxMessage.objects.filter(dedupe_key=dedupe_key).first()
    if existing is not None:
        return existing, False
    (fields,) = messages_admit(
        [{"dedupe_key": dedupe_key, "to": to, "category": category, "subject": subject, "body": body, "context": context}]
    )
    message, created = OutboxMessage.objects.get_or_create(dedupe_key=dedupe_key, defaults=fields)
    if created and message.status == OutboxStatus.PENDING:
        from core.tasks import outbox_deliver_task

        transaction.on_commit(lambda: outbox_deliver_task.delay(message.pk))
    return message, created


def outbox_enqueue_many(messages: list[dict]) -> int:
    """``outbox_enqueue`` for many messages (dicts of dedupe_key, to, category and either context or
    subject and body) in a few statements; a dedupe key already queued is skipped. Returns how many
    are pending delivery (suppressed ones are stored but not counted)."""
    if not messages:
        return 0
    known = set(
        OutboxMessage.objects.filter(dedupe_key__in=[m["dedupe_key"] for m in messages]).values_list("dedupe_key", flat=True)
    )
    fresh = [m for m in messages if m["dedupe_key"] not in known]
    rows = [OutboxMessage(**fields) for fields in messages_admit(fresh)] if fresh else []
    OutboxMessage.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    pending = list(
        OutboxMessage.objects.filter(
            dedupe_key__in=[m["dedupe_key"] for m in fresh], status=OutboxStatus.PENDING
        ).values_list("pk", flat=True)
    )
    transaction.on_commit(lambda: outbox_queue_deliveries(pending))
    return len(pending)


# Messages per delivery task. Each message is still claimed and sent on its own; the batch only
# saves the broker round trips (4,483 single-message tasks took 8.1 s to enqueue in a nightly
# run at mid size, and a target-size night queues about 21,000).
DELIVERY_BATCH = 100


def outbox_queue_deliveries(message_ids: list[int]) -> None:
    """Queue the deliveries of ``message_ids``, ``DELIVERY_BATCH`` messages a task, over one producer connection."""
    if not message_ids:
        return
    from core.tasks import outbox_deliver_batch_task

    with outbox_deliver_batch_task.app.producer_or_acquire() as producer:
        for start in range(0, len(message_ids), DELIVERY_BATCH):
            batch = [int(message_id) for message_id in message_ids[start : start + DELIVERY_BATCH]]
            outbox_deliver_batch_task.apply_async((batch,), producer=producer)


def outbox_deliver_many(*, message_ids: list[int]) -> int:
    """Send each message as ``outbox_deliver`` does. Returns how many this call sent.

    One failed send does not hold up the rest: ``outbox_deliver`` has recorded it as failed with
    its back-off, and the sweep queues it again when that is due. A batch redelivered after a
    worker died skips what was sent already (the claim finds it no longer pending).
    """
    sent = 0
    for message_id in message_ids:
        try:
            sent += outbox_deliver(message_id=message_id)
        except Exception:  # noqa: BLE001 - recorded on the message by outbox_deliver; retried by the sweep
            continue
    return sent


def team_address(team: str) -> str:
    return settings.TEAM_EMAILS[team]


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** (attempts - 1), 3600))


def outbox_deliver(*, message_id: int) -> bool:
    """Send one message. Returns True if this call sent it.

    The conditional UPDATE is the claim: of two workers handed the same row only one
    moves it out of pending, so the message is sent at most once per claim.
    """
    now = timezone.now()
    claimed = OutboxMessage.objects.filter(
        pk=message_id, status__in=[OutboxStatus.PENDING, OutboxStatus.FAILED], attempts__lt=MAX_ATTEMPTS,
        next_attempt_at__lte=now,  # held for quiet hours or backing off: the sweep sends it when due
    ).update(status=OutboxStatus.SENDING, claimed_at=now)
    if not claimed:
        return False
    message = OutboxMessage.objects.get(pk=message_id)
    # The policy again at the door: the person may have unsubscribed, or the address bounced,
    # since the message was queued, and a retried message may now fall in quiet hours.
    decision, detail = delivery_decision(message, now=now)
    if decision == "suppress":
        OutboxMessage.objects.filter(pk=message_id).update(status=OutboxStatus.SUPPRESSED, suppressed_reason=detail)
        return False
    if decision == "defer":
        OutboxMessage.objects.filter(pk=message_id).update(status=OutboxStatus.PENDING, next_attempt_at=detail)
        return False
    try:
        send_mail(message.subject, message.body, settings.DEFAULT_FROM_EMAIL, [message.to], fail_silently=False)
    except SMTPRecipientsRefused as exc:
        # A permanent refusal of the address is a hard bounce: suppress it and everything after.
        contact_mark_bounced(address=message.to, detail=str(exc.recipients)[:255])
        OutboxMessage.objects.filter(pk=message_id).update(
            status=OutboxStatus.SUPPRESSED, suppressed_reason="hard_bounce", attempts=message.attempts + 1,
            last_error=f"SMTPRecipientsRefused: {exc.recipients}"[:2000],
        )
        return False
    except Exception as exc:  # noqa: BLE001 - any transport error is recorded and retried
        attempts = message.attempts + 1
        OutboxMessage.objects.filter(pk=message_id).update(
            status=OutboxStatus.FAILED,
            attempts=attempts,
            last_error=f"{type(exc).__name__}: {exc}"[:2000],
            next_attempt_at=now + _backoff(attempts),
        )
        logger.warning("outbox message %s failed (attempt %s): %s", message_id, attempts, type(exc).__name__)
        raise
    OutboxMessage.objects.filter(pk=message_id, status=OutboxStatus.SENDING).update(
        status=OutboxStatus.SENT, sent_at=timezone.now(), attempts=message.attempts + 1, last_error=""
    )
    return True


def outbox_due_ids(*, now=None, limit: int = 500) -> list[int]:
    now = now or timezone.now()
    pending = OutboxMessage.objects.filter(
        status__in=[OutboxStatus.PENDING, OutboxStatus.FAILED], next_attempt_at__lte=now, attempts__lt=MAX_ATTEMPTS
    )
    return list(pending.order_by("next_attempt_at").values_list("pk", flat=True)[:limit])


def outbox_release_stale_claims(*, now=None) -> int:
    now = now or timezone.now()
    return OutboxMessage.objects.filter(status=OutboxStatus.SENDING, claimed_at__lt=now - CLAIM_TIMEOUT).update(
        status=OutboxStatus.PENDING
    )


def outbox_retry(*, message_ids: list[int]) -> int:
    """Staff asked to try failed messages again, attempts budget included."""
    count = OutboxMessage.objects.filter(pk__in=message_ids, status=OutboxStatus.FAILED).update(
        status=OutboxStatus.PENDING, attempts=0, next_attempt_at=timezone.now()
    )
    transaction.on_commit(lambda: outbox_queue_deliveries(list(message_ids)))
    return count
