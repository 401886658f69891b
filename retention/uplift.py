"""Uplift targeting: which flagged subjects does working a case actually change?

A T-learner (one outcome model per arm, scikit-learn) is fitted on closed intervention
assignments: the treated arm's subjects whose case was worked, and the held-out arm. The
expected uplift of a subject is P(retained | worked, x) - P(retained | held out, x). Risk
ordering works the likeliest churners first, and many of them are lost causes; uplift ordering
works first those whose outcome the case can change.

The model is kept in the scoring registry under the kind ``uplift:<case kind>``; its held-out
evaluation (uplift of the top of the ranking against the rest, with bootstrap intervals) is
stored in its metrics and shown on its model card. Admins switch a kind's queue to uplift order
with ``uplift_targeting_set``.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from buyers.models import InterventionArm, InterventionAssignment, QueueOrder, UpliftTargeting
from casework.models import CaseStatus
from casework.ordering import cases_in_workbench_order
from core.formatting import point_difference
from core.roles import is_marketplace_admin
from marketplace.models import Order, OrderStatus

FEATURES = ["churn_probability", "p_alive", "orders", "days_since_last_order", "cadence_days", "total_spend"]
MIN_ROWS_PER_ARM = 30
BOOTSTRAP = 300


def model_kind(case_kind: str) -> str:
    return f"uplift:{case_kind}"


def features_from_evidence(evidence: dict) -> list[float]:
    row = []
    for name in FEATURES:
        value = (evidence or {}).get(name)
        row.append(float(value) if value not in (None, "") else 0.0)
    churn = row[0]
    # Persuadability is rarely monotone in risk: the square lets each arm's model bend.
    return row + [churn * churn]


class TLearner:
    """Two fitted classifiers; not stored itself (the registry stores the pair as a list)."""

    def __init__(self, treated, control):
        self.treated, self.control = treated, control

    def uplift(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        return self.treated.predict_proba(X)[:, 1] - self.control.predict_proba(X)[:, 1]


def _classifier(seed: int, C: float = 1.0):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=500, random_state=seed))


def training_rows(*, case_kind: str, as_of: datetime | None = None):
    """(X, treated flag, outcome) of closed assignments: worked treated cases and the holdout."""
    as_of = as_of or timezone.now()
    purchases = Order.objects.exclude(status=OrderStatus.CANCELLED).filter(
        buyer_id=OuterRef("buyer_id"), placed_at__gt=OuterRef("flagged_at"), placed_at__lte=OuterRef("window_ends_at")
    )
    rows = (
        InterventionAssignment.objects.filter(kind=case_kind, buyer__isnull=False, window_ends_at__lte=as_of)
        .annotate(bought=Exists(purchases))
        .values_list("arm", "case__status", "evidence", "bought")
        .order_by("pk")
    )
    X, t, y = [], [], []
    for arm, case_status, evidence, bought in rows:
        if arm == InterventionArm.TREATED and case_status != CaseStatus.RESOLVED:
            continue  # offered but never worked: says nothing about what working a case does
        X.append(features_from_evidence(evidence))
        t.append(arm == InterventionArm.TREATED)
        y.append(bool(bought))
    return np.asarray(X, dtype=float).reshape(-1, len(FEATURES) + 1), np.asarray(t, dtype=bool), np.asarray(y, dtype=int)


def _fit(X, t, y, seed):
    treated, control = _classifier(seed), _classifier(seed)
    treated.fit(X[t], y[t])
    control.fit(X[~t], y[~t])
    return TLearner(treated, control)


def uplift_evaluation(*, uplift: np.ndarray, treated: np.ndarray, outcome: np.ndarray, seed: int = 0) -> dict:
    """Observed lift (treated rate minus holdout rate) in the top half of the ranking and in the
    bottom half, with a bootstrap 95% interval of their difference. A useful ranking puts the
    larger lift on top."""
    rng = np.random.default_rng(seed)
    order = np.argsort(-uplift, kind="stable")
    top = np.zeros(len(uplift), dtype=bool)
    top[order[: len(uplift) // 2]] = True

    def lift(mask):
        a, b = mask & treated, mask & ~treated
        if not a.any() or not b.any():
            return np.nan
        return outcome[a].mean() - outcome[b].mean()

    observed = (lift(top), lift(~top))
    diffs = []
    n = len(uplift)
    for _ in range(BOOTSTRAP):
        idx = rng.integers(0, n, n)
        t_, y_, top_ = treated[idx], outcome[idx], top[idx]

        def blift(mask):
            a, b = mask & t_, mask & ~t_
            return y_[a].mean() - y_[b].mean() if a.any() and b.any() else np.nan

        diffs.append(blift(top_) - blift(~top_))
    diffs = np.asarray(diffs)
    diffs = diffs[~np.isnan(diffs)]
    ci = [float(np.percentile(diffs, 2.5)), float(np.percentile(diffs, 97.5))] if len(diffs) else [None, None]
    return {
        "rows": int(n),
        "top_half_lift": None if np.isnan(observed[0]) else float(observed[0]),
        "bottom_half_lift": None if np.isnan(observed[1]) else float(observed[1]),
        "difference": None if np.isnan(observed[0] - observed[1]) else float(observed[0] - observed[1]),
        "difference_ci95": ci,
    }


def uplift_model_train(*, case_kind: str, as_of: datetime | None = None, seed: int = 0):
    """Fit, evaluate on a held-out third and register a T-learner for one case kind.

    Returns the registered ModelVersion, or raises ValidationError when an arm has too few rows.
    """
    from sklearn.metrics import roc_auc_score

    from scoring.registry import model_version_register

    as_of = as_of or timezone.now()
    X, t, y = training_rows(case_kind=case_kind, as_of=as_of)
    if min(int(t.sum()), int((~t).sum())) < MIN_ROWS_PER_ARM:
        raise ValidationError(
            f"Too few closed outcomes to learn uplift for {case_kind}: {int(t.sum())} worked and {int((~t).sum())} held out; "
            f"each arm needs {MIN_ROWS_PER_ARM}."
        )
    rng = np.random.default_rng(seed)
    test = rng.random(len(y)) < 1 / 3
    learner = _fit(X[~test], t[~test], y[~test], seed)
    evaluation = uplift_evaluation(uplift=learner.uplift(X[test]), treated=t[test], outcome=y[test], seed=seed)
    control_probability = learner.control.predict_proba(X[test])[:, 1]
    auc = (
        float(roc_auc_score(y[test][~t[test]], control_probability[~t[test]]))
        if len(set(y[test][~t[test]])) == 2 else None
    )
    passed = evaluation["difference"] is not None and evaluation["difference"] > 0
    gate = {
        "passed": passed,
        "checks": [
            {
                "name": "ranking",
                "passed": passed,
                "detail": "held-out lift in the top half of the uplift ranking minus the bottom half: "
                + ("n/a" if evaluation["difference"] is None else f"{evaluation['difference']:+.3f}"),
            }
        ],
        "incumbent_version_id": None,
    }
    final = _fit(X, t, y, seed)
    return model_version_register(
        kind=model_kind(case_kind),
        estimator=[final.treated, final.control],
        features=FEATURES + ["churn_probability_squared"],
        metrics={
            "roc_auc": auc,
            "label": "bought within the outcome window (worked case against holdout)",
            "n_train": int((~test).sum()),
            "n": int(test.sum()),
            "uplift": {**evaluation, "worked_rows": int(t.sum()), "held_out_rows": int((~t).sum())},
            "gate": gate,
        },
        baseline_metrics={"name": "risk order"},
        window_start=as_of,
        window_end=as_of,
        seed=seed,
        notes=f"T-learner (logistic regression per arm) for {case_kind}.",
    )


def uplift_learner_active(case_kind: str) -> TLearner | None:
    from scoring.registry import model_load_active

    version, estimator = model_load_active(kind=model_kind(case_kind))
    if version is None:
        return None
    treated, control = estimator
    return TLearner(treated, control)


def queue_order_for(case_kind: str) -> str:
    row = UpliftTargeting.objects.filter(kind=case_kind).first()
    return row.order_by if row else QueueOrder.RISK


@transaction.atomic
def uplift_targeting_set(*, case_kind: str, order_by: str, actor) -> UpliftTargeting:
    """An admin switches a case kind's queue between risk and uplift order."""
    if not is_marketplace_admin(actor):
        raise PermissionDenied("Only marketplace admins may change how a queue is ordered.")
    if order_by not in QueueOrder.values:
        raise ValidationError({"order_by": f"Unknown order {order_by!r}."})
    if order_by == QueueOrder.UPLIFT and uplift_learner_active(case_kind) is None:
        raise ValidationError({"order_by": f"No active uplift model for {case_kind}; train and activate one first."})
    row, _ = UpliftTargeting.objects.update_or_create(kind=case_kind, defaults={"order_by": order_by, "updated_by": actor})
    return row


# What risk order means in the workbench: its usual order, by priority and then due date.
WORKBENCH_ORDER = "Priority, then due date"


def _expected_uplift(learner: TLearner, cases: list) -> list[float]:
    """Each case's expected uplift, from the features stored in its evidence."""
    if not cases:
        return []
    return [float(score) for score in learner.uplift([features_from_evidence(case.evidence) for case in cases])]


def queue_ranking(cases, *, case_kind: str):
    """The workbench's order for one kind's open cases (registered in casework.ordering).

    In uplift order with an active model: every case's expected uplift, highest first. In risk
    order the workbench keeps its own order (priority, then due date) and no score is given.
    """
    from casework.ordering import QueueRanking

    order_by = queue_order_for(case_kind)
    if order_by != QueueOrder.UPLIFT:
        return QueueRanking(order=QueueOrder.RISK, label=WORKBENCH_ORDER)
    learner = uplift_learner_active(case_kind)
    if learner is None:
        return QueueRanking(
            order=QueueOrder.RISK, label=WORKBENCH_ORDER,
            note="Uplift order is switched on but no uplift model is active, so the queue keeps its usual order.",
        )
    cases = list(cases)
    by_case = {case.pk: score for case, score in zip(cases, _expected_uplift(learner, cases))}
    return QueueRanking(
        order=QueueOrder.UPLIFT, label=QueueOrder.UPLIFT.label, scores=by_case,
        shown={pk: point_difference(score) for pk, score in by_case.items()}, column="expected uplift",
        note="Expected uplift: how much more likely the buyer is to buy again within the outcome window "
        "if the case is worked, from the active uplift model.",
    )


def model_kind_labels_register() -> None:
    """Name retention's models in the model registry's lists (called by RetentionConfig)."""
    from casework.models import CaseKind
    from retention.services import CHURN_MODEL_KIND
    from scoring.registry import model_kind_label_register

    model_kind_label_register(CHURN_MODEL_KIND, "Buyer churn")
    for kind in (CaseKind.BUYER_CHURN_RISK,):
        model_kind_label_register(model_kind(kind), f"Uplift: {CaseKind(kind).label.lower()} cases")


def queue_orderer_register_all() -> None:
    """Order the buyer churn queue by uplift when an admin switches it (called by RetentionConfig)."""
    from functools import partial

    from casework.models import CaseKind
    from casework.ordering import queue_orderer_register

    for kind in (CaseKind.BUYER_CHURN_RISK,):
        queue_orderer_register(
            kind,
            rank=partial(queue_ranking, case_kind=kind),
            switch=partial(uplift_targeting_set, case_kind=kind),
            choices=lambda: [(QueueOrder.RISK, f"{WORKBENCH_ORDER.lower()} (risk order)"), (QueueOrder.UPLIFT, QueueOrder.UPLIFT.label)],
            can_switch=is_marketplace_admin,
        )


def cases_in_queue_order(cases, *, case_kind: str, order_by: str | None = None) -> list:
    """The active cases of one kind in the order the workbench lists them, so staff work them.

    Uplift order (when switched on and a model is active): highest expected uplift first, ties
    in the workbench's order. Otherwise (risk order, or no active model) the workbench's usual order: priority,
    then due date (``casework.ordering.cases_in_workbench_order``), as ``queue_ranking`` leaves it.
    """
    cases = cases_in_workbench_order(cases)
    order_by = order_by or queue_order_for(case_kind)
    if order_by == QueueOrder.UPLIFT:
        learner = uplift_learner_active(case_kind)
        if learner is not None and cases:
            # A stable sort: equal uplifts keep the workbench's order, as on the case list.
            ranked = sorted(zip(cases, _expected_uplift(learner, cases)), key=lambda pair: -pair[1])
            return [case for case, _ in ranked]
    return cases
