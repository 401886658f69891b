"""Hooks for the nightly pipeline (workflows/pipeline.py): seller scores as one chunked stage.

Registered in workflows/stages.py as ``Stage(name="seller_scores", level=1, keys="sellers.Seller",
chunk=seller_scores_chunk)`` after the feature inputs are in.
"""

from datetime import datetime

from django.db import transaction

from scoring import services
from scoring.features import population_stats
from scoring.models import RunStatus, ScoreRun
from sellers.models import OnboardingStatus, Seller


def _population(as_of: datetime) -> dict:
    """Population figures for this pipeline run, computed by the first chunk and shared via a ScoreRun row."""
    run = ScoreRun.objects.filter(as_of=as_of, trigger="pipeline").exclude(population={}).first()
    if run is None:
        # Two chunks starting together may both compute this; either copy is the same figures.
        run = ScoreRun.objects.create(
            as_of=as_of, trigger="pipeline", status=RunStatus.DONE, finished_at=as_of, population=population_stats(as_of=as_of)
        )
    return run.population


def seller_scores_chunk(*, lo: int, hi: int, as_of: datetime) -> int:
    ids = list(
        Seller.objects.filter(pk__gte=lo, pk__lte=hi).exclude(onboarding_status=OnboardingStatus.REJECTED).values_list("pk", flat=True)
    )
    if not ids:
        return 0
    scores = services.seller_scores_compute(as_of=as_of, seller_ids=ids, population=_population(as_of))
    with transaction.atomic():
        # History is unique per (seller, run_key): a redelivered chunk rewrites the same rows.
        return services.seller_scores_write(scores=scores, computed_at=as_of, run_key=f"nightly:{as_of.isoformat()}")
