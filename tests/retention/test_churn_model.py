import pytest

from buyers.churn import NotEnoughHistory, churn_model_train
from buyers.models import BuyerRetention
from buyers.services import retention_recompute
from scoring.models import ModelStatus, ModelVersion
from scoring.registry import model_load_active

from .synthetic import build_marketplace


@pytest.fixture
def market(db):
    return build_marketplace(buyers=400, days=540, seed=11)


def test_churn_classifier_beats_recency_baseline_on_held_out_roc_auc_and_is_registered(market):
    version, report = churn_model_train(as_of=market["now"], seed=0)

    print(f"buyer churn held-out ROC AUC {report['roc_auc']:.3f} vs recency-only {report['baseline_roc_auc']:.3f}")
    assert report["roc_auc"] > report["baseline_roc_auc"]
    stored = ModelVersion.objects.get(pk=version.pk)
    assert stored.kind == "buyer_churn"
    assert stored.metrics["roc_auc"] == pytest.approx(report["roc_auc"], abs=1e-4)
    assert stored.baseline_metrics["roc_auc"] == pytest.approx(report["baseline_roc_auc"], abs=1e-4)
    assert "logins_30d" in stored.features and "feedback_sentiment" in stored.features
    assert stored.status == ModelStatus.ACTIVE


def test_recompute_uses_the_active_churn_model_for_probabilities(market):
    churn_model_train(as_of=market["now"], seed=0)
    active, _ = model_load_active(kind="buyer_churn")

    retention_recompute(as_of=market["now"])

    scored = BuyerRetention.objects.filter(order_count__gt=0)
    assert scored.exists()
    assert set(scored.values_list("churn_model_version", flat=True)) == {f"buyer_churn v{active.version}"}


def test_training_refuses_without_enough_history(db):
    build_marketplace(buyers=10, days=100, seed=3)

    with pytest.raises(NotEnoughHistory):
        churn_model_train()
