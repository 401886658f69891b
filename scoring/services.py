"""Scoring artisans: compute scores with reasons, write them in bulk, run chunked recomputes."""

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from scoring import registry
from scoring.explain import contributions, reasons_for
from scoring.features import MODEL_FEATURES, population_stats, seller_features
from scoring.models import (
    ModelStatus,
    ModelVersion,
    RunStatus,
    ScoreBasis,
    ScoreRun,
    ScoreRunChunk,
    SellerScore,
    SellerScoreHistory,
)
from scoring.training import COLD_START_KIND, KIND
from sellers.models import OnboardingStatus, Seller

logger = logging.getLogger(__name__)

# Measured on PostgreSQL with the bench (bench/scoring_recompute.py): features, prediction and
# bulk writes for 1,000 artisans take well under the task soft limit, and the id list fits
# comfortably in one task message.
CHUNK_SIZE = 1000
NO_MODEL_REASON = {"feature": "", "text": "no validated scoring model is active yet: not scored", "contribution": 0}
NOT_ENOUGH_HISTORY_REASON = {
    "feature": "",
    "text": "no sales history yet and no validated new-artisan model: routed by the onboarding policy",
    "contribution": 0,
}


COLD_START_KEY = "__cold_start__"


def active_models() -> dict:
    """{category or None: (version, estimator)} of every active seller-score model.

    The cold-start model, when one is active, is under COLD_START_KEY.
    """
    versions = ModelVersion.objects.filter(kind__in=[KIND, COLD_START_KIND], status=ModelStatus.ACTIVE)
    models = {}
    for version in versions:
        key = COLD_START_KEY if version.kind == COLD_START_KIND else version.category
        models[key] = (version, registry.model_load(version))
    return models


def _model_key(features: pd.DataFrame, models: dict) -> pd.Series:
    """Which model speaks for each artisan: its category's, else the global one; newcomers the
    cold-start model. None where no validated model can (the basis then says why)."""
    key = features["craft_category"].map(lambda c: c if c in models else (None if None in models else "__none__"))
    newcomer = features["has_history"] == 0
    return key.where(~newcomer, COLD_START_KEY if COLD_START_KEY in models else "__no_history__")


def seller_scores_compute(*, as_of: datetime, seller_ids=None, models: dict | None = None,
                          population: dict | None = None) -> pd.DataFrame:
    """Scores (0-100), calibrated probabilities and reasons for artisans, indexed by seller_id.

    Each artisan is scored by its category's active model if there is one, else by the global
    model; an artisan with no sales by the cold-start model. Where no validated model applies,
    the score is empty and ``basis`` says why: never a made-up neutral number.
    """
    features = seller_features(as_of=as_of, seller_ids=seller_ids, population=population)
    models = active_models() if models is None else models
    out = pd.DataFrame(index=features.index)
    out["probability"] = None
    out["model_version_id"] = None
    out["basis"] = ScoreBasis.NO_MODEL
    out["reasons"] = [[NO_MODEL_REASON] for _ in range(len(out))]
    out["cold_start"] = features["has_history"] == 0 if len(features) else pd.Series(dtype=bool)
    if len(features):
        for key, group in features.groupby(_model_key(features, models).fillna("__global__")):
            if key == "__no_history__":
                out.loc[group.index, "basis"] = ScoreBasis.NOT_ENOUGH_HISTORY
                out.loc[group.index, "reasons"] = pd.Series([[NOT_ENOUGH_HISTORY_REASON]] * len(group), index=group.index, dtype=object)
                continue
            if key == "__none__":
                continue
            version, estimator = models[None if key == "__global__" else key]
            X = group[version.features].to_numpy(dtype=float)
            prob = estimator.predict_proba(X)[:, 1]
            points = contributions(estimator, version.features, X, prob)
            out.loc[group.index, "probability"] = prob
            out.loc[group.index, "model_version_id"] = version.pk
            out.loc[group.index, "basis"] = ScoreBasis.COLD_START_MODEL if key == COLD_START_KEY else ScoreBasis.MODEL
            records = group.to_dict("records")  # plain dicts: far cheaper than iterrows for the text
            out.loc[group.index, "reasons"] = pd.Series(
                [reasons_for(row, points[i], version.features) for i, row in enumerate(records)],
                index=group.index,
                dtype=object,
            )
    probability = pd.to_numeric(out["probability"], errors="coerce").clip(0, 1)
    out["probability"] = probability
    out["score"] = np.rint(probability * 100).clip(0, 100).astype("Int64")
    out["features"] = (
        features[MODEL_FEATURES].round(4).to_dict(orient="records") if len(features) else []
    )
    return out


def seller_scores_write(*, scores: pd.DataFrame, computed_at: datetime, run_key: str, run: ScoreRun | None = None) -> int:
    """Write current scores and history rows in bulk. Call inside a transaction."""
    current, history = [], []
    columns = zip(
        scores.index, scores["score"], scores["probability"], scores["reasons"], scores["model_version_id"],
        scores["cold_start"], scores["features"], scores["basis"],
    )
    for seller_id, score, probability, reasons, version_id, cold_start, features, basis in columns:
        version_id = None if pd.isna(version_id) else int(version_id)
        score = None if pd.isna(score) else int(score)
        probability = None if pd.isna(probability) else float(probability)
        current.append(
            SellerScore(
                seller_id=int(seller_id), score=score, probability=probability, reasons=reasons, basis=basis,
                model_version_id=version_id, cold_start=bool(cold_start), features=features,
                computed_at=computed_at, run=run,
            )
        )
        history.append(
            SellerScoreHistory(
                seller_id=int(seller_id), score=score, probability=probability, reasons=reasons, basis=basis,
                model_version_id=version_id, computed_at=computed_at, run_key=run_key,
            )
        )
    SellerScore.objects.bulk_create(
        current,
        batch_size=1000,
        update_conflicts=True,
        unique_fields=["seller"],
        update_fields=["score", "probability", "basis", "reasons", "model_version", "cold_start", "features", "computed_at", "run"],
    )
    # The unique (seller, run_key) makes a re-run of the same chunk write no second history row.
    SellerScoreHistory.objects.bulk_create(history, batch_size=1000, ignore_conflicts=True)
    return len(current)


def scorable_seller_ids() -> list[int]:
    return list(
        Seller.objects.exclude(onboarding_status=OnboardingStatus.REJECTED).order_by("pk").values_list("pk", flat=True)
    )


def score_run_start(*, as_of: datetime | None = None, trigger: str = "nightly", chunk_size: int = CHUNK_SIZE) -> tuple[ScoreRun, list[tuple[int, int]]]:
    """Create a run and split the artisans into id ranges; each range is one chunk task."""
    as_of = as_of or timezone.now()
    ids = scorable_seller_ids()
    ranges = [(ids[i], ids[min(i + chunk_size, len(ids)) - 1]) for i in range(0, len(ids), chunk_size)]
    run = ScoreRun.objects.create(
        as_of=as_of, trigger=trigger, chunks_total=len(ranges), population=population_stats(as_of=as_of) if ranges else {},
        status=RunStatus.RUNNING if ranges else RunStatus.DONE, finished_at=None if ranges else timezone.now(),
    )
    return run, ranges


def score_run_chunk(*, run_id: int, first_id: int, last_id: int) -> int:
    """Score artisans first_id..last_id for a run. Idempotent and all-or-nothing.

    Features and predictions are computed before the transaction opens; the writes, the
    chunk marker and the run counter commit together, so a worker killed mid-chunk leaves
    nothing behind and the redelivered task starts the chunk again.
    """
    run = ScoreRun.objects.get(pk=run_id)
    if ScoreRunChunk.objects.filter(run=run, first_seller_id=first_id).exists():
        return 0
    ids = list(
        Seller.objects.filter(pk__gte=first_id, pk__lte=last_id)
        .exclude(onboarding_status=OnboardingStatus.REJECTED)
        .values_list("pk", flat=True)
    )
    scores = seller_scores_compute(as_of=run.as_of, seller_ids=ids, population=run.population or None)
    try:
        with transaction.atomic():
            ScoreRunChunk.objects.create(run=run, first_seller_id=first_id, last_seller_id=last_id, sellers_scored=len(scores))
            written = seller_scores_write(scores=scores, computed_at=run.as_of, run_key=f"run:{run.pk}", run=run)
            ScoreRun.objects.filter(pk=run.pk).update(
                chunks_done=F("chunks_done") + 1, sellers_scored=F("sellers_scored") + written
            )
            # Whoever commits the last chunk closes the run (conditional UPDATE: exactly once).
            ScoreRun.objects.filter(pk=run.pk, status=RunStatus.RUNNING, chunks_done=F("chunks_total")).update(
                status=RunStatus.DONE, finished_at=timezone.now()
            )
    except IntegrityError:
        # A duplicate delivery of this chunk committed first; its scores stand.
        return 0
    return written


POPULATION_MAX_AGE = timedelta(hours=36)


def recent_population(*, as_of: datetime) -> dict | None:
    """The population figures of the latest run within 36 hours, so one rescore stays cheap.

    Category averages move slowly; recomputing them over every order for each new
    application would cost as much as scoring everyone. None means compute afresh.
    """
    run = (
        ScoreRun.objects.filter(as_of__lte=as_of, as_of__gte=as_of - POPULATION_MAX_AGE)
        .exclude(population={})
        .order_by("-as_of")
        .only("population")
        .first()
    )
    return run.population if run else None


def seller_rescore(*, seller_id: int, as_of: datetime | None = None, then: Callable | None = None) -> SellerScore:
    """Score one artisan now (new data arrived) and keep the history.

    ``then(seller=, score=)`` runs in the same transaction as the write: onboarding routing
    (workflows/onboarding.py) passes itself here, so a score and its decision commit together.
    """
    as_of = as_of or timezone.now()
    seller = Seller.objects.filter(pk=seller_id).first()
    if seller is None:
        raise ValidationError({"seller_id": f"Unknown seller {seller_id}."})
    # An application stamped a moment ahead of this clock must still be scored, not skipped.
    as_of = max(as_of, seller.applied_at + timedelta(seconds=1))
    scores = seller_scores_compute(as_of=as_of, seller_ids=[seller.pk], population=recent_population(as_of=as_of))
    with transaction.atomic():
        seller_scores_write(scores=scores, computed_at=as_of, run_key=f"single:{as_of.isoformat()}")
        score = SellerScore.objects.select_related("model_version").get(seller=seller)
        if then is not None:
            then(seller=seller, score=score)
    return score


def sellers_rescore(*, seller_ids: list[int], as_of: datetime | None = None, then: Callable | None = None) -> int:
    """``seller_rescore`` for a set of artisans: one feature query and one write for all of them
    instead of one per artisan, with the same scores (the population figures are the recent run's,
    or computed afresh over every artisan, never over the set alone). Unknown ids are skipped.
    ``then(seller=, score=)`` runs for each artisan in the transaction that writes the scores.
    Returns how many artisans were scored."""
    as_of = as_of or timezone.now()
    sellers = list(Seller.objects.filter(pk__in=list(seller_ids)).order_by("pk"))
    # An application stamped a moment ahead of this clock is scored at its own time, as one.
    ahead = [s for s in sellers if s.applied_at + timedelta(seconds=1) > as_of]
    for seller in ahead:
        seller_rescore(seller_id=seller.pk, as_of=as_of, then=then)
    now_ids = [s.pk for s in sellers if s.applied_at + timedelta(seconds=1) <= as_of]
    if now_ids:
        scores = seller_scores_compute(as_of=as_of, seller_ids=now_ids, population=recent_population(as_of=as_of))
        with transaction.atomic():
            seller_scores_write(scores=scores, computed_at=as_of, run_key=f"single:{as_of.isoformat()}")
            if then is not None:
                for score in SellerScore.objects.select_related("model_version", "seller").filter(seller_id__in=now_ids).order_by("seller_id"):
                    then(seller=score.seller, score=score)
    return len(sellers)
