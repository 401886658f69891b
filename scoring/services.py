"""Scoring artisans: compute scores with reasons, write them in bulk, run chunked recomputes."""

import logging
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from scoring import registry
from scoring.explain import contributions, linear_terms, reasons_for
from scoring.features import MODEL_FEATURES, population_stats, seller_features
from scoring.models import (
    ModelStatus,
    ModelVersion,
    RunStatus,
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
NEUTRAL_PROBABILITY = 0.5
# Activity a brand-new artisan cannot have yet. For cold-start rows these are held at the
# training population's average, so they neither add nor remove points: the score then
# comes from the application (experience, portfolio) and the category priors.
COLD_START_NEUTRAL = ("log_logins_30", "login_trend", "log_listing_updates_90", "log_tenure_days", "seasonal_activity_ratio")
NO_MODEL_REASON = {"feature": "", "text": "no validated scoring model is active yet: neutral score", "contribution": 0}


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


def seller_scores_compute(*, as_of: datetime, seller_ids=None, models: dict | None = None,
                          population: dict | None = None) -> pd.DataFrame:
    """Scores (0-100), calibrated probabilities and reasons for artisans, indexed by seller_id.

    Each artisan is scored by its category's active model if there is one, else by the
    global model; with no active model at all the score is a neutral 50, never an error.
    """
    features = seller_features(as_of=as_of, seller_ids=seller_ids, population=population)
    models = active_models() if models is None else models
    out = pd.DataFrame(index=features.index)
    out["probability"] = NEUTRAL_PROBABILITY
    out["model_version_id"] = None
    out["reasons"] = [[NO_MODEL_REASON] for _ in range(len(out))]
    out["cold_start"] = features["has_history"] == 0 if len(features) else pd.Series(dtype=bool)
    if len(features):
        global_model = models.get(None)
        assigned = features["craft_category"].map(lambda c: c if c in models else None)
        if COLD_START_KEY in models:
            # No sales yet: the application model speaks for the artisan.
            assigned = assigned.where(features["has_history"] != 0, COLD_START_KEY)
        for category, group in features.groupby(assigned.fillna("__global__")):
            key = None if category == "__global__" else category
            entry = models.get(key) or global_model
            if entry is None:
                continue
            version, estimator = entry
            X = group[version.features].to_numpy(dtype=float)
            terms = linear_terms(estimator, version.features)
            cold = (group["has_history"] == 0).to_numpy()
            if terms is not None and cold.any():
                for name in COLD_START_NEUTRAL:
                    if name in version.features:
                        column = version.features.index(name)
                        X[cold, column] = terms[1][column]
            prob = estimator.predict_proba(X)[:, 1]
            points = contributions(estimator, version.features, X, prob)
            out.loc[group.index, "probability"] = prob
            out.loc[group.index, "model_version_id"] = version.pk
            records = group.to_dict("records")  # plain dicts: far cheaper than iterrows for the text
            out.loc[group.index, "reasons"] = pd.Series(
                [reasons_for(row, points[i], version.features) for i, row in enumerate(records)],
                index=group.index,
                dtype=object,
            )
    out["probability"] = out["probability"].astype(float).clip(0, 1)
    out["score"] = np.rint(out["probability"] * 100).astype(int).clip(0, 100)
    out["features"] = (
        features[MODEL_FEATURES].round(4).to_dict(orient="records") if len(features) else []
    )
    return out


def seller_scores_write(*, scores: pd.DataFrame, computed_at: datetime, run_key: str, run: ScoreRun | None = None) -> int:
    """Write current scores and history rows in bulk. Call inside a transaction."""
    current, history = [], []
    columns = zip(
        scores.index, scores["score"], scores["probability"], scores["reasons"], scores["model_version_id"],
        scores["cold_start"], scores["features"],
    )
    for seller_id, score, probability, reasons, version_id, cold_start, features in columns:
        version_id = None if pd.isna(version_id) else int(version_id)
        current.append(
            SellerScore(
                seller_id=int(seller_id), score=int(score), probability=float(probability), reasons=reasons,
                model_version_id=version_id, cold_start=bool(cold_start), features=features,
                computed_at=computed_at, run=run,
            )
        )
        history.append(
            SellerScoreHistory(
                seller_id=int(seller_id), score=int(score), probability=float(probability), reasons=reasons,
                model_version_id=version_id, computed_at=computed_at, run_key=run_key,
            )
        )
    SellerScore.objects.bulk_create(
        current,
        batch_size=1000,
        update_conflicts=True,
        unique_fields=["seller"],
        update_fields=["score", "probability", "reasons", "model_version", "cold_start", "features", "computed_at", "run"],
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


def seller_rescore(*, seller_id: int, as_of: datetime | None = None) -> SellerScore:
    """Score one artisan now (new data arrived), keep the history, and re-route if still onboarding."""
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
        from sellers.services import seller_route_on_rescore

        seller_route_on_rescore(seller=seller, score=score)
    return score
