"""Drift of a seller-score model: PSI against its training rows, and the admins' alert."""

import numpy as np
import pytest

from core.models import OutboxMessage
from scoring.drift import PSI_ALERT, active_seller_models_drift_check, feature_bins, psi, seller_model_drift
from scoring.factories import SellerScoreFactory, trained_seller_model


def test_psi_is_zero_for_the_training_distribution_and_large_for_a_shifted_one():
    import pandas as pd

    rng = np.random.default_rng(0)
    train = pd.DataFrame({"x": rng.normal(size=5000)})
    bins = feature_bins(train, ["x"])["x"]

    assert psi(bins["shares"], bins["edges"], rng.normal(size=5000)) < 0.02
    assert psi(bins["shares"], bins["edges"], rng.normal(loc=1.0, size=5000)) > PSI_ALERT


@pytest.mark.django_db
def test_a_drifted_feature_is_flagged_on_the_card_and_emails_the_admins_once_a_day():
    version = trained_seller_model()
    shifted = {name: 0.0 for name in version.features}
    shifted["late_rate"] = 0.9  # far beyond anything in the training rows (0 to 0.4)
    for _ in range(30):
        SellerScoreFactory(model_version=version, features=shifted)

    drift = seller_model_drift(version)
    flagged = {row["name"] for row in drift["features"] if row["drifted"]}

    assert "late_rate" in flagged
    assert active_seller_models_drift_check() == [version.pk]
    assert active_seller_models_drift_check() == [version.pk]
    mails = OutboxMessage.objects.filter(subject__startswith="Model drift")
    assert mails.count() == 1 and "late_rate has drifted" in mails.get().body
