"""Retention tasks. Thin: each takes IDs or an ISO timestamp and calls one service."""

from __future__ import annotations

from datetime import datetime

from celery import shared_task
from django.db import InterfaceError, OperationalError
from django.utils import timezone

RETRYABLE = (OperationalError, InterfaceError)


def _as_of(value: str | None) -> datetime:
    return datetime.fromisoformat(value) if value else timezone.now()


@shared_task(name="buyers.recompute_retention")
def recompute_retention_task(as_of: str | None = None) -> int:
    """Fit the customer-base models once, then score buyers in id-range chunks."""
    from retention.services import buyer_id_ranges, lifetime_fits_run

    moment = _as_of(as_of)
    lifetime_fits_run(as_of=moment)
    ranges = buyer_id_ranges()
    for start, end in ranges:
        score_buyer_range_task.delay(start, end, moment.isoformat())
    return len(ranges)


@shared_task(name="buyers.score_buyer_range", acks_late=True, autoretry_for=RETRYABLE, retry_backoff=True, max_retries=5)
def score_buyer_range_task(start_id: int, end_id: int, as_of: str | None = None) -> int:
    from retention.services import buyer_retention_score_range

    return buyer_retention_score_range(start_id=start_id, end_id=end_id, as_of=_as_of(as_of))


@shared_task(name="buyers.recompute_recommendations", acks_late=True, autoretry_for=RETRYABLE, retry_backoff=True, max_retries=3)
def recompute_recommendations_task(as_of: str | None = None) -> int:
    from retention.recommendations import buyer_recommendations_recompute

    return buyer_recommendations_recompute(as_of=_as_of(as_of))


@shared_task(name="buyers.train_churn_model")
def train_churn_model_task(as_of: str | None = None) -> dict:
    from retention.churn import NotEnoughHistory, churn_model_train

    try:
        _, report = churn_model_train(as_of=_as_of(as_of))
    except NotEnoughHistory as exc:
        return {"skipped": str(exc)}
    return report


@shared_task(name="buyers.open_churn_cases", acks_late=True, autoretry_for=RETRYABLE, retry_backoff=True, max_retries=3)
def open_churn_cases_task(as_of: str | None = None) -> dict:
    from retention.interventions import buyer_churn_cases_open

    return buyer_churn_cases_open(as_of=_as_of(as_of))


@shared_task(name="buyers.recompute_seller_dormancy", acks_late=True, autoretry_for=RETRYABLE, retry_backoff=True, max_retries=3)
def recompute_seller_dormancy_task(as_of: str | None = None) -> dict:
    from retention.interventions import seller_dormant_cases_open
    from retention.dormancy import seller_dormancy_recompute

    moment = _as_of(as_of)
    flagged = seller_dormancy_recompute(as_of=moment)
    return {"flagged": len(flagged)} | seller_dormant_cases_open(as_of=moment)


@shared_task(name="marketplace.late_order_outreach", acks_late=True)
def late_order_outreach_task() -> dict:
    from retention.late_orders import late_order_outreach_run

    return late_order_outreach_run()
