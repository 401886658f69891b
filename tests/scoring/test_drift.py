"""Drift of a seller-score model: PSI against its training rows, stored daily for the dashboard's alerts."""

import numpy as np
import pytest

from scoring.drift import PSI_ALERT, active_model_drift, active_models_drift_record, feature_bins, psi, seller_model_drift
from scoring.factories import SellerScoreFactory, trained_seller_model


def test_psi_is_zero_for_the_training_distribution_and_large_for_a_shifted_one():
    import pandas as pd

    rng = np.random.default_rng(0)
    train = pd.DataFrame({"x": rng.normal(size=5000)})
    bins = feature_bins(train, ["x"])["x"]

    assert psi(bins["shares"], bins["edges"], rng.normal(size=5000)) < 0.02
    assert psi(bins["shares"], bins["edges"], rng.normal(loc=1.0, size=5000)) > PSI_ALERT


@pytest.mark.django_db
def test_a_drifted_feature_is_flagged_on_the_card_and_recorded_on_the_active_version():
    version = trained_seller_model()
    shifted = {name: 0.0 for name in version.features}
    shifted["late_rate"] = 0.9  # far beyond anything in the training rows (0 to 0.4)
    for _ in range(30):
        SellerScoreFactory(model_version=version, features=shifted)

    drift = seller_model_drift(version)
    flagged = {row["name"] for row in drift["features"] if row["drifted"]}
    assert "late_rate" in flagged
    assert active_model_drift() is None  # nothing measured yet

    assert active_models_drift_record() == [version.pk]

    recorded = active_model_drift()
    late = next(row for row in drift["features"] if row["name"] == "late_rate")
    assert recorded["version_id"] == version.pk
    assert recorded["scored_rows"] == 30
    assert recorded["max_psi"] >= late["psi"] > PSI_ALERT
    assert "late_rate" in recorded["drifted_features"]
