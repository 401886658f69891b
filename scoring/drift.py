"""Drift of a model version: how far today's inputs have moved from its training rows.

The population stability index (PSI) of each feature compares the shares of today's scored
artisans in the training deciles with the training shares; above 0.25 the model is reading a
population it was not trained on. Live AUC compares the scores given at least one horizon ago
with what then happened.
"""

from datetime import timedelta

import numpy as np
import pandas as pd
from django.utils import timezone
from sklearn.metrics import roc_auc_score

PSI_ALERT = 0.25
BINS = 10


def feature_bins(frame: pd.DataFrame, features: list[str]) -> dict:
    """Training deciles of each feature and the share of training rows in each, to store on a version."""
    bins = {}
    for name in features:
        values = frame[name].to_numpy(float)
        edges = np.unique(np.quantile(values, np.linspace(0, 1, BINS + 1)[1:-1]))
        counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
        bins[name] = {"edges": [round(float(e), 6) for e in edges], "shares": [round(float(c) / len(values), 6) for c in counts]}
    return bins


def psi(expected_shares, edges, values) -> float:
    values = np.asarray(values, dtype=float)
    actual = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1) / max(len(values), 1)
    expected = np.clip(np.asarray(expected_shares, dtype=float), 1e-4, None)
    actual = np.clip(actual, 1e-4, None)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def seller_model_drift(version) -> dict:
    """PSI per feature against the artisans this version scored most recently, and live AUC."""
    from scoring.models import SellerScore, SellerScoreHistory
    from scoring.training import outcomes

    bins = (version.metrics or {}).get("feature_bins") or {}
    rows = list(SellerScore.objects.filter(model_version=version).values_list("features", flat=True))
    result = {"scored_rows": len(rows), "features": [], "live": None, "alerts": []}
    if rows and bins:
        current = pd.DataFrame.from_records(rows)
        for name, spec in bins.items():
            if name not in current:
                continue
            value = psi(spec["shares"], spec["edges"], current[name].to_numpy(float))
            result["features"].append({"name": name, "psi": round(value, 4), "drifted": value > PSI_ALERT})
            if value > PSI_ALERT:
                result["alerts"].append(f"{name} has drifted (PSI {value:.2f} > {PSI_ALERT})")
    horizon = (version.metrics or {}).get("horizon_days") or 120
    matured = timezone.now() - timedelta(days=horizon)
    history = pd.DataFrame.from_records(
        SellerScoreHistory.objects.filter(model_version=version, computed_at__lte=matured, probability__isnull=False)
        .values("seller_id", "probability", "computed_at")
    )
    if len(history):
        as_of = history["computed_at"].max()
        latest = history[history["computed_at"] == as_of].set_index("seller_id")
        labels = outcomes(as_of=as_of.to_pydatetime() if hasattr(as_of, "to_pydatetime") else as_of, horizon_days=horizon)["label"]
        joined = latest.join(labels, how="left").fillna({"label": 0})
        if joined["label"].nunique() == 2:
            auc = float(roc_auc_score(joined["label"], joined["probability"]))
            result["live"] = {"as_of": str(as_of), "rows": int(len(joined)), "roc_auc": round(auc, 4)}
            from scoring.gate import AUC_FLOOR

            if auc < AUC_FLOOR + 0.05:
                result["alerts"].append(f"live AUC {auc:.2f} on matured outcomes is near or below the gate's floor")
    return result


def _drift_summary(drift: dict) -> dict:
    worst = max(drift["features"], key=lambda row: row["psi"], default=None)
    return {
        "checked_at": timezone.now().isoformat(),
        "scored_rows": drift["scored_rows"],
        "max_psi": worst["psi"] if worst else None,
        "worst_feature": worst["name"] if worst else None,
        "drifted_features": [row["name"] for row in drift["features"] if row["drifted"]],
        "live": drift["live"],
    }


def active_models_drift_record() -> list[int]:
    """Measure drift of every active seller-score version and store it on the version.

    The dashboard's drift KPIs read what is stored here, so the KPI pages and the daily alert
    check cost one row read instead of a pass over every score and its outcomes.
    """
    from scoring.models import ModelStatus, ModelVersion
    from scoring.training import COLD_START_KIND, KIND

    recorded = []
    for version in ModelVersion.objects.filter(kind__in=[KIND, COLD_START_KIND], status=ModelStatus.ACTIVE).defer("artifact"):
        summary = _drift_summary(seller_model_drift(version))
        metrics = dict(version.metrics or {})
        metrics["drift"] = summary
        ModelVersion.objects.filter(pk=version.pk).update(metrics=metrics)
        recorded.append(version.pk)
    return recorded


def active_model_drift() -> dict | None:
    """The last drift measured for the active global seller-score model, or None."""
    from scoring.models import ModelStatus, ModelVersion
    from scoring.training import KIND

    version = (
        ModelVersion.objects.filter(kind=KIND, category__isnull=True, status=ModelStatus.ACTIVE)
        .defer("artifact").order_by("-activated_at").first()
    )
    drift = (version.metrics or {}).get("drift") if version else None
    if not drift:
        return None
    return {**drift, "version_id": version.pk, "version": str(version)}
