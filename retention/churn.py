"""Behavioural churn classifier, trained by a time-based backtest and kept in the model registry.

Backtest (no look-ahead): with H the horizon and ``as_of`` the end of the data,
  - train: features at T1 = as_of - 2H, label = no purchase in (T1, T1 + H];
  - held out: features at T2 = as_of - H, label = no purchase in (T2, as_of].
Both sets hold the buyers active within ACTIVE_WITHIN_DAYS of their date: the question staff
ask is about buyers who are still around, not about those who left a year ago (who make any
score look good). The candidate must pass the shared activation gate (scoring.gate): its AUC's
95 % interval above 0.5, the paired interval of its difference with the best single-signal
baseline (recency; 1 - P(alive)) above 0, no regression against the incumbent, and a Brier score
better than the base rate. Probabilities are calibrated (isotonic, cross-validated).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from django.core.exceptions import ValidationError
from django.utils import timezone
from scipy.stats import spearmanr
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import brier_score_loss
from threadpoolctl import threadpool_limits

from retention.features import CHURN_FEATURES, churn_feature_frame, churn_labels
from retention.services import CHURN_MODEL_KIND, p_alive_at

logger = logging.getLogger(__name__)

# The label is "no purchase in the next 180 days": longer than the 60- and 100-day purchase
# clocks, so a buyer who is still alive almost always buys within it, and the label is close to
# "has left" rather than "is between purchases" (a 90-day label mostly measured cadence).
HORIZON_DAYS = 180
MIN_TRAIN_BUYERS = 50
# Buyers whose last purchase is older than this at the feature date are left out of training
# and evaluation (they are still scored).
ACTIVE_WITHIN_DAYS = 365
BASELINE_RECENCY = "recency (days since last purchase)"
BASELINE_P_ALIVE = "1 - P(alive) (lifetime model)"
CALIBRATION_BINS = 10


class NotEnoughHistory(Exception):
    pass


def churn_dataset(*, at: datetime, horizon: timedelta, label_end: datetime | None = None):
    """Features at ``at`` of buyers active within ACTIVE_WITHIN_DAYS, and 'no purchase until label_end'."""
    features = churn_feature_frame(as_of=at, p_alive=p_alive_at(as_of=at))
    features = features[features["days_since_last_order"] <= ACTIVE_WITHIN_DAYS]
    labels = churn_labels(buyer_ids=features.index, start=at, end=label_end or at + horizon)
    return features[CHURN_FEATURES], labels


def churn_estimator(seed: int = 0):
    """Gradient boosting with isotonic calibration on three folds."""
    boosted = HistGradientBoostingClassifier(
        max_iter=150, learning_rate=0.05, max_leaf_nodes=15, l2_regularization=1.0, random_state=seed
    )
    return CalibratedClassifierCV(boosted, method="isotonic", cv=3)


def calibration_table(y_true, probability, *, bins: int = CALIBRATION_BINS) -> list[dict]:
    """Reliability rows: per probability band of width 1/bins that holds any row, count, mean predicted and observed rate."""
    y_true = np.asarray(y_true, dtype=float)
    probability = np.asarray(probability, dtype=float)
    index = np.minimum((probability * bins).astype(int), bins - 1)
    rows = []
    for b in range(bins):
        mask = index == b
        if not mask.any():
            continue  # an empty band has no rate to show
        rows.append(
            {
                "bin": f"{b / bins:.1f}-{(b + 1) / bins:.1f}",
                "count": int(mask.sum()),
                "mean_predicted": round(float(probability[mask].mean()), 4),
                "observed_rate": round(float(y_true[mask].mean()), 4),
            }
        )
    return rows


def feature_table(*, estimator, X: pd.DataFrame, y, seed: int = 0) -> list[dict]:
    """Permutation importance on held-out rows, with the direction of each feature's association.

    The direction follows the model card's convention, "+" = more is better: a feature whose rank
    correlation with the predicted churn probability is negative (more of it, less churn) is "+",
    one that raises churn risk is "-"; None when the feature is constant or unrelated.
    """
    from sklearn.inspection import permutation_importance

    with threadpool_limits(1):
        result = permutation_importance(estimator, X.to_numpy(dtype=float), y, scoring="roc_auc", n_repeats=3, random_state=seed)
        probability = estimator.predict_proba(X.to_numpy(dtype=float))[:, 1]
    rows = []
    for name, weight in zip(X.columns, result.importances_mean):
        column = X[name].to_numpy(dtype=float)
        rho = spearmanr(column, probability).statistic if np.ptp(column) > 0 else np.nan
        direction = None if not np.isfinite(rho) or abs(rho) < 0.01 else ("-" if rho > 0 else "+")
        rows.append({"name": name, "direction": direction, "weight": round(float(weight), 4), "kind": "importance"})
    return sorted(rows, key=lambda r: -r["weight"])


def churn_model_train(*, as_of: datetime | None = None, horizon_days: int = HORIZON_DAYS, seed: int = 0, activate: bool = True):
    """Train, evaluate through the shared gate, register, and activate when the gate passes.

    Returns (version, report). ``report`` holds the held-out AUC, each baseline's, and the gate.
    """
    from scoring.gate import gate_evaluate, learned_from_labels
    from scoring.registry import model_load_active, model_version_activate, model_version_register

    as_of = as_of or timezone.now()
    horizon = timedelta(days=horizon_days)
    train_at, test_at = as_of - 2 * horizon, as_of - horizon
    X_train, y_train = churn_dataset(at=train_at, horizon=horizon)
    X_test, y_test = churn_dataset(at=test_at, horizon=horizon, label_end=as_of)
    if len(X_train) < MIN_TRAIN_BUYERS or y_train.nunique() < 2 or y_test.nunique() < 2 or y_train.value_counts().min() < 3:
        raise NotEnoughHistory(
            f"Need at least {MIN_TRAIN_BUYERS} active buyers with both outcomes before {train_at:%Y-%m-%d}; "
            f"have {len(X_train)} (train) and {len(X_test)} (held out)."
        )
    estimator = churn_estimator(seed)
    with threadpool_limits(1):
        estimator.fit(X_train.to_numpy(dtype=float), y_train.to_numpy())
        probability = estimator.predict_proba(X_test.to_numpy(dtype=float))[:, 1]
        train_probability = estimator.predict_proba(X_train.to_numpy(dtype=float))[:, 1]
    baselines = {
        BASELINE_RECENCY: X_test["days_since_last_order"].to_numpy(dtype=float),
        BASELINE_P_ALIVE: 1.0 - X_test["p_alive"].to_numpy(dtype=float),
    }
    incumbent, incumbent_estimator = model_load_active(kind=CHURN_MODEL_KIND)
    incumbent_probability = None
    if incumbent is not None:
        try:
            with threadpool_limits(1):
                incumbent_probability = incumbent_estimator.predict_proba(X_test[list(incumbent.features)].to_numpy(dtype=float))[:, 1]
        except (KeyError, ValueError):
            logger.warning("Incumbent churn model could not score the held-out set (its features changed).")
    gate = gate_evaluate(
        y_true=y_test.to_numpy(),
        candidate=probability,
        baselines=baselines,
        incumbent=incumbent_probability,
        incumbent_label=f"active v{incumbent.version}" if incumbent is not None else "incumbent",
        train_base_rate=float(y_train.mean()),
        seed=seed,
        learned=learned_from_labels(y_train.to_numpy(), train_probability, n_parameters=len(CHURN_FEATURES)),
    )
    evaluation = gate.evaluation
    best = next(c for c in evaluation["comparisons"] if c["name"] == evaluation["best_baseline"])
    metrics = {
        "roc_auc": evaluation["candidate"]["value"],
        "brier": round(float(brier_score_loss(y_test, probability)), 4),
        "evaluation": evaluation,
        "calibration": calibration_table(y_test, probability),
        "feature_table": feature_table(estimator=estimator, X=X_test, y=y_test.to_numpy(), seed=seed),
        # The registry re-reads the gate at activation; it must know which incumbent it was judged against.
        "gate": {**gate.as_json(), "incumbent_version_id": incumbent.pk if incumbent is not None else None},
        "label": f"no purchase in the next {horizon_days} days (buyers active within {ACTIVE_WITHIN_DAYS} days)",
        "n_train": int(len(X_train)),
        "n_test": int(len(X_test)),
        # Keys the shared model card reads for every kind.
        "n": int(len(X_test)),
        "holdout_snapshots": [test_at.isoformat()],
        "reference_score": None,
        "training_mode": "normal",
        "churn_rate_test": round(float(y_test.mean()), 4),
        "train_at": train_at.isoformat(),
        "test_at": test_at.isoformat(),
        "horizon_days": horizon_days,
    }
    if incumbent is not None and "incumbent" in evaluation:
        metrics["incumbent"] = {"version_id": incumbent.pk, "roc_auc": evaluation["incumbent"]["value"]}
    version = model_version_register(
        kind=CHURN_MODEL_KIND,
        estimator=estimator,
        features=CHURN_FEATURES,
        metrics=metrics,
        baseline_metrics={"roc_auc": best["value"], "name": best["name"]},
        window_start=train_at,
        window_end=as_of,
        seed=seed,
        notes=(
            f"Backtest: train at T-2H, held out at T-H (H = {horizon_days} days); label = no purchase within H; "
            f"buyers active within {ACTIVE_WITHIN_DAYS} days. Calibrated gradient boosting."
        ),
    )
    report = {
        "roc_auc": evaluation["candidate"]["value"],
        "baseline_roc_auc": best["value"],
        "baselines": {c["name"]: c for c in evaluation["comparisons"]},
        "gate": gate.as_json(),
        "version": version.version,
        "activated": False,
    }
    if activate:
        if not gate.passed:
            report["activation_refused"] = gate.failures
        else:
            try:
                model_version_activate(version=version)
                report["activated"] = True
            except ValidationError as exc:
                report["activation_refused"] = exc.messages
    return version, report
