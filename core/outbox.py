"""The notification outbox: every email Kiln sends goes through here."""

import logging
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from core.models import OutboxMessage, OutboxStatus

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
# A claim older than this belongs to a worker that died mid-send; the row may be retried.
CLAIM_TIMEOUT = timedelta(minutes=10)


def outbox_enqueue(*, dedupe_key: str, to: str, subject: str, body: str, category: str) -> tuple[OutboxMessage, bool]:
    """Queue a message inside the caller's transaction; it is sent after that commits.

    Returns the message and whether it was new. Calling twice for the same cause
    (the same dedupe_key) queues it once.
    """
    message, created = OutboxMessage.objects.get_or_create(
        dedupe_key=dedupe_key,
        defaults={"to": to, "subject": subject, "body": body, "category": category},
    )
    if created:
        from core.tasks import outbox_deliver_task

        transaction.on_commit(lambda: outbox_deliver_task.delay(message.pk))
    return message, created


def outbox_enqueue_many(messages: list[dict]) -> int:
    """``outbox_enqueue`` for many messages (dicts of dedupe_key, to, subject, body, category) in
    two statements; a dedupe key already queued is skipped. Returns how many are pending delivery."""
    if not messages:
        return 0
    OutboxMessage.objects.bulk_create([OutboxMessage(**m) for m in messages], ignore_conflicts=True, batch_size=1000)
    pending = list(
        OutboxMessage.objects.filter(
            dedupe_key__in=[m["dedupe_key"] for m in messages], status=OutboxStatus.PENDING
        ).values_list("pk", flat=True)
    )
    from core.tasks import outbox_deliver_task

    transaction.on_commit(lambda: [outbox_deliver_task.delay(pk) for pk in pending])
    return len(pending)


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
        pk=message_id, status__in=[OutboxStatus.PENDING, OutboxStatus.FAILED], attempts__lt=MAX_ATTEMPTS
    ).update(status=OutboxStatus.SENDING, claimed_at=now)
    if not claimed:
        return False
    message = OutboxMessage.objects.get(pk=message_id)
    try:
        send_mail(message.subject, message.body, settings.DEFAULT_FROM_EMAIL, [message.to], fail_silently=False)
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
    from core.tasks import outbox_deliver_task

    for message_id in message_ids:
        transaction.on_commit(lambda message_id=message_id: outbox_deliver_task.delay(message_id))
    return count
