"""Celery entry points of the cross-app sequences. Task names are kept from the apps that used
to hold them (``core.pipeline.*``, ``sellers.application_received``, ``scoring.rescore_seller``):
beat entries, routes, queued messages and pending reactions name them."""

import logging

from celery import shared_task
from django.core.exceptions import ValidationError
from django.db import InterfaceError, OperationalError

from workflows import onboarding

logger = logging.getLogger(__name__)



@shared_task(
    name="core.pipeline.start",
)
def pipeline_start_task(trigger: str = "beat", as_of: str | None = None, chunk_size: int | None = None):
    from datetime import datetime

    from workflows.pipeline import pipeline_start

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
    from workflows.pipeline import pipeline_fail_chunk, pipeline_run_chunk

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
    from workflows.pipeline import _dispatch_level, pipeline_level_done

    next_level = pipeline_level_done(run_id=run_id, level=level)
    if next_level is not None:
        _dispatch_level(run_id, next_level)
    return next_level


@shared_task(name="core.pipeline.watchdog")
def pipeline_watchdog_task():
    from workflows.pipeline import pipeline_watchdog

    return pipeline_watchdog()


@shared_task(name="sellers.application_received", acks_late=True, autoretry_for=(OperationalError, InterfaceError), retry_backoff=2, max_retries=5)
def seller_application_received_task(seller_id: int) -> int | None:
    """Score a new application and route it. A second delivery finds it routed and does nothing."""
    try:
        return onboarding.seller_application_process(seller_id=seller_id).score
    except ValidationError as exc:
        logger.warning("Application of seller %s not processed: %s", seller_id, "; ".join(exc.messages))
        return None


@shared_task(name="scoring.rescore_seller", acks_late=True, autoretry_for=(OperationalError, InterfaceError), retry_backoff=2, max_retries=5)
def seller_rescore_task(seller_id: int) -> int | None:
    try:
        return onboarding.seller_rescore(seller_id=seller_id).score
    except ValidationError as exc:
        # Unknown seller: retrying cannot help.
        logger.warning("Not rescoring seller %s: %s", seller_id, "; ".join(exc.messages))
        return None
