from celery import shared_task

from integrations.reactions import reactions_run, reactions_sweep_stale
from integrations.services import idempotency_records_purge


@shared_task(name="integrations.run_reactions")
def run_reactions_task(pairs: list[list]) -> int:
    return reactions_run(pairs=[(task_path, subject_id) for task_path, subject_id in pairs])


@shared_task(name="integrations.purge_idempotency_records")
def purge_idempotency_records_task() -> int:
    deleted, more = idempotency_records_purge()
    if more:
        purge_idempotency_records_task.delay()
    return deleted


@shared_task(name="integrations.sweep_stale_reactions")
def sweep_stale_reactions_task() -> int:
    return reactions_sweep_stale()
