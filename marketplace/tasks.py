"""Celery entry points for onboarding. Each takes IDs, calls one service, and is safe to run twice."""

import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError

from marketplace import inventory

logger = logging.getLogger(__name__)


@shared_task(name="sellers.inventory_audit", acks_late=True)
def inventory_audit_task() -> int:
    """Find artisans with inconsistent stock data and fan out case opening in bounded chunks."""
    seller_ids = inventory.inventory_audit_sellers()
    for start in range(0, len(seller_ids), inventory.AUDIT_CHUNK):
        inventory_audit_chunk_task.delay(seller_ids[start : start + inventory.AUDIT_CHUNK])
    return len(seller_ids)


@shared_task(name="sellers.inventory_audit_chunk", acks_late=True, autoretry_for=(OperationalError, InterfaceError), retry_backoff=2, max_retries=5)
def inventory_audit_chunk_task(seller_ids: list[int]) -> int:
    return inventory.inventory_audit_open_cases(seller_ids=seller_ids)
