"""Behavioural churn classifier, trained by a time-based backtest and kept in the model registry.

Backtest (no look-ahead): with H the horizon and ``as_of`` the end of the data,
  - train: features at T1 = as_of - 2H, label = no purchase in (T1, T1 + H];
  - held out: features at T2 = as_of - H, label = no purchase in (T2, as_of].
The baseline is recency alone (days since the last purchase as the score) on the same
held-out buyers. The model is registered under kind "buyer_churn" in scoring.registry and
activated only if the registry's guard agrees it beats the baseline and the incumbent.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import numpy as np
from django.core.exceptions import ValidationError
from django.utils import timezone
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import brier_score_loss, roc_auc_score
from threadpoolctl import threadpool_limits

from buyers.features import CHURN_FEATURES, churn_feature_frame, churn_labels
from buyers.services import CHURN_MODEL_KIND

logger = logging.getLogger(__name__)

HORIZON_DAYS = 90
MIN_TRAIN_BUYERS = 50


class NotEnoughHistory(Exception):
    pass


def _dataset(*, at: datetime, horizon: timedelta):
    features = churn_feature_frame(as_of=at)
    labels = churn_labels(buyer_ids=features.index, start=at, end=at + horizon)
    return features[CHURN_FEATURES], labels


def churn_model_train(*, as_of: datetime | None = None, horizon_days: int = HORIZON_DAYS, seed: int = 0, activate: bool = True):
    """Train, evaluate against the recency baseline, register, and try to activate.

    Returns (version, report). ``report`` holds the held-out and baseline ROC AUC.
    """
    from scoring.gate import gate_evaluate
    from scoring.registry import model_load_active, model_version_activate, model_version_register

    as_of = as_of or timezone.now()
    horizon = timedelta(days=horizon_days)
    train_at, test_at = as_of - 2 * horizon, as_of - horizon
    X_train, y_train = _dataset(at=train_at, horizon=horizon)
    X_test, y_test = _dataset(at=test_at, horizon=horizon)
    if len(X_train) < MIN_TRAIN_BUYERS or y_train.nunique() < 2 or y_test.nunique() < 2:
        raise NotEnoughHistory(
            f"Need at least {MIN_TRAIN_BUYERS} buyers with both outcomes before {train_at:%Y-%m-%d}; "
            f"have {len(X_train)} (train) and {len(X_test)} (held out)."
        )
    estimator = HistGradientBoostingClassifier(
        max_iter=200, learning_rate=0.05, max_leaf_nodes=15, l2_regularization=1.0, random_state=seed
    )
    with threadpool_limits(1):
        estimator.fit(X_train.to_numpy(dtype=float), y_train.to_numpy())
        probability = estimator.predict_proba(X_test.to_numpy(dtype=float))[:, 1]
    auc = float(roc_auc_score(y_test, probability))
    recency = X_test["days_since_last_order"].to_numpy(dtype=float)
    baseline_auc = float(roc_auc_score(y_test, recency))
    metrics = {
        "roc_auc": round(auc, 4),
        "brier": round(float(brier_score_loss(y_test, probability)), 4),
        "n_train": int(len(X_train)),
        "n_test": int(len(X_test)),
        "churn_rate_test": round(float(y_test.mean()), 4),
        "train_at": train_at.isoformat(),
        "test_at": test_at.isoformat(),
        "horizon_days": horizon_days,
    }
    incumbent, incumbent_estimator = model_load_active(kind=CHURN_MODEL_KIND)
    incumbent_probability = None
    if incumbent is not None:
        columns = list(incumbent.features)
        try:
            with threadpool_limits(1):
                incumbent_probability = incumbent_estimator.predict_proba(X_test[columns].to_numpy(dtype=float))[:, 1]
        except (KeyError, ValueError):
            logger.warning("Incumbent churn model could not score the held-out set on its own features.")
    report = gate_evaluate(
        y_true=y_test.to_numpy(), candidate=probability, baselines={"recency only (days since last purchase)": recency},
        incumbent=incumbent_probability, train_base_rate=float(y_train.mean()), seed=seed,
    )
    metrics["evaluation"] = report.evaluation
    metrics["gate"] = {**report.as_json(), "incumbent_version_id": incumbent.pk if incumbent else None}
    version = model_version_register(
        kind=CHURN_MODEL_KIND,
        estimator=estimator,
        features=CHURN_FEATURES,
        metrics=metrics,
        baseline_metrics={"roc_auc": round(baseline_auc, 4), "name": "recency only (days since last purchase)"},
        window_start=train_at,
        window_end=as_of,
        seed=seed,
        notes="Backtest: train at T-2H, held out at T-H; label = no purchase within H.",
    )
    report = {"roc_auc": auc, "baseline_roc_auc": baseline_auc, "version": version.version, "activated": False}
    if activate:
        try:
            model_version_activate(version=version)
            report["activated"] = True
        except ValidationError as exc:
            report["activation_refused"] = exc.messages
    return version, report


def churn_importance(*, estimator, X, y, seed: int = 0) -> dict[str, float]:
    """Permutation importance on held-out data, for the docs and the admin (not used in scoring)."""
    from sklearn.inspection import permutation_importance

    result = permutation_importance(estimator, X, y, scoring="roc_auc", n_repeats=3, random_state=seed)
    return dict(sorted(zip(X.columns, np.round(result.importances_mean, 4)), key=lambda kv: -kv[1]))
