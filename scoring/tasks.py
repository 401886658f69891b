"""Celery entry points for scoring. Each takes IDs, calls one service, and is safe to run twice."""

import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError

from scoring import services

logger = logging.getLogger(__name__)


@shared_task(name="scoring.recompute_all", acks_late=True)
def seller_scores_recompute_task(trigger: str = "nightly") -> int:
    """Start a run and fan it out: one chunk task per id range."""
    run, ranges = services.score_run_start(trigger=trigger)
    for first_id, last_id in ranges:
        seller_scores_chunk_task.delay(run.pk, first_id, last_id)
    return run.pk


@shared_task(
    name="scoring.recompute_chunk",
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=2,
    max_retries=8,
)
def seller_scores_chunk_task(run_id: int, first_id: int, last_id: int) -> int:
    return services.score_run_chunk(run_id=run_id, first_id=first_id, last_id=last_id)


@shared_task(name="scoring.train_seller_score", acks_late=True, soft_time_limit=50 * 60, time_limit=55 * 60)
def seller_score_train_task(seed: int = 42, activate: bool = True) -> list[int]:
    from scoring.training import seller_score_train

    result = seller_score_train(seed=seed, activate=activate)
    return [version.pk for version in result.versions]


@shared_task(name="scoring.check_model_drift", acks_late=True)
def model_drift_check_task() -> list[int]:
    """Measure and store drift of every active seller-score version; the dashboard's thresholds alert on it."""
    from scoring.drift import active_models_drift_record

    return active_models_drift_record()
