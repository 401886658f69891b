from datetime import timedelta

import factory
import numpy as np
from django.utils import timezone

import pandas as pd

from scoring import registry, training
from scoring.features import MODEL_FEATURES
from scoring.models import SellerScore
from sellers.factories import SellerFactory


def _synthetic_frame(rng, n: int, features: list[str], logit_of) -> pd.DataFrame:
    frame = pd.DataFrame(rng.normal(size=(n, len(features))), columns=features)
    for name in ("late_rate", "cancel_rate", "return_rate"):
        if name in frame:
            frame[name] = rng.uniform(0, 0.4, n)
    if "rating_mean" in frame:
        frame["rating_mean"] = rng.uniform(2.5, 5.0, n)
    for name, mean in (("years_experience", 5), ("listing_count", 4)):
        if name in frame:
            frame[name] = rng.poisson(mean, n).astype(float)
    if "has_portfolio" in frame:
        frame["has_portfolio"] = (rng.random(n) < 0.5).astype(float)
    frame["log_revenue_365"] = frame.get("log_orders_365", 0) + 3
    frame["log_tenure_days"] = frame.get("log_tenure_days", pd.Series(rng.normal(size=n)))
    frame["craft_category"] = "ceramics"
    frame["label"] = (rng.random(n) < 1 / (1 + np.exp(-logit_of(frame)))).astype(int)
    frame["high_return_cancel"] = 0
    frame["as_of"] = timezone.now() - timedelta(days=200)
    frame.index = pd.RangeIndex(1, n + 1, name="seller_id")
    return frame


def _judged_version(*, kind, features, baselines, logit_of, seed, category=None, activate=True, permute_labels=None):
    """Train on made-up rows through the real training path: the real fit, the real gate."""
    rng = np.random.default_rng(seed)
    train = _synthetic_frame(rng, 1500, features, logit_of)
    holdout = _synthetic_frame(rng, 1500, features, logit_of)
    if permute_labels is not None:
        train["label"] = np.random.default_rng(permute_labels).permutation(train["label"].to_numpy())
    now = timezone.now()
    version = training._fit_and_judge(
        train=train, holdout=holdout, candidate_train=train, candidate_holdout=holdout,
        window=(now - timedelta(days=400), now), seed=seed, kind=kind, category=category, features=features,
        baselines=training.baseline_scores(train, holdout, baselines), horizon_days=training.HORIZON_DAYS,
    )
    if activate:
        registry.model_version_activate(version=version)
    return version


def trained_seller_model(*, seed: int = 0, category: str | None = None, activate: bool = True,
                         cancel_effect: float = 0.0, permute_labels: int | None = None):
    """A seller-score model fitted on made-up rows where late shipments, cancellations and low
    ratings hurt, judged by the real gate against the real single-signal baselines.

    ``cancel_effect`` makes cancellations matter more in this version's world (a model trained
    earlier without it is then measurably worse on these rows); ``permute_labels`` trains it on
    shuffled labels, so the gate refuses it.
    """
    def logit_of(frame):
        return (2.0 - 12 * frame["late_rate"] + 1.5 * (frame["rating_mean"] - 4.0)
                - cancel_effect * 10 * frame["cancel_rate"] + 0.8 * frame["log_logins_30"])

    return _judged_version(
        kind=training.KIND, features=MODEL_FEATURES, baselines=training.SINGLE_SIGNAL_BASELINES, logit_of=logit_of,
        seed=seed, category=category, activate=activate, permute_labels=permute_labels,
    )


def trained_cold_start_model(*, seed: int = 0):
    """A cold-start model where more years of experience and a portfolio mean better outcomes."""

    def logit_of(frame):
        return -2.0 + 0.35 * frame["years_experience"] + 0.8 * frame["has_portfolio"] + 0.1 * frame["listing_count"]

    return _judged_version(
        kind=training.COLD_START_KIND, features=training.COLD_START_FEATURES,
        baselines={"listing count": ["listing_count"], "years of experience": ["years_experience"]},
        logit_of=logit_of, seed=seed,
    )


class SellerScoreFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SellerScore

    seller = factory.SubFactory(SellerFactory)
    score = 55
    probability = factory.LazyAttribute(lambda s: s.score / 100)
    reasons = factory.LazyFunction(
        lambda: [
            {"feature": "late_rate", "text": "late shipments 18% of orders (category average 6%)", "contribution": -14},
            {"feature": "rating_mean", "text": "average rating 4.8 stars (category average 4.3)", "contribution": 6},
        ]
    )
    computed_at = factory.LazyFunction(timezone.now)
