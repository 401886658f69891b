"""Training and validation of the seller-score models.

Outcome predicted: the artisan is still active HORIZON_DAYS later (any login, listing
update or order in the last 30 days of the horizon) and in good standing over it
(at most GOOD_STANDING_MAX_PROBLEM_RATE of its orders cancelled, returned or shipped
late). Rows are monthly snapshots of every active artisan; the newest snapshot whose
outcome is fully known is held out, and only snapshots whose outcome window closed
before it are trained on (a time-based split with no label leakage).
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from django.core.exceptions import ValidationError
from django.db import connection
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from marketplace.models import EngagementEvent, Order
from scoring import registry
from scoring.features import BASELINE_FEATURES, MODEL_FEATURES, seller_features
from scoring.models import ModelVersion

logger = logging.getLogger(__name__)

KIND = "seller_score"
# New artisans (no orders yet) are scored by a model of what an application says: the
# applicant's experience and portfolio and the category's track record. It is trained on the
# same rows and outcome as the main model, using only what is known at application time.
COLD_START_KIND = "seller_score_cold_start"
COLD_START_FEATURES = [
    "years_experience",
    "has_portfolio",
    "category_late_rate",
    "category_cancel_rate",
    "category_return_rate",
    "category_rating_mean",
]
HORIZON_DAYS = 120
SNAPSHOT_STEP_DAYS = 30
MAX_SNAPSHOTS = 10
# Features need some history behind a snapshot; earlier dates are not used.
MIN_LOOKBACK_DAYS = 120
GOOD_STANDING_MAX_PROBLEM_RATE = 0.15
GOOD_STANDING_MIN_ORDERS = 3
# "Went on to high returns or cancellations": the DOMAIN KPI thresholds are 4 % and 5 %.
HIGH_RC_MIN_ORDERS = 5
HIGH_RC_RATE = 0.09
# A category gets its own model only with this much data (else the global model serves it).
CATEGORY_MIN_TRAIN_ROWS = 800
CATEGORY_MIN_HOLDOUT_ROWS = 150
CATEGORY_MIN_CLASS_ROWS = 40
# Bands used for recall reporting; the live bands come from the onboarding policy.
REPORT_LOW_RISK_MIN = 70
REPORT_HIGH_RISK_BELOW = 30


def _ts(value):
    return connection.ops.adapt_datetimefield_value(value)


def data_range() -> tuple[datetime | None, datetime | None]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT MIN(placed_at), MAX(placed_at) FROM {Order._meta.db_table}")
        first, last = cursor.fetchone()
    if isinstance(first, str):  # SQLite returns text for aggregates
        first, last = pd.Timestamp(first, tz="UTC").to_pydatetime(), pd.Timestamp(last, tz="UTC").to_pydatetime()
    return first, last


def snapshot_dates(*, data_start: datetime, data_end: datetime, horizon_days: int = HORIZON_DAYS,
                   step_days: int = SNAPSHOT_STEP_DAYS, max_snapshots: int = MAX_SNAPSHOTS) -> list[datetime]:
    """Snapshot dates, oldest first; the last one is the held-out snapshot."""
    last = data_end - timedelta(days=horizon_days)
    earliest = data_start + timedelta(days=MIN_LOOKBACK_DAYS)
    dates = []
    t = last
    while t >= earliest and len(dates) < max_snapshots:
        dates.append(t)
        t -= timedelta(days=step_days)
    return sorted(dates)


def outcomes(*, as_of: datetime, horizon_days: int = HORIZON_DAYS) -> pd.DataFrame:
    """Per artisan, what happened in [as_of, as_of + horizon): the training label."""
    end = as_of + timedelta(days=horizon_days)
    tail = end - timedelta(days=30)
    orders = pd.DataFrame.from_records(
        _fetch(
            f"""SELECT seller_id, COUNT(*),
                  SUM(CASE WHEN cancelled_at IS NOT NULL OR returned_at IS NOT NULL OR shipped_at > ship_by THEN 1 ELSE 0 END),
                  SUM(CASE WHEN cancelled_at IS NOT NULL OR returned_at IS NOT NULL THEN 1 ELSE 0 END),
                  SUM(CASE WHEN placed_at >= %s THEN 1 ELSE 0 END)
                FROM {Order._meta.db_table} WHERE placed_at >= %s AND placed_at < %s GROUP BY seller_id""",
            [_ts(tail), _ts(as_of), _ts(end)],
        ),
        columns=["seller_id", "fwd_orders", "fwd_problems", "fwd_cancel_return", "tail_orders"],
    ).set_index("seller_id")
    events = pd.DataFrame.from_records(
        _fetch(
            f"""SELECT seller_id, COUNT(*) FROM {EngagementEvent._meta.db_table}
                WHERE seller_id IS NOT NULL AND occurred_at >= %s AND occurred_at < %s GROUP BY seller_id""",
            [_ts(tail), _ts(end)],
        ),
        columns=["seller_id", "tail_events"],
    ).set_index("seller_id")
    frame = orders.join(events, how="outer").fillna(0).astype("float64")
    frame.index = frame.index.astype("int64")
    active = (frame["tail_orders"] + frame["tail_events"]) > 0
    problem_rate = frame["fwd_problems"] / frame["fwd_orders"].where(frame["fwd_orders"] > 0, 1)
    good_standing = (frame["fwd_orders"] < GOOD_STANDING_MIN_ORDERS) | (problem_rate <= GOOD_STANDING_MAX_PROBLEM_RATE)
    frame["label"] = (active & good_standing).astype(int)
    rc_rate = frame["fwd_cancel_return"] / frame["fwd_orders"].where(frame["fwd_orders"] > 0, 1)
    frame["high_return_cancel"] = ((frame["fwd_orders"] >= HIGH_RC_MIN_ORDERS) & (rc_rate >= HIGH_RC_RATE)).astype(int)
    return frame


def _fetch(sql, params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def snapshot_frame(*, as_of: datetime, horizon_days: int = HORIZON_DAYS) -> pd.DataFrame:
    """Features at ``as_of`` of the artisans live then, joined with their outcome."""
    features = seller_features(as_of=as_of)
    sellers = _live_sellers(as_of)
    features = features[features.index.isin(sellers)]
    result = outcomes(as_of=as_of, horizon_days=horizon_days)
    frame = features.join(result[["label", "high_return_cancel"]], how="left")
    frame["label"] = frame["label"].fillna(0).astype(int)
    frame["high_return_cancel"] = frame["high_return_cancel"].fillna(0).astype(int)
    frame["as_of"] = as_of
    return frame


def _live_sellers(as_of: datetime) -> set[int]:
    """Approved by as_of, and either active in the last 30 days or approved within them."""
    from sellers.models import Seller

    t30 = as_of - timedelta(days=30)
    recent = set(
        Seller.objects.filter(approved_at__lt=as_of, approved_at__gte=t30).values_list("pk", flat=True)
    )
    rows = _fetch(
        f"""SELECT DISTINCT seller_id FROM {EngagementEvent._meta.db_table}
            WHERE seller_id IS NOT NULL AND occurred_at >= %s AND occurred_at < %s
            UNION SELECT DISTINCT seller_id FROM {Order._meta.db_table} WHERE placed_at >= %s AND placed_at < %s""",
        [_ts(t30), _ts(as_of), _ts(t30), _ts(as_of)],
    )
    approved = set(Seller.objects.filter(approved_at__lt=as_of).values_list("pk", flat=True))
    return recent | ({r[0] for r in rows} & approved)


def build_estimator(seed: int) -> CalibratedClassifierCV:
    base = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression(C=0.5, max_iter=2000))])
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=seed)
    return CalibratedClassifierCV(base, method="sigmoid", cv=folds)


def calibration_table(y_true, y_prob, bins: int = 10) -> list[dict]:
    edges = np.linspace(0, 1, bins + 1)
    table = []
    for low, high in zip(edges[:-1], edges[1:]):
        mask = (y_prob >= low) & ((y_prob < high) if high < 1 else (y_prob <= high))
        if mask.sum() == 0:
            continue
        table.append(
            {
                "bin": f"{low:.1f}-{high:.1f}",
                "count": int(mask.sum()),
                "mean_predicted": round(float(y_prob[mask].mean()), 4),
                "observed_rate": round(float(y_true[mask].mean()), 4),
            }
        )
    return table


def _recall(flagged: np.ndarray, target: np.ndarray) -> float | None:
    if target.sum() == 0:
        return None
    return round(float((flagged & (target == 1)).sum() / target.sum()), 4)


def evaluate(y_true, y_prob, high_rc, *, flag_below: np.ndarray | None = None) -> dict:
    """Held-out metrics. Recall is over artisans who went on to high returns/cancellations."""
    y_true = np.asarray(y_true)
    y_prob = np.clip(np.asarray(y_prob, dtype=float), 1e-6, 1 - 1e-6)
    high_rc = np.asarray(high_rc)
    scores = np.rint(y_prob * 100)
    metrics = {
        "roc_auc": round(float(roc_auc_score(y_true, y_prob)), 4),
        "brier": round(float(brier_score_loss(y_true, y_prob)), 4),
        "log_loss": round(float(log_loss(y_true, y_prob, labels=[0, 1])), 4),
        "n": int(len(y_true)),
        "positive_rate": round(float(y_true.mean()), 4),
        "calibration": calibration_table(y_true, y_prob),
        "high_return_cancel_count": int(high_rc.sum()),
        "recall_high_return_cancel_not_low": _recall(scores < REPORT_LOW_RISK_MIN, high_rc),
        "recall_high_return_cancel_high": _recall(scores < REPORT_HIGH_RISK_BELOW, high_rc),
        "flagged_not_low_share": round(float((scores < REPORT_LOW_RISK_MIN).mean()), 4),
    }
    return metrics


def _baseline_metrics(train: pd.DataFrame, holdout: pd.DataFrame, model_prob: np.ndarray) -> dict:
    """A sales-volume-only model on the same rows; recall measured at the model's flag rate."""
    baseline = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression(max_iter=1000))])
    baseline.fit(train[BASELINE_FEATURES].to_numpy(float), train["label"].to_numpy())
    prob = baseline.predict_proba(holdout[BASELINE_FEATURES].to_numpy(float))[:, 1]
    metrics = evaluate(holdout["label"], prob, holdout["high_return_cancel"])
    # Same number of artisans flagged as the model flags, so recall is compared like for like.
    flagged_share = float((np.rint(model_prob * 100) < REPORT_LOW_RISK_MIN).mean())
    cutoff = np.quantile(prob, flagged_share) if 0 < flagged_share < 1 else -1
    metrics["recall_high_return_cancel_at_model_flag_rate"] = _recall(prob < cutoff, holdout["high_return_cancel"].to_numpy())
    metrics["features"] = BASELINE_FEATURES
    return metrics


def _incumbent_head_to_head(holdout: pd.DataFrame, category: str | None, kind: str = KIND) -> dict | None:
    version = ModelVersion.objects.for_slot(kind=kind, category=category).active().first()
    if version is None or not set(version.features) <= set(holdout.columns):
        return None
    estimator = registry.model_load(version)
    prob = estimator.predict_proba(holdout[version.features].to_numpy(float))[:, 1]
    return {"version_id": version.pk, "version": version.version, "roc_auc": round(float(roc_auc_score(holdout["label"], prob)), 4)}


@dataclass
class TrainingResult:
    versions: list = field(default_factory=list)
    activated: list = field(default_factory=list)
    refused: dict = field(default_factory=dict)
    skipped_categories: dict = field(default_factory=dict)


def training_frames(*, seed: int, horizon_days: int = HORIZON_DAYS, data_end: datetime | None = None,
                    max_snapshots: int = MAX_SNAPSHOTS):
    start, end = data_range()
    if start is None:
        raise ValidationError("There are no orders to train on.")
    end = min(end, data_end) if data_end else end
    dates = snapshot_dates(data_start=start, data_end=end, horizon_days=horizon_days, max_snapshots=max_snapshots)
    holdout_date = dates[-1] if dates else None
    train_dates = [d for d in dates if holdout_date and d + timedelta(days=horizon_days) <= holdout_date]
    if not train_dates:
        raise ValidationError(
            f"Not enough history: need at least {MIN_LOOKBACK_DAYS + 2 * horizon_days} days of orders, "
            f"have {(end - start).days}."
        )
    train = pd.concat([snapshot_frame(as_of=d, horizon_days=horizon_days) for d in train_dates])
    holdout = snapshot_frame(as_of=holdout_date, horizon_days=horizon_days)
    window = (train_dates[0] - timedelta(days=365), holdout_date + timedelta(days=horizon_days))
    return train, holdout, window


def _fit_and_register(*, train, holdout, window, seed, category, horizon_days, kind: str = KIND,
                      features: list[str] = MODEL_FEATURES) -> ModelVersion:
    estimator = build_estimator(seed)
    estimator.fit(train[features].to_numpy(float), train["label"].to_numpy())
    prob = estimator.predict_proba(holdout[features].to_numpy(float))[:, 1]
    metrics = evaluate(holdout["label"], prob, holdout["high_return_cancel"])
    metrics.update(
        {
            "n_train": int(len(train)),
            "horizon_days": horizon_days,
            "holdout_as_of": holdout["as_of"].iloc[0].isoformat(),
            "train_snapshots": sorted({d.isoformat() for d in train["as_of"]}),
            "label": f"active after {horizon_days} days and <= {GOOD_STANDING_MAX_PROBLEM_RATE:.0%} problem orders",
        }
    )
    incumbent = _incumbent_head_to_head(holdout, category, kind)
    if incumbent:
        metrics["incumbent"] = incumbent
    baseline = _baseline_metrics(train, holdout, prob)
    return registry.model_version_register(
        kind=kind,
        estimator=estimator,
        features=features,
        metrics=metrics,
        baseline_metrics=baseline,
        window_start=window[0],
        window_end=window[1],
        seed=seed,
        category=category,
    )


def _category_ready(train: pd.DataFrame, holdout: pd.DataFrame) -> str | None:
    if len(train) < CATEGORY_MIN_TRAIN_ROWS:
        return f"{len(train)} training rows (< {CATEGORY_MIN_TRAIN_ROWS})"
    if len(holdout) < CATEGORY_MIN_HOLDOUT_ROWS:
        return f"{len(holdout)} held-out rows (< {CATEGORY_MIN_HOLDOUT_ROWS})"
    for name, part in (("training", train), ("held-out", holdout)):
        counts = part["label"].value_counts()
        if counts.get(0, 0) < CATEGORY_MIN_CLASS_ROWS or counts.get(1, 0) < CATEGORY_MIN_CLASS_ROWS:
            return f"too few of one outcome in the {name} rows"
    return None


def seller_score_train(*, seed: int = 42, activate: bool = True, categories: bool = True,
                       horizon_days: int = HORIZON_DAYS, data_end: datetime | None = None,
                       max_snapshots: int = MAX_SNAPSHOTS) -> TrainingResult:
    """Train the global model and, where data allows, one per category; activate those that pass.

    Same data and seed give the same versions (metrics and coefficients).
    """
    np.random.seed(seed)
    train, holdout, window = training_frames(seed=seed, horizon_days=horizon_days, data_end=data_end, max_snapshots=max_snapshots)
    result = TrainingResult()
    global_version = _fit_and_register(train=train, holdout=holdout, window=window, seed=seed, category=None, horizon_days=horizon_days)
    result.versions.append(global_version)
    global_estimator = registry.model_load(global_version)
    if activate:
        _try_activate(global_version, result)

    cold_start = _fit_and_register(
        train=train, holdout=holdout, window=window, seed=seed, category=None, horizon_days=horizon_days,
        kind=COLD_START_KIND, features=COLD_START_FEATURES,
    )
    result.versions.append(cold_start)
    if activate:
        _try_activate(cold_start, result)

    if categories:
        for category in sorted(train["craft_category"].unique()):
            cat_train = train[train["craft_category"] == category]
            cat_holdout = holdout[holdout["craft_category"] == category]
            problem = _category_ready(cat_train, cat_holdout)
            if problem:
                result.skipped_categories[category] = problem
                continue
            version = _fit_and_register(
                train=cat_train, holdout=cat_holdout, window=window, seed=seed, category=category, horizon_days=horizon_days
            )
            # A category model must also beat the global model on its own category's held-out rows.
            global_prob = global_estimator.predict_proba(cat_holdout[MODEL_FEATURES].to_numpy(float))[:, 1]
            global_auc = round(float(roc_auc_score(cat_holdout["label"], global_prob)), 4)
            version.metrics = {**version.metrics, "global_model_roc_auc": global_auc}
            version.save(update_fields=["metrics"])
            result.versions.append(version)
            if activate:
                if version.metrics["roc_auc"] > global_auc:
                    _try_activate(version, result)
                else:
                    result.refused[str(version)] = [f"does not beat the global model on {category} ({global_auc:.3f})"]
    return result


def _try_activate(version: ModelVersion, result: TrainingResult) -> None:
    try:
        registry.model_version_activate(version=version)
        result.activated.append(version)
    except ValidationError as exc:
        result.refused[str(version)] = exc.messages
        logger.info("Not activating %s: %s", version, "; ".join(exc.messages))
