"""Statements grow with rows divided by the chunk size, never with rows.

The heaviest chunked stages of the night (points award, tiers) and the recommendations run
through the pipeline machinery, inline, on two factory-built populations, the second three times
the first, at the same chunk size. The extra statements of the larger run must be explained by
its extra chunks; a per-row query anywhere would add hundreds.
"""

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from buyers.factories import BuyerFactory, BuyerRetentionFactory
from buyers.models import Buyer
from core.models import PipelineChunk, PipelineRun, RunStatus
from loyalty.factories import EarningRuleFactory, TierFactory
from loyalty.models import BuyerTier, LoyaltyProgram, PointsEntry, RuleKind, TierChange
from marketplace.factories import OrderFactory, OrderLineFactory
from marketplace.models import Order
from sellers.factories import ListingFactory, SellerFactory
from workflows import pipeline
from workflows.stages import STAGES as NIGHTLY

pytestmark = pytest.mark.django_db

CHUNK_SIZE = 50
# What one more chunk may cost at most, over all its stages: a chunk's own reads and writes plus
# the pipeline's bookkeeping for it (claim, heartbeat, close).
STATEMENTS_PER_CHUNK = 25
STAGE_NAMES = ("buyer_recommendations", "loyalty_award_orders", "loyalty_lots", "loyalty_tiers")
STAGES = [replace(stage, level={"loyalty_tiers": 2, "loyalty_lots": 1}.get(stage.name, 0)) for stage in NIGHTLY if stage.name in STAGE_NAMES]


def _population(buyers: int, *, seed: int):
    rng = np.random.default_rng(seed)
    now = timezone.now()
    sellers = SellerFactory.create_batch(4)
    listings = [ListingFactory(seller=seller) for seller in sellers for _ in range(3)]
    for buyer in BuyerFactory.create_batch(buyers):
        BuyerRetentionFactory(buyer=buyer)
        for _ in range(3):
            listing = listings[int(rng.integers(0, len(listings)))]
            placed = now - timedelta(days=int(rng.integers(20, 200)))
            order = OrderFactory(buyer=buyer, seller=listing.seller, placed_at=placed, delivered_at=placed + timedelta(days=6),
                                 total_amount=Decimal(int(rng.integers(1000, 20000))) / 100)
            OrderLineFactory(order=order, listing=listing)


def _night() -> tuple[int, int]:
    """Statements and chunks of one inline run."""
    with CaptureQueriesContext(connection) as queries:
        list(pipeline.pipeline_run_inline(chunk_size=CHUNK_SIZE))
    run = PipelineRun.objects.order_by("-pk").first()
    assert run.status == RunStatus.SUCCEEDED, run.error
    return len(queries.captured_queries), PipelineChunk.objects.filter(stage__run=run).count()


def _wipe():
    for model in (TierChange, BuyerTier, PointsEntry, Order, Buyer):
        model.objects.all().delete()


def test_statements_grow_with_chunks_not_with_rows(settings):
    LoyaltyProgram.objects.get_or_create(pk=1)
    settings.PIPELINE_STAGES = "tests.workflows.test_statement_counts:STAGES"
    EarningRuleFactory(name="A point per unit", points=Decimal("1"))
    EarningRuleFactory(name="Repeat", kind=RuleKind.REPEAT_PURCHASE, points=Decimal("10"))
    TierFactory(code="member", rank=0, threshold=Decimal(0))
    TierFactory(code="silver", rank=1, threshold=Decimal(400), multiplier=Decimal("1.25"))

    _population(60, seed=1)
    small_statements, small_chunks = _night()
    small_entries = PointsEntry.objects.count()
    _wipe()
    _population(180, seed=2)
    large_statements, large_chunks = _night()
    large_entries = PointsEntry.objects.count()

    assert large_entries > 2.5 * small_entries > 0  # the larger night really wrote about three times the rows
    assert large_chunks > small_chunks
    extra = large_statements - small_statements
    assert extra <= STATEMENTS_PER_CHUNK * (large_chunks - small_chunks), (small_statements, large_statements, small_chunks, large_chunks)
