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
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from marketplace.models import EngagementEvent, Order
from scoring import gate, registry
from scoring.drift import feature_bins
from scoring.features import FEATURE_DIRECTIONS, MODEL_FEATURES, seller_features
from scoring.models import ModelVersion

logger = logging.getLogger(__name__)

KIND = "seller_score"
# New artisans (no orders yet) are scored by a model of what an application says: the
# applicant's experience and portfolio and the category's track record. It is trained on the
# same rows and outcome as the main model, using only what is known at application time.
COLD_START_KIND = "seller_score_cold_start"
registry.model_kind_label_register(KIND, "Seller score")
registry.model_kind_label_register(COLD_START_KIND, "Seller score, new artisans")
COLD_START_FEATURES = [
    "years_experience",
    "has_portfolio",
    "listing_count",
    "log_listing_price",
    "category_late_rate",
    "category_cancel_rate",
    "category_return_rate",
    "category_rating_mean",
]
# Six months: long enough that an artisan's share of problem orders reflects the artisan rather
# than a few unlucky orders (on generated data the best possible ranking of this outcome by the
# latent quality rises from AUC 0.73-0.77 at 120 days to 0.75-0.80; docs/scoring.md).
HORIZON_DAYS = 180
SNAPSHOT_STEP_DAYS = 30
MAX_SNAPSHOTS = 12
# The newest snapshots whose outcomes are known are held out. Two of them double the held-out
# rows, which the gate needs to tell a real gain over the mean rating from luck; the gate's
# bootstrap draws each artisan's rows together, so the repeat does not overstate the evidence.
HOLDOUT_SNAPSHOTS = 2
# Features need some history behind a snapshot; earlier dates are not used.
MIN_LOOKBACK_DAYS = 120
GOOD_STANDING_MAX_PROBLEM_RATE = 0.15
GOOD_STANDING_MIN_ORDERS = 3
# "Went on to high returns or cancellations": the DOMAIN KPI thresholds are 4 % and 5 %.
HIGH_RC_MIN_ORDERS = 5
HIGH_RC_RATE = 0.09
# A category gets its own model only with this much data (else the global model serves it).
# Sized so the larger categories of a 1,000-artisan marketplace over 24 months qualify; below
# this the held-out interval is too wide for a category model to ever clear the gate.
CATEGORY_MIN_TRAIN_ROWS = 400
CATEGORY_MIN_HOLDOUT_ROWS = 80
CATEGORY_MIN_CLASS_ROWS = 20
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


def build_estimator(seed: int, C: float = 0.5) -> Pipeline:
    """A regularised logistic model on standardised features.

    Logistic regression fitted by likelihood is calibrated on its own, and its log-odds split
    exactly into one term per feature, so every reason shown to staff is that feature's own
    share of the score and points the way its coefficient does.
    """
    return Pipeline([("scale", StandardScaler()), ("model", LogisticRegression(C=C, max_iter=2000, random_state=seed))])


class NoFeatureFits(ValidationError):
    """Every feature was fitted against its declared direction: there is no model to judge."""


def fit_in_declared_directions(train: pd.DataFrame, features: list[str], seed: int) -> tuple[Pipeline, list[str], list[dict]]:
    """Fit, then drop any feature whose coefficient points against its declared direction, and refit.

    Features are correlated (late shipments and returns move together), so a feature can take
    the wrong sign only because another one carries its signal; one drop at a time (the most
    contrary first) keeps every feature that can be fitted its own way.
    """
    kept = list(features)
    dropped = []
    y = train["label"].to_numpy()
    while kept:
        estimator = build_estimator(seed).fit(train[kept].to_numpy(float), y)
        coef = estimator.named_steps["model"].coef_[0]
        contrary = [
            (coef[i] * FEATURE_DIRECTIONS[name], name, float(coef[i]))
            for i, name in enumerate(kept)
            if coef[i] * FEATURE_DIRECTIONS[name] < 0
        ]
        if not contrary:
            return estimator, kept, dropped
        _, name, fitted = min(contrary)
        kept.remove(name)
        dropped.append(
            {
                "name": name,
                "declared": "+" if FEATURE_DIRECTIONS[name] > 0 else "-",
                "fitted_coefficient": round(fitted, 4),
                "reason": "fitted against its declared direction; dropped and refitted",
            }
        )
    raise NoFeatureFits("No feature could be fitted in its declared direction.")


def feature_table(estimator: Pipeline, features: list[str]) -> list[dict]:
    coef = estimator.named_steps["model"].coef_[0]
    return [
        {
            "name": name,
            "direction": "+" if FEATURE_DIRECTIONS.get(name, 0) > 0 else "-" if FEATURE_DIRECTIONS.get(name, 0) < 0 else None,
            "weight": round(float(coef[i]), 4),
            "kind": "coefficient (per standard deviation)",
        }
        for i, name in enumerate(features)
    ]


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


# Single-signal baselines every candidate must beat: each is a logistic fit on one signal,
# fitted on the candidate's own training rows. The strongest on held-out data is the bar.
SINGLE_SIGNAL_BASELINES = {
    "sales volume": ["log_orders_365", "log_revenue_365"],
    "mean rating": ["rating_mean"],
    "cancellation + return rate": ["cancel_plus_return_rate"],
    "late-shipment rate": ["late_rate"],
    "tenure": ["log_tenure_days"],
}
# What a brand-new artisan has: its category, its listings and its application.
COLD_START_BASELINES = {
    "category": ["category_base_rate"],
    "listing count": ["listing_count"],
    "years of experience": ["years_experience"],
}
# Too few new-artisan rows to judge a cold-start model on; below this it is not trained.
COLD_START_MIN_TRAIN_ROWS = 150
COLD_START_MIN_HOLDOUT_ROWS = 40


def _with_derived_signals(frame: pd.DataFrame, train: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    if {"cancel_rate", "return_rate"} <= set(frame.columns):
        frame["cancel_plus_return_rate"] = frame["cancel_rate"] + frame["return_rate"]
    # The category's own outcome rate in the training rows: the fairest thing to know about a newcomer.
    rates = train.groupby("craft_category")["label"].mean()
    frame["category_base_rate"] = frame["craft_category"].map(rates).fillna(train["label"].mean()).astype(float)
    return frame


def baseline_scores(train: pd.DataFrame, holdout: pd.DataFrame, baselines: dict[str, list[str]]) -> dict[str, np.ndarray]:
    """Held-out probabilities of each single-signal baseline, fitted on the training rows."""
    train, holdout = _with_derived_signals(train, train), _with_derived_signals(holdout, train)
    scores = {}
    for name, columns in baselines.items():
        model = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression(max_iter=1000))])
        model.fit(train[columns].to_numpy(float), train["label"].to_numpy())
        scores[name] = model.predict_proba(holdout[columns].to_numpy(float))[:, 1]
    return scores


def _incumbent_scores(holdout: pd.DataFrame, *, kind: str, category: str | None):
    """The active version of the slot, scored on its own features as production scores it."""
    version = ModelVersion.objects.for_slot(kind=kind, category=category).active().first()
    if version is None:
        return None, None
    missing = set(version.features) - set(holdout.columns)
    if missing:
        logger.warning("Incumbent %s needs features no longer computed: %s", version, sorted(missing))
        return version, None
    estimator = registry.model_load(version)
    return version, estimator.predict_proba(holdout[version.features].to_numpy(float))[:, 1]


@dataclass
class TrainingResult:
    versions: list = field(default_factory=list)
    activated: list = field(default_factory=list)
    refused: dict = field(default_factory=dict)
    skipped: dict = field(default_factory=dict)

    @property
    def skipped_categories(self) -> dict:
        return {k: v for k, v in self.skipped.items() if k not in (KIND, COLD_START_KIND)}


@dataclass
class TrainingFrames:
    """Features and outcomes of every snapshot: the costly part of training, computed once."""

    train: pd.DataFrame
    holdout: pd.DataFrame
    window: tuple


def training_frames(*, horizon_days: int = HORIZON_DAYS, data_end: datetime | None = None,
                    max_snapshots: int = MAX_SNAPSHOTS, seed: int | None = None) -> TrainingFrames:
    start, end = data_range()
    if start is None:
        raise ValidationError("There are no orders to train on.")
    end = min(end, data_end) if data_end else end
    dates = snapshot_dates(data_start=start, data_end=end, horizon_days=horizon_days, max_snapshots=max_snapshots)
    holdout_dates = dates[-HOLDOUT_SNAPSHOTS:]
    first_holdout = holdout_dates[0] if holdout_dates else None
    train_dates = [d for d in dates if first_holdout and d + timedelta(days=horizon_days) <= first_holdout]
    if not train_dates:
        raise ValidationError(
            f"Not enough history to train: need at least "
            f"{MIN_LOOKBACK_DAYS + 2 * horizon_days + SNAPSHOT_STEP_DAYS * (HOLDOUT_SNAPSHOTS - 1)} days of orders, "
            f"have {(end - start).days}."
        )
    train = pd.concat([snapshot_frame(as_of=d, horizon_days=horizon_days) for d in train_dates])
    holdout = pd.concat([snapshot_frame(as_of=d, horizon_days=horizon_days) for d in holdout_dates])
    window = (train_dates[0] - timedelta(days=365), holdout_dates[-1] + timedelta(days=horizon_days))
    return TrainingFrames(train=train, holdout=holdout, window=window)


def _perturbed(frames: TrainingFrames, features: list[str], *, permute_labels: int | None, noise_features: int | None):
    """The gate's self-test: training labels shuffled, or the candidate's features replaced by noise.

    Held-out labels stay true, and the incumbent is scored on its own real features, so what
    the gate sees is exactly a broken candidate beside a working production model.
    """
    train, holdout = frames.train.copy(), frames.holdout.copy()
    if permute_labels is not None:
        rng = np.random.default_rng(permute_labels)
        train["label"] = rng.permutation(train["label"].to_numpy())
    candidate_train, candidate_holdout = train, holdout
    if noise_features is not None:
        rng = np.random.default_rng(noise_features)
        candidate_train, candidate_holdout = train.copy(), holdout.copy()
        for name in features:
            candidate_train[name] = rng.normal(size=len(train))
            candidate_holdout[name] = rng.normal(size=len(holdout))
    return train, holdout, candidate_train, candidate_holdout


def _fit_and_judge(*, train, holdout, candidate_train, candidate_holdout, window, seed, kind, category, features,
                   baselines: dict[str, np.ndarray], horizon_days, tag: str = "") -> ModelVersion:
    """Fit one candidate, put it through the gate and register it with the gate's report."""
    estimator, kept, dropped = fit_in_declared_directions(candidate_train, features, seed)
    prob = estimator.predict_proba(candidate_holdout[kept].to_numpy(float))[:, 1]
    learned = gate.learned_from_labels(
        train["label"].to_numpy(), estimator.predict_proba(candidate_train[kept].to_numpy(float))[:, 1], len(kept)
    )
    incumbent, incumbent_prob = _incumbent_scores(holdout, kind=kind, category=category)
    report = gate.gate_evaluate(
        y_true=holdout["label"].to_numpy(),
        candidate=prob,
        baselines=baselines,
        incumbent=incumbent_prob,
        incumbent_label=f"active v{incumbent.version}" if incumbent else "incumbent",
        train_base_rate=float(train["label"].mean()),
        seed=seed,
        groups=holdout.index.to_numpy(),
        learned=learned,
    )
    metrics = evaluate(holdout["label"], prob, holdout["high_return_cancel"])
    reference = float(estimator.predict_proba(estimator.named_steps["scale"].mean_.reshape(1, -1))[:, 1][0])
    metrics.update(
        {
            "n_train": int(len(train)),
            "horizon_days": horizon_days,
            "holdout_as_of": holdout["as_of"].min().isoformat() if len(holdout) else None,
            "holdout_snapshots": sorted({d.isoformat() for d in holdout["as_of"]}),
            "train_snapshots": sorted({d.isoformat() for d in train["as_of"]}),
            "label": f"active after {horizon_days} days and <= {GOOD_STANDING_MAX_PROBLEM_RATE:.0%} problem orders",
            "evaluation": report.evaluation,
            "gate": {**report.as_json(), "incumbent_version_id": incumbent.pk if incumbent else None},
            "feature_table": feature_table(estimator, kept),
            "dropped_features": dropped,
            "reference_score": round(reference * 100, 2),
            "training_mode": tag or "normal",
            "feature_bins": feature_bins(candidate_train, kept),
        }
    )
    if incumbent is not None and incumbent_prob is None:
        metrics["gate"]["checks"].append(
            {"name": "incumbent", "passed": False, "numbers": {},
             "detail": f"active v{incumbent.version} could not be scored on its own features"}
        )
        metrics["gate"]["passed"] = False
    best = report.evaluation.get("best_baseline")
    best_row = next((c for c in report.evaluation["comparisons"] if c["name"] == best), None)
    baseline_metrics = {"roc_auc": best_row["value"], "name": best, "ci": best_row["ci"]} if best_row else {"roc_auc": None}
    return registry.model_version_register(
        kind=kind, estimator=estimator, features=kept, metrics=metrics, baseline_metrics=baseline_metrics,
        window_start=window[0], window_end=window[1], seed=seed, category=category,
    )


def _category_ready(train: pd.DataFrame, holdout: pd.DataFrame, *, min_train=None, min_holdout=None) -> str | None:
    min_train = CATEGORY_MIN_TRAIN_ROWS if min_train is None else min_train
    min_holdout = CATEGORY_MIN_HOLDOUT_ROWS if min_holdout is None else min_holdout
    if len(train) < min_train:
        return f"{len(train)} training rows (needs {min_train})"
    if len(holdout) < min_holdout:
        return f"{len(holdout)} held-out rows (needs {min_holdout})"
    for name, part in (("training", train), ("held-out", holdout)):
        counts = part["label"].value_counts()
        if counts.get(0, 0) < CATEGORY_MIN_CLASS_ROWS or counts.get(1, 0) < CATEGORY_MIN_CLASS_ROWS:
            return f"too few of one outcome in the {name} rows (needs {CATEGORY_MIN_CLASS_ROWS} of each)"
    return None


def seller_score_train(*, seed: int = 42, activate: bool = True, categories: bool = True,
                       horizon_days: int = HORIZON_DAYS, data_end: datetime | None = None,
                       max_snapshots: int = MAX_SNAPSHOTS, frames: TrainingFrames | None = None,
                       permute_labels: int | None = None, noise_features: int | None = None) -> TrainingResult:
    """Train the global, cold-start and category models; activate those the gate passes.

    ``permute_labels`` / ``noise_features`` (seeds) train on shuffled labels or noise features,
    the gate's own end-to-end check: nothing trained that way may ever activate.
    Same data and seed give the same versions (metrics and coefficients).
    """
    frames = frames or training_frames(horizon_days=horizon_days, data_end=data_end, max_snapshots=max_snapshots)
    tag = "permuted labels" if permute_labels is not None else "noise features" if noise_features is not None else ""
    result = TrainingResult()

    def judged(kind, category, features, baseline_specs, train_rows, holdout_rows, extra_baselines=None):
        sub = TrainingFrames(train=train_rows, holdout=holdout_rows, window=frames.window)
        train, holdout, cand_train, cand_holdout = _perturbed(
            sub, features, permute_labels=permute_labels, noise_features=noise_features
        )
        baselines = baseline_scores(train, holdout, baseline_specs)
        baselines.update(extra_baselines or {})
        try:
            version = _fit_and_judge(
                train=train, holdout=holdout, candidate_train=cand_train, candidate_holdout=cand_holdout,
                window=frames.window, seed=seed, kind=kind, category=category, features=features,
                baselines=baselines, horizon_days=horizon_days, tag=tag,
            )
        except NoFeatureFits as exc:
            # Shuffled labels or noise can leave no feature that fits its way: nothing to activate.
            result.skipped[category or kind] = exc.messages[0]
            logger.info("No %s model%s: %s", kind, f" for {category}" if category else "", exc.messages[0])
            return None
        result.versions.append(version)
        if activate:
            _try_activate(version, result)
        return version

    global_version = judged(KIND, None, MODEL_FEATURES, SINGLE_SIGNAL_BASELINES, frames.train, frames.holdout)

    # Cold start is judged only on artisans with no sales at the snapshot, against what they have.
    new_train = frames.train[frames.train["has_history"] == 0]
    new_holdout = frames.holdout[frames.holdout["has_history"] == 0]
    problem = _category_ready(new_train, new_holdout, min_train=COLD_START_MIN_TRAIN_ROWS, min_holdout=COLD_START_MIN_HOLDOUT_ROWS)
    if problem:
        result.skipped[COLD_START_KIND] = f"not enough artisans without sales history: {problem}"
    else:
        judged(COLD_START_KIND, None, COLD_START_FEATURES, COLD_START_BASELINES, new_train, new_holdout)

    if categories and global_version is not None:
        global_estimator = registry.model_load(global_version)
        for category in sorted(frames.train["craft_category"].unique()):
            cat_train = frames.train[frames.train["craft_category"] == category]
            cat_holdout = frames.holdout[frames.holdout["craft_category"] == category]
            problem = _category_ready(cat_train, cat_holdout)
            if problem:
                result.skipped[category] = problem
                continue
            # A category model must beat the global model on its own category's held-out rows,
            # so the global model joins the baselines there.
            global_prob = global_estimator.predict_proba(cat_holdout[global_version.features].to_numpy(float))[:, 1]
            judged(KIND, category, MODEL_FEATURES, SINGLE_SIGNAL_BASELINES, cat_train, cat_holdout,
                   extra_baselines={"global model": global_prob})
    return result


def _try_activate(version: ModelVersion, result: TrainingResult) -> None:
    try:
        registry.model_version_activate(version=version)
        result.activated.append(version)
    except ValidationError as exc:
        result.refused[str(version)] = exc.messages
        registry.model_version_refusal_record(version=version, reasons=exc.messages)
        logger.info("Not activating %s: %s", version, "; ".join(exc.messages))
