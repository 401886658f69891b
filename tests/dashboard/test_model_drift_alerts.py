"""The seller-score model's drift and live AUC are KPIs: admins set their thresholds, and a breach
opens one alert and emails the marketplace admins through the existing alert path."""

from datetime import date

import pytest

from core.models import OutboxMessage
from dashboard.models import Alert, AlertStatus, AlertThreshold
from dashboard.report import format_value
from dashboard.tasks import evaluate_alerts_task
from scoring.drift import PSI_ALERT, active_models_drift_record
from scoring.factories import SellerScoreFactory, trained_seller_model

pytestmark = pytest.mark.django_db


def _score_with(version, **features):
    row = {name: 0.0 for name in version.features}
    row.update(features)
    for _ in range(30):
        SellerScoreFactory(model_version=version, features=row)


def test_default_drift_thresholds_are_the_gates_limits():
    assert AlertThreshold.objects.get(kpi="seller_score_drift", condition="above").value == PSI_ALERT
    assert AlertThreshold.objects.get(kpi="seller_score_live_auc", condition="below").value == 0.5


def test_a_drifted_model_opens_one_alert_naming_the_feature_and_emails_the_admins_once():
    AlertThreshold.objects.exclude(kpi="seller_score_drift").update(is_active=False)
    version = trained_seller_model()
    _score_with(version, late_rate=0.9)  # far beyond the training rows (0 to 0.4)
    active_models_drift_record()

    evaluate_alerts_task(as_of=date.today().isoformat())
    evaluate_alerts_task(as_of=date.today().isoformat())

    alert = Alert.objects.get(kpi="seller_score_drift")
    assert alert.status == AlertStatus.OPEN
    assert alert.value > PSI_ALERT
    assert "late_rate" in alert.evidence["extra"]["detail"]
    mail = OutboxMessage.objects.get(subject__startswith="KPI alert: Seller-score input drift")
    assert "late_rate" in mail.body
    assert mail.to  # the marketplace admins' address


def test_a_model_reading_its_own_population_raises_no_drift_alert():
    import numpy as np

    AlertThreshold.objects.exclude(kpi="seller_score_drift").update(is_active=False)
    version = trained_seller_model()
    rng = np.random.default_rng(1)
    rows = [{} for _ in range(300)]
    # Each feature drawn bin by bin with the training rows' own shares: the population it was trained on.
    for name, spec in version.metrics["feature_bins"].items():
        edges = spec["edges"]
        values_per_bin = [edges[0] - 1.0] + list(edges) if edges else [0.0]
        chosen = rng.choice(len(values_per_bin), size=len(rows), p=np.array(spec["shares"]) / sum(spec["shares"]))
        for row, index in zip(rows, chosen):
            row[name] = float(values_per_bin[index])
    for row in rows:
        SellerScoreFactory(model_version=version, features=row)
    active_models_drift_record()

    evaluate_alerts_task(as_of=date.today().isoformat())

    assert not Alert.objects.filter(kpi="seller_score_drift").exists()


def test_without_a_measured_model_the_drift_kpis_are_empty_not_zero():
    AlertThreshold.objects.exclude(kpi__startswith="seller_score_").update(is_active=False)

    evaluate_alerts_task(as_of=date.today().isoformat())

    assert not Alert.objects.exists()
    assert format_value(None, "index") == "–"
    assert format_value(0.734, "index") == "0.73"


def test_every_default_threshold_comes_back_after_a_flush():
    from django.core.management.sql import emit_post_migrate_signal

    AlertThreshold.objects.all().delete()  # what a flush (and a transactional test) leaves

    emit_post_migrate_signal(verbosity=0, interactive=False, db="default")

    kpis = set(AlertThreshold.objects.values_list("kpi", flat=True))
    assert {"cancellation_rate", "underperforming_listing_share", "seller_score_drift", "seller_score_live_auc"} <= kpis
