"""Quality bars, measured on the synthetic marketplace (docs/generator.md).

Seller.synthetic_quality is the generator's latent quality: used here as ground truth
only, never as a feature.
"""

from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytest

from core import roles
from core.factories import UserFactory
from marketplace.generator.services import generate_marketplace
from scoring import registry
from scoring.features import FEATURE_DIRECTIONS, MODEL_FEATURES
from scoring.models import ScoreBasis
from scoring.services import seller_scores_compute
from scoring.training import COLD_START_KIND, COLD_START_MIN_TRAIN_ROWS, _live_sellers, seller_score_train, training_frames
from sellers.models import Seller

# Off-season seasonal artisans may be flagged at most this much more often than
# non-seasonal artisans of the same latent quality (quintile-weighted difference).
MAX_SEASONAL_EXCESS = 0.05
OFF_SEASON = datetime(2026, 5, 20, tzinfo=timezone.utc)  # seasonal demand at its yearly low


def _flag_rates(as_of):
    live = sorted(_live_sellers(as_of))
    scores = seller_scores_compute(as_of=as_of, seller_ids=live)
    scores = scores[scores["score"].notna()]
    truth = pd.DataFrame.from_records(
        Seller.objects.filter(pk__in=live).values("pk", "is_seasonal", "synthetic_quality")
    ).set_index("pk")
    frame = scores[["score"]].astype(float).join(truth)
    frame["quality_bin"] = pd.qcut(frame["synthetic_quality"], 5, labels=False)
    result = {}
    for name, flagged in (("high_risk", frame["score"] < 30), ("not_low_risk", frame["score"] < 70)):
        frame["flag"] = flagged
        rates = frame.groupby(["quality_bin", "is_seasonal"])["flag"].mean().unstack()
        weights = frame[frame["is_seasonal"]].groupby("quality_bin").size()
        excess = ((rates[True] - rates[False]) * weights).sum() / weights.sum()
        result[name] = {
            "seasonal_rate": round(float(frame.loc[frame["is_seasonal"], "flag"].mean()), 4),
            "non_seasonal_rate": round(float(frame.loc[~frame["is_seasonal"], "flag"].mean()), 4),
            "excess_at_equal_quality": round(float(excess), 4),
        }
    result["seasonal_artisans"] = int(frame["is_seasonal"].sum())
    return result


_RESULTS: dict = {}
# The gate's own end-to-end check: this many shuffled-label and noise-feature runs each,
# in an empty slot and against an active model. Not one may activate.
SELF_TEST_RUNS = 10
IN_SEASON = datetime(2025, 12, 10, tzinfo=timezone.utc)


def _self_test_activations(frames):
    activated = []
    for run in range(SELF_TEST_RUNS):
        for option in ({"permute_labels": run}, {"noise_features": run}):
            result = seller_score_train(seed=11, categories=False, frames=frames, **option)
            activated += [str(v) for v in result.activated]
    return activated


def _reason_checks(version):
    """For every artisan the active model scores: do reasons point their feature's way, and add up?"""
    estimator = registry.model_load(version)
    means = dict(zip(version.features, estimator.named_steps["scale"].mean_))
    scores = seller_scores_compute(as_of=datetime(2026, 9, 30, tzinfo=timezone.utc))
    scored = scores[scores["basis"] == ScoreBasis.MODEL]
    contrary, gaps = [], []
    for seller_id, row in scored.iterrows():
        for reason in row["reasons"]:
            name = reason["feature"]
            if name in means:
                deviation = np.sign(row["features"][name] - means[name])
                if reason["contribution"] * FEATURE_DIRECTIONS[name] * deviation < 0:
                    contrary.append((seller_id, reason))
        shown = sum(r["contribution"] for r in row["reasons"])
        gaps.append(abs(row["score"] - (version.metrics["reference_score"] + shown)))
    return {"scored": len(scored), "contrary": contrary, "max_gap": max(gaps) if gaps else None}


@pytest.fixture
def trained(db):
    """Generate once, run the gate's self-test in an empty slot, train for real, run the self-test
    again against the active model, then score. The data lives in the test's transaction and is
    rolled back; only the figures are kept.
    """
    if not _RESULTS:
        generate_marketplace(sellers=1000, buyers=10000, months=24, seed=11, end="2026-09-30", progress=False, clear=True)
        frames = training_frames(max_snapshots=10)
        empty_slot = _self_test_activations(frames)
        result = seller_score_train(seed=11, frames=frames)
        version = result.versions[0]
        if version not in result.activated:
            # Whether it beats the mean rating with an interval above zero is measured across seeds
            # in bench/models.py, not asserted on this one; the checks below need it active.
            admin = UserFactory(roles=[roles.MARKETPLACE_ADMIN])
            registry.model_version_activate(version=version, actor=admin, force=True)
        again = seller_score_train(seed=11, categories=False, activate=False, frames=frames).versions[0]
        against_incumbent = _self_test_activations(frames)
        newcomers = frames.train[frames.train["has_history"] == 0]
        _RESULTS.update(
            {
                "metrics": version.metrics,
                "features": version.features,
                "again": again.metrics,
                "self_test": {"empty_slot": empty_slot, "against_incumbent": against_incumbent},
                "categories_trained": [v.category for v in result.versions if v.category],
                "cold_start": next((v.metrics for v in result.versions if v.kind == COLD_START_KIND), None),
                "skipped": result.skipped,
                "newcomer_train_rows": len(newcomers),
                "reasons": _reason_checks(version),
                "off_season": _flag_rates(OFF_SEASON),
                "in_season": _flag_rates(IN_SEASON),
            }
        )
    return _RESULTS


@pytest.mark.slow
def test_nothing_trained_on_shuffled_labels_or_noise_features_ever_activates(trained):
    print("self-test activations", trained["self_test"])

    assert trained["self_test"] == {"empty_slot": [], "against_incumbent": []}


@pytest.mark.slow
def test_trained_model_clears_the_floor_learns_and_beats_sales_volume_decisively(trained):
    metrics = trained["metrics"]
    evaluation = metrics["evaluation"]
    checks = {c["name"]: c["passed"] for c in metrics["gate"]["checks"]}
    print("held-out", evaluation["candidate"], [(c["name"], c["value"], c["diff_ci"]) for c in evaluation["comparisons"]])

    assert checks["floor"] and checks["learned"] and checks["calibration"]
    assert evaluation["candidate"]["ci"][0] > 0.5
    names = {c["name"]: c for c in evaluation["comparisons"]}
    assert set(names) == {"sales volume", "mean rating", "cancellation + return rate", "late-shipment rate", "tenure"}
    assert names["sales volume"]["diff_ci"][0] > 0.05
    assert evaluation["brier"]["candidate"] < evaluation["brier"]["base_rate"]
    assert "synthetic_quality" not in trained["features"]
    assert sum(row["count"] for row in metrics["calibration"]) == metrics["n"]


@pytest.mark.slow
def test_every_fitted_feature_points_its_declared_way_and_drops_are_recorded(trained):
    metrics = trained["metrics"]
    fitted = {row["name"]: row["weight"] for row in metrics["feature_table"]}

    assert all(weight * FEATURE_DIRECTIONS[name] >= 0 for name, weight in fitted.items())
    assert {d["name"] for d in metrics["dropped_features"]}.isdisjoint(fitted)
    assert set(fitted) | {d["name"] for d in metrics["dropped_features"]} == set(MODEL_FEATURES)


@pytest.mark.slow
def test_no_reason_shown_to_staff_contradicts_its_feature_direction_and_reasons_add_up(trained):
    reasons = trained["reasons"]
    print("scored", reasons["scored"], "largest gap between score and reference + reasons", reasons["max_gap"])

    assert reasons["scored"] >= 500
    assert reasons["contrary"] == []
    assert reasons["max_gap"] <= 1.5


@pytest.mark.slow
def test_model_catches_more_future_high_return_artisans_than_the_sales_volume_view(trained):
    metrics = trained["metrics"]
    print("recall on later high return/cancel (score < 70)", metrics["recall_high_return_cancel_not_low"],
          "of", metrics["high_return_cancel_count"], "flagged share", metrics["flagged_not_low_share"])

    assert metrics["recall_high_return_cancel_not_low"] > metrics["flagged_not_low_share"]


@pytest.mark.slow
@pytest.mark.parametrize("season", ["off_season", "in_season"])
def test_seasonal_artisans_are_not_flagged_more_than_equal_quality_peers(trained, season):
    fairness = trained[season]
    print(season, "flag rates", fairness)

    assert fairness["seasonal_artisans"] >= 50
    assert fairness["high_risk"]["excess_at_equal_quality"] <= MAX_SEASONAL_EXCESS
    assert fairness["not_low_risk"]["excess_at_equal_quality"] <= MAX_SEASONAL_EXCESS


@pytest.mark.slow
def test_training_is_reproducible_from_the_seed(trained):
    assert trained["again"]["roc_auc"] == trained["metrics"]["roc_auc"]
    assert trained["again"]["calibration"] == trained["metrics"]["calibration"]
    assert trained["again"]["evaluation"] == trained["metrics"]["evaluation"]


@pytest.mark.slow
def test_category_models_train_and_cold_start_is_judged_on_newcomers_only(trained):
    print("categories trained", trained["categories_trained"], "skipped", trained["skipped"])

    assert len(trained["categories_trained"]) >= 2
    if trained["newcomer_train_rows"] < COLD_START_MIN_TRAIN_ROWS:
        assert "not enough artisans without sales history" in trained["skipped"][COLD_START_KIND]
    else:
        assert trained["cold_start"]["n_train"] == trained["newcomer_train_rows"]
