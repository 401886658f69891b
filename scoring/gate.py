"""The activation gate every model kind passes through, with paired bootstrap intervals.

A candidate becomes active only when, on its held-out rows:
  (a) floor: the lower bound of its ROC AUC's 95 % interval is above 0.5;
  (b) best baseline: the lower bound of (candidate - best single-signal baseline) is above 0;
  (c) incumbent: the lower bound of (candidate - incumbent) is at least -INCUMBENT_TOLERANCE,
      the incumbent scored on its own features as production would score it;
  (d) calibration: its Brier score beats a constant predictor of the training base rate;
  (e) learned: it fits its own training labels better than chance (likelihood-ratio test against
      the base rate, p below LEARNED_MAX_P). Without this, a model trained on shuffled labels can
      pass (a)-(d): a fit held to the declared directions still ranks by those directions, and an
      index of well-chosen signs is a strong model on its own. Only the labels can show it learned.

All intervals come from one paired bootstrap: each resample reweights the same held-out rows
for every model, so a difference's interval reflects how the two models disagree on those
rows, not the noise each would show alone. The resampling is seeded, so a gate decision is
reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

RESAMPLES = 1000
CONFIDENCE = 0.95
AUC_FLOOR = 0.5
# How far below the incumbent a candidate may land before it counts as a regression: the
# incumbent's own interval on a few hundred rows is wider than this, so only a real drop fails.
INCUMBENT_TOLERANCE = 0.005
LEARNED_MAX_P = 0.001


def learned_from_labels(y_train, prob_train, n_parameters: int) -> dict:
    """Likelihood-ratio test of a fitted model against always predicting the training base rate."""
    from scipy.stats import chi2

    y = np.asarray(y_train, dtype=float)
    p = np.clip(np.asarray(prob_train, dtype=float), 1e-9, 1 - 1e-9)
    rate = float(np.clip(y.mean(), 1e-9, 1 - 1e-9))
    fitted = float(np.sum(y * np.log(p) + (1 - y) * np.log(1 - p)))
    null = float(np.sum(y * np.log(rate) + (1 - y) * np.log(1 - rate)))
    statistic = max(2.0 * (fitted - null), 0.0)
    return {"statistic": round(statistic, 2), "df": int(n_parameters), "p_value": float(chi2.sf(statistic, max(n_parameters, 1)))}


def bootstrap_weights(n: int, *, resamples: int = RESAMPLES, seed: int = 0, groups=None) -> np.ndarray:
    """(resamples, n) counts of how often each held-out row is drawn in each resample.

    With ``groups`` (one label per row, e.g. the artisan), whole groups are drawn: rows of one
    artisan at two snapshots are not independent evidence, and drawing them together keeps the
    interval honest about that.
    """
    rng = np.random.default_rng(seed)
    if groups is None:
        return rng.multinomial(n, np.full(n, 1.0 / n), size=resamples).astype(np.float64)
    labels, index = np.unique(np.asarray(groups), return_inverse=True)
    k = len(labels)
    return rng.multinomial(k, np.full(k, 1.0 / k), size=resamples).astype(np.float64)[:, index]


def weighted_auc(y_true: np.ndarray, score: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """ROC AUC of ``score`` under each row of ``weights`` (ties count half), vectorised.

    Sorting once and summing weights per tie group gives every resample's AUC from cumulative
    sums, instead of calling roc_auc_score a thousand times.
    """
    y_true = np.asarray(y_true).astype(bool)
    score = np.asarray(score, dtype=float)
    weights = np.atleast_2d(weights)
    order = np.argsort(score, kind="mergesort")
    sorted_score = score[order]
    starts = np.flatnonzero(np.r_[True, sorted_score[1:] != sorted_score[:-1]])
    w = weights[:, order]
    pos = np.add.reduceat(w * y_true[order], starts, axis=1)
    neg = np.add.reduceat(w * ~y_true[order], starts, axis=1)
    neg_below = np.cumsum(neg, axis=1) - neg
    numerator = (pos * (neg_below + 0.5 * neg)).sum(axis=1)
    denominator = pos.sum(axis=1) * neg.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, numerator / denominator, np.nan)


def _interval(samples: np.ndarray) -> list[float]:
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.nanpercentile(samples, [tail, 100 - tail])
    return [round(float(low), 4), round(float(high), 4)]


def brier(y_true, prob) -> float:
    y_true = np.asarray(y_true, dtype=float)
    return float(np.mean((np.asarray(prob, dtype=float) - y_true) ** 2))


@dataclass
class GateCheck:
    name: str
    passed: bool
    detail: str
    numbers: dict = field(default_factory=dict)

    def as_json(self) -> dict:
        return {"name": self.name, "passed": self.passed, "detail": self.detail, "numbers": self.numbers}


@dataclass
class GateReport:
    checks: list[GateCheck]
    evaluation: dict

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)

    @property
    def failures(self) -> list[str]:
        return [f"{check.name}: {check.detail}" for check in self.checks if not check.passed]

    def as_json(self) -> dict:
        return {"passed": self.passed, "checks": [c.as_json() for c in self.checks]}


def gate_evaluate(
    *,
    y_true,
    candidate,
    baselines: dict[str, np.ndarray],
    incumbent=None,
    incumbent_label: str = "incumbent",
    train_base_rate: float | None = None,
    seed: int = 0,
    resamples: int = RESAMPLES,
    groups=None,
    learned: dict | None = None,
) -> GateReport:
    """Judge a candidate's held-out probabilities against baselines and the incumbent.

    ``baselines`` maps a readable name ("mean rating") to that baseline's held-out scores on
    the same rows; the strongest on held-out AUC is the one the candidate must beat.
    ``incumbent`` is the active model's held-out probabilities on its own features, or None.
    ``groups`` labels rows that belong together (the same artisan); the bootstrap draws them as one.
    ``learned`` is learned_from_labels() on the training rows; without it that check is not made.
    """
    y = np.asarray(y_true).astype(int)
    cand = np.asarray(candidate, dtype=float)
    n = len(y)
    if n == 0 or y.min() == y.max():
        check = GateCheck("data", False, f"the held-out set needs both outcomes; it has {n} rows with one outcome only")
        return GateReport([check], {"metric": "roc_auc", "n_holdout": n, "candidate": None, "comparisons": []})
    weights = bootstrap_weights(n, resamples=resamples, seed=seed, groups=groups)
    full = np.ones((1, n))
    cand_point = float(weighted_auc(y, cand, full)[0])
    cand_samples = weighted_auc(y, cand, weights)

    comparisons = []
    best = None
    for name, scores in baselines.items():
        point = float(weighted_auc(y, scores, full)[0])
        samples = weighted_auc(y, scores, weights)
        row = {
            "name": name,
            "value": round(point, 4),
            "ci": _interval(samples),
            "diff": round(cand_point - point, 4),
            "diff_ci": _interval(cand_samples - samples),
        }
        comparisons.append(row)
        if best is None or point > best["value"]:
            best = row
    evaluation = {
        "metric": "roc_auc",
        "n_holdout": n,
        "resamples": resamples,
        "candidate": {"value": round(cand_point, 4), "ci": _interval(cand_samples)},
        "comparisons": comparisons,
        "best_baseline": best["name"] if best else None,
    }

    checks = []
    low = evaluation["candidate"]["ci"][0]
    checks.append(
        GateCheck(
            "floor",
            low > AUC_FLOOR,
            f"AUC {cand_point:.3f}, 95% CI lower bound {low:.3f} must be above {AUC_FLOOR}",
            {"auc": round(cand_point, 4), "ci": evaluation["candidate"]["ci"]},
        )
    )
    if best is not None:
        diff_low = best["diff_ci"][0]
        checks.append(
            GateCheck(
                "best_baseline",
                diff_low > 0,
                f"AUC {cand_point:.3f} against the best baseline '{best['name']}' {best['value']:.3f}: "
                f"difference {best['diff']:+.3f}, 95% CI [{best['diff_ci'][0]:+.3f}, {best['diff_ci'][1]:+.3f}] "
                "must lie above 0",
                {"baseline": best["name"], "baseline_auc": best["value"], "diff": best["diff"], "diff_ci": best["diff_ci"]},
            )
        )
    if incumbent is not None:
        inc = np.asarray(incumbent, dtype=float)
        inc_point = float(weighted_auc(y, inc, full)[0])
        diff_ci = _interval(cand_samples - weighted_auc(y, inc, weights))
        evaluation["incumbent"] = {"name": incumbent_label, "value": round(inc_point, 4), "diff_ci": diff_ci}
        checks.append(
            GateCheck(
                "incumbent",
                diff_ci[0] >= -INCUMBENT_TOLERANCE,
                f"AUC {cand_point:.3f} against {incumbent_label} {inc_point:.3f}: difference 95% CI lower bound "
                f"{diff_ci[0]:+.3f} must be at least {-INCUMBENT_TOLERANCE:+.3f}",
                {"incumbent_auc": round(inc_point, 4), "diff_ci": diff_ci},
            )
        )
    rate = float(y.mean()) if train_base_rate is None else float(train_base_rate)
    cand_brier, constant_brier = brier(y, cand), brier(y, np.full(n, rate))
    evaluation["brier"] = {"candidate": round(cand_brier, 4), "base_rate": round(constant_brier, 4), "rate": round(rate, 4)}
    checks.append(
        GateCheck(
            "calibration",
            cand_brier < constant_brier,
            f"Brier {cand_brier:.4f} must beat the constant base-rate predictor ({rate:.1%}) at {constant_brier:.4f}",
            {"brier": round(cand_brier, 4), "base_rate_brier": round(constant_brier, 4)},
        )
    )
    if learned is not None:
        evaluation["learned"] = learned
        checks.append(
            GateCheck(
                "learned",
                learned["p_value"] < LEARNED_MAX_P,
                f"fit to its own training labels: likelihood ratio {learned['statistic']:.1f} on {learned['df']} features, "
                f"p = {learned['p_value']:.2g}, must be below {LEARNED_MAX_P}",
                dict(learned),
            )
        )
    return GateReport(checks, evaluation)
