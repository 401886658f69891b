"""The churn trainer's contract. Its quality is measured across seeds by bench/models_retention.py
(docs/models-retention.md); a single small marketplace here only checks what must hold on any seed."""

import pytest

from retention.churn import BASELINE_P_ALIVE, BASELINE_RECENCY, CALIBRATION_BINS, NotEnoughHistory, churn_model_train
from retention.features import CHURN_FEATURES
from buyers.models import BuyerRetention
from retention.services import retention_recompute
from scoring.models import ModelStatus, ModelVersion

from tests.buyers.synthetic import build_marketplace


@pytest.fixture
def market(db):
    return build_marketplace(buyers=400, days=540, seed=11)


def test_training_registers_a_version_carrying_the_model_card_metrics(market):
    version, report = churn_model_train(as_of=market["now"], seed=0)

    stored = ModelVersion.objects.get(pk=version.pk)
    metrics = stored.metrics
    assert stored.kind == "buyer_churn" and stored.features == CHURN_FEATURES
    assert metrics["roc_auc"] == report["roc_auc"] == metrics["evaluation"]["candidate"]["value"]
    evaluation = metrics["evaluation"]
    assert evaluation["metric"] == "roc_auc" and evaluation["n_holdout"] == metrics["n_test"]
    assert {c["name"] for c in evaluation["comparisons"]} == {BASELINE_RECENCY, BASELINE_P_ALIVE}
    for comparison in evaluation["comparisons"]:
        low, high = comparison["diff_ci"]
        assert low <= comparison["diff"] <= high
    assert {row["bin"] for row in metrics["calibration"]} <= {f"{b / 10:.1f}-{(b + 1) / 10:.1f}" for b in range(CALIBRATION_BINS)}
    assert all(row["count"] > 0 and 0 <= row["mean_predicted"] <= 1 for row in metrics["calibration"])
    assert sum(row["count"] for row in metrics["calibration"]) == metrics["n_test"]
    assert {row["name"] for row in metrics["feature_table"]} == set(CHURN_FEATURES)
    assert {row["kind"] for row in metrics["feature_table"]} == {"importance"}
    assert {row["direction"] for row in metrics["feature_table"]} <= {"+", "-", None}
    assert stored.baseline_metrics["roc_auc"] == max(c["value"] for c in evaluation["comparisons"])
    assert {check["name"] for check in metrics["gate"]["checks"]} >= {"floor", "best_baseline", "calibration", "learned"}


def test_a_version_becomes_active_exactly_when_the_shared_gate_passes(market):
    version, report = churn_model_train(as_of=market["now"], seed=0)

    stored = ModelVersion.objects.get(pk=version.pk)
    if report["gate"]["passed"]:
        assert stored.status == ModelStatus.ACTIVE and report["activated"]
    else:
        assert stored.status == ModelStatus.CANDIDATE and report["activation_refused"]


def test_recompute_uses_the_active_churn_model_and_names_it_on_every_row(market):
    version, _ = churn_model_train(as_of=market["now"], seed=0, activate=False)
    # Activation itself is the gate's business (test above); here the version is simply made active.
    ModelVersion.objects.filter(pk=version.pk).update(status=ModelStatus.ACTIVE)

    retention_recompute(as_of=market["now"])

    scored = BuyerRetention.objects.filter(order_count__gt=0)
    assert scored.exists()
    assert set(scored.values_list("churn_model_version", flat=True)) == {f"buyer_churn v{version.version}"}
    assert all(0.0 <= p <= 1.0 for p in scored.values_list("churn_probability", flat=True))
    assert "" not in set(scored.values_list("lifetime_model", flat=True))


def test_training_refuses_without_enough_history(db):
    build_marketplace(buyers=10, days=100, seed=3)

    with pytest.raises(NotEnoughHistory):
        churn_model_train()


def test_the_churn_version_renders_on_the_shared_model_card(market, client, admin_user):
    from django.urls import reverse

    version, _ = churn_model_train(as_of=market["now"], seed=0)
    client.force_login(admin_user)

    page = client.get(reverse("admin:scoring_modelversion_change", args=[version.pk]))

    assert page.status_code == 200
    body = page.content.decode()
    assert BASELINE_RECENCY in body and BASELINE_P_ALIVE in body
    assert "days_since_last_order" in body
