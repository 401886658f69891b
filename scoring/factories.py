from datetime import timedelta

import factory
import numpy as np
from django.utils import timezone

from scoring import registry
from scoring.features import MODEL_FEATURES
from scoring.models import SellerScore
from scoring.training import COLD_START_FEATURES, COLD_START_KIND, KIND, build_estimator
from sellers.factories import SellerFactory


def trained_seller_model(*, seed: int = 0, category: str | None = None, activate: bool = True, auc: float = 0.8):
    """A small seller-score model fitted on made-up rows where late shipments and low ratings hurt."""
    rng = np.random.default_rng(seed)
    n = 400
    X = rng.normal(size=(n, len(MODEL_FEATURES)))
    late, rating = MODEL_FEATURES.index("late_rate"), MODEL_FEATURES.index("rating_mean")
    X[:, late] = rng.uniform(0, 0.4, n)
    X[:, rating] = rng.uniform(2.5, 5.0, n)
    logit = 2.0 - 12 * X[:, late] + 1.5 * (X[:, rating] - 4.0)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    estimator = build_estimator(seed).fit(X, y)
    now = timezone.now()
    version = registry.model_version_register(
        kind=KIND,
        estimator=estimator,
        features=MODEL_FEATURES,
        metrics={"roc_auc": auc, "brier": 0.18, "calibration": []},
        baseline_metrics={"roc_auc": 0.6},
        window_start=now - timedelta(days=400),
        window_end=now,
        seed=seed,
        category=category,
    )
    if activate:
        registry.model_version_activate(version=version)
    return version


def trained_cold_start_model(*, seed: int = 0):
    """A cold-start model where more years of experience and a portfolio mean better outcomes."""
    rng = np.random.default_rng(seed)
    n = 400
    X = rng.normal(size=(n, len(COLD_START_FEATURES)))
    X[:, 0] = rng.poisson(5, n)
    X[:, 1] = rng.random(n) < 0.5
    logit = -1.0 + 0.35 * X[:, 0] + 0.8 * X[:, 1]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    now = timezone.now()
    version = registry.model_version_register(
        kind=COLD_START_KIND,
        estimator=build_estimator(seed).fit(X, y),
        features=COLD_START_FEATURES,
        metrics={"roc_auc": 0.7, "brier": 0.2, "calibration": []},
        baseline_metrics={"roc_auc": 0.5},
        window_start=now - timedelta(days=400),
        window_end=now,
        seed=seed,
    )
    return registry.model_version_activate(version=version)


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
