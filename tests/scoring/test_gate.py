"""The activation gate's statistics, checked against scikit-learn and against chance."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from scoring.gate import bootstrap_weights, gate_evaluate, weighted_auc


def test_weighted_auc_matches_scikit_learn_with_sample_weights_and_ties():
    rng = np.random.default_rng(3)
    y = rng.random(400) < 0.4
    score = np.round(rng.normal(size=400) + y, 1)  # rounding makes many ties
    weights = bootstrap_weights(400, resamples=5, seed=1)
    ours = weighted_auc(y, score, weights)
    theirs = [roc_auc_score(y, score, sample_weight=w) for w in weights]
    assert np.allclose(ours, theirs)


def test_gate_passes_a_model_that_is_clearly_better_than_every_baseline():
    rng = np.random.default_rng(0)
    quality = rng.normal(size=2000)
    y = (quality + rng.normal(scale=0.5, size=2000)) > 0
    weak = quality + rng.normal(scale=2.0, size=2000)
    strong = 1 / (1 + np.exp(-2 * quality))
    report = gate_evaluate(y_true=y, candidate=strong, baselines={"weak signal": weak, "noise": rng.random(2000)})
    assert report.passed, report.failures
    assert report.evaluation["best_baseline"] == "weak signal"
    assert report.evaluation["comparisons"][0]["diff_ci"][0] > 0


def test_gate_refuses_a_model_no_better_than_the_best_baseline():
    rng = np.random.default_rng(1)
    quality = rng.normal(size=1500)
    y = (quality + rng.normal(size=1500)) > 0
    same_as_baseline = 1 / (1 + np.exp(-quality))
    report = gate_evaluate(y_true=y, candidate=same_as_baseline, baselines={"quality": quality})
    assert not report.passed
    assert any(f.startswith("best_baseline") for f in report.failures)


@pytest.mark.parametrize("seed", range(10))
def test_gate_refuses_noise_in_an_empty_slot(seed):
    rng = np.random.default_rng(seed)
    y = rng.random(600) < 0.6
    report = gate_evaluate(y_true=y, candidate=rng.random(600), baselines={}, seed=seed)
    assert not report.passed
    assert [c.name for c in report.checks if not c.passed][0] == "floor"


def test_gate_refuses_a_clear_regression_against_the_incumbent():
    rng = np.random.default_rng(4)
    quality = rng.normal(size=1500)
    y = (quality + rng.normal(scale=0.7, size=1500)) > 0
    incumbent = 1 / (1 + np.exp(-quality))
    worse = 1 / (1 + np.exp(-(quality + rng.normal(scale=1.5, size=1500))))
    report = gate_evaluate(y_true=y, candidate=worse, baselines={}, incumbent=incumbent)
    failed = {c.name for c in report.checks if not c.passed}
    assert failed == {"incumbent"}


def test_gate_refuses_probabilities_worse_than_the_base_rate():
    rng = np.random.default_rng(5)
    quality = rng.normal(size=1500)
    y = (quality + rng.normal(scale=0.5, size=1500)) > 0
    # Ranks a little (the lowest 2% of quality get 0.01) but calls nearly everyone a sure 0.99.
    overconfident = np.where(quality > -2, 0.99, 0.01)
    report = gate_evaluate(y_true=y, candidate=overconfident, baselines={})
    assert "calibration" in {c.name for c in report.checks if not c.passed}


def test_gate_with_one_outcome_only_refuses_with_a_reason():
    report = gate_evaluate(y_true=np.ones(50), candidate=np.linspace(0, 1, 50), baselines={})
    assert not report.passed
    assert "both outcomes" in report.failures[0]


def test_learned_check_refuses_a_fit_to_shuffled_labels_and_passes_a_real_one():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(8)
    X = rng.normal(size=(3000, 8))
    y = (X[:, 0] + rng.normal(size=3000)) > 0
    real = LogisticRegression().fit(X, y)
    shuffled_y = rng.permutation(y)
    shuffled = LogisticRegression().fit(X, shuffled_y)

    from scoring.gate import learned_from_labels

    assert learned_from_labels(y, real.predict_proba(X)[:, 1], 8)["p_value"] < 1e-6
    assert learned_from_labels(shuffled_y, shuffled.predict_proba(X)[:, 1], 8)["p_value"] > 0.001


@pytest.mark.django_db
def test_training_where_no_feature_fits_its_direction_records_why_and_activates_nothing():
    """Shuffled labels or noise can leave every feature pointing the wrong way: training must then
    say so and carry on, not crash the run (or the gate's self-test) with a traceback."""
    from scoring.factories import _synthetic_frame
    from scoring.features import FEATURE_DIRECTIONS, MODEL_FEATURES
    from scoring.models import ModelVersion
    from scoring.training import KIND, TrainingFrames, seller_score_train

    def against_every_direction(frame):
        return -sum(FEATURE_DIRECTIONS[name] * (frame[name] - frame[name].mean()) / frame[name].std() for name in MODEL_FEATURES)

    rng = np.random.default_rng(5)
    train = _synthetic_frame(rng, 1500, MODEL_FEATURES, against_every_direction)
    holdout = _synthetic_frame(rng, 600, MODEL_FEATURES, against_every_direction)
    frames = TrainingFrames(train=train, holdout=holdout, window=(train["as_of"].iloc[0], holdout["as_of"].iloc[0]))

    result = seller_score_train(seed=1, frames=frames)

    assert result.activated == [] and result.versions == []
    assert result.skipped[KIND] == "No feature could be fitted in its declared direction."
    assert not ModelVersion.objects.exists()
