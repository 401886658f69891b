from celery import shared_task

from core import outbox


@shared_task(name="core.outbox.deliver", bind=True, max_retries=outbox.MAX_ATTEMPTS, acks_late=True)
def outbox_deliver_task(self, message_id: int):
    try:
        return outbox.outbox_deliver(message_id=message_id)
    except Exception as exc:  # noqa: BLE001 - the service recorded the failure; Celery schedules the retry
        if self.app.conf.task_always_eager:
            # In-process mode has no broker to hold a delayed retry; the sweep picks it up.
            return False
        raise self.retry(exc=exc, countdown=30 * 2**self.request.retries)


@shared_task(name="core.outbox.deliver_batch", acks_late=True)
def outbox_deliver_batch_task(message_ids: list[int]):
    return outbox.outbox_deliver_many(message_ids=message_ids)


@shared_task(name="core.outbox.sweep")
def outbox_sweep_task():
    outbox.outbox_release_stale_claims()
    due = outbox.outbox_due_ids()
    outbox.outbox_queue_deliveries(due)
    return len(due)
