from celery import shared_task
from django.db import InterfaceError, OperationalError

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


@shared_task(name="core.outbox.sweep")
def outbox_sweep_task():
    outbox.outbox_release_stale_claims()
    due = outbox.outbox_due_ids()
    outbox.outbox_queue_deliveries(due)
    return len(due)


@shared_task(
    name="core.pipeline.start",
)
def pipeline_start_task(trigger: str = "beat", as_of: str | None = None, chunk_size: int | None = None):
    from datetime import datetime

    from core.pipeline import pipeline_start

    when = datetime.fromisoformat(as_of) if as_of else None
    return pipeline_start(trigger=trigger, as_of=when, chunk_size=chunk_size).pk


@shared_task(
    name="core.pipeline.chunk",
    bind=True,
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=2,
    retry_backoff_max=120,
    max_retries=10,
)
def pipeline_chunk_task(self, chunk_id: int):
    from core.pipeline import pipeline_fail_chunk, pipeline_run_chunk

    try:
        return pipeline_run_chunk(chunk_id=chunk_id)
    except (OperationalError, InterfaceError):
        raise
    except Exception as exc:  # noqa: BLE001 - a bad chunk fails its stage; the chord still completes
        pipeline_fail_chunk(chunk_id=chunk_id, error=f"{type(exc).__name__}: {exc}")
        return 0


@shared_task(
    name="core.pipeline.level_done",
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=2,
    max_retries=10,
)
def pipeline_level_done_task(*args):
    # A chord passes the header results first; the run and level are the last two arguments.
    run_id, level = args[-2], args[-1]
    from core.pipeline import _dispatch_level, pipeline_level_done

    next_level = pipeline_level_done(run_id=run_id, level=level)
    if next_level is not None:
        _dispatch_level(run_id, next_level)
    return next_level


@shared_task(name="core.pipeline.watchdog")
def pipeline_watchdog_task():
    from core.pipeline import pipeline_watchdog

    return pipeline_watchdog()
