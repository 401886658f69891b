from datetime import timedelta

import numpy as np
import pytest
import skops.io as sio
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import FunctionTransformer

from scoring import registry
from scoring.gate import gate_evaluate
from scoring.models import ModelStatus, ModelVersion


def _estimator(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(60, 2))
    return LogisticRegression().fit(x, (x[:, 0] > 0).astype(int))


def _gate_report(*, strong: bool, incumbent=None, incumbent_sharper: bool = False, seed: int = 0) -> dict:
    """A real gate decision on made-up held-out rows: a strong candidate reads the latent
    signal closely, a weak one not at all; the incumbent, when there is one, is scored too."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=2000)
    y = (latent + rng.normal(scale=0.7, size=2000)) > 0
    candidate = 1 / (1 + np.exp(-(latent + rng.normal(scale=0.3, size=2000)) if strong else -rng.normal(size=2000)))
    incumbent_scores = None
    if incumbent is not None:
        incumbent_scores = latent + rng.normal(scale=0.05 if incumbent_sharper else 1.5, size=2000)
    report = gate_evaluate(
        y_true=y, candidate=candidate, baselines={"weak signal": latent + rng.normal(scale=2.0, size=2000)},
        incumbent=incumbent_scores, seed=seed,
    )
    return {"evaluation": report.evaluation, "gate": {**report.as_json(), "incumbent_version_id": incumbent.pk if incumbent else None}}


def _register(*, strong=True, incumbent=None, incumbent_sharper=False, category=None, kind="seller_score"):
    now = timezone.now()
    gate = _gate_report(strong=strong, incumbent=incumbent, incumbent_sharper=incumbent_sharper)
    return registry.model_version_register(
        kind=kind,
        estimator=_estimator(),
        features=["a", "b"],
        metrics={"roc_auc": gate["evaluation"]["candidate"]["value"], "brier": 0.2, **gate},
        baseline_metrics={"roc_auc": gate["evaluation"]["comparisons"][0]["value"], "name": "weak signal"},
        window_start=now - timedelta(days=365),
        window_end=now,
        seed=7,
        category=category,
    )


@pytest.mark.django_db
def test_register_numbers_versions_per_kind_and_category():
    first, second = _register(), _register()
    jewelry = _register(category="jewelry")
    churn = _register(kind="buyer_churn")

    assert (first.version, second.version, jewelry.version, churn.version) == (1, 2, 1, 1)
    assert first.status == ModelStatus.CANDIDATE
    assert len(first.artifact_sha256) == 64


@pytest.mark.django_db
def test_load_active_round_trips_the_estimator_without_pickle():
    version = _register()
    registry.model_version_activate(version=version)

    loaded_version, estimator = registry.model_load_active(kind="seller_score")

    assert loaded_version.pk == version.pk
    x = np.array([[1.0, 0.0], [-1.0, 0.0]])
    assert np.allclose(estimator.predict_proba(x), _estimator().predict_proba(x))


@pytest.mark.django_db
def test_a_process_deserialises_each_artifact_once_but_checks_its_bytes_every_time():
    version = _register()

    first, again = registry.model_load(version), registry.model_load(version)
    assert first is again
    version.artifact = bytes(version.artifact)[:-10] + b"0123456789"
    with pytest.raises(registry.ModelArtifactError, match="checksum"):
        registry.model_load(version)


@pytest.mark.django_db
def test_loading_the_active_model_again_reads_only_the_version_row_not_its_artifact():
    version = _register()
    registry.model_version_activate(version=version)
    _, first = registry.model_load_active(kind="seller_score")

    with CaptureQueriesContext(connection) as queries:
        again_version, again = registry.model_load_active(kind="seller_score")

    assert again is first and again_version.pk == version.pk
    assert len(queries) == 1
    assert '"artifact",' not in queries[0]["sql"] and '"artifact" ' not in queries[0]["sql"]
    # A new checksum is a new artifact: its bytes are read and checked again.
    ModelVersion.objects.filter(pk=version.pk).update(artifact_sha256="0" * 64)
    with pytest.raises(registry.ModelArtifactError, match="checksum"):
        registry.model_load_active(kind="seller_score")


@pytest.mark.django_db
def test_load_refuses_artifact_with_untrusted_types():
    data = sio.dumps(FunctionTransformer(func=eval))

    with pytest.raises(registry.ModelArtifactError, match="untrusted"):
        registry.artifact_load(data=data)


@pytest.mark.django_db
def test_load_refuses_tampered_artifact():
    version = _register()
    ModelVersion.objects.filter(pk=version.pk).update(artifact=bytes(version.artifact)[:-10] + b"0123456789")
    version.refresh_from_db()

    with pytest.raises(registry.ModelArtifactError, match="checksum"):
        registry.model_load(version)


@pytest.mark.django_db
def test_activation_refuses_a_model_the_gate_refused_and_says_which_check_failed():
    version = _register(strong=False)

    with pytest.raises(ValidationError, match="floor: AUC") as refused:
        registry.model_version_activate(version=version)

    assert any(m.startswith("best_baseline:") for m in refused.value.messages)
    version.refresh_from_db()
    assert version.status == ModelStatus.CANDIDATE


@pytest.mark.django_db
def test_activation_refuses_a_model_that_falls_behind_the_active_one():
    active = registry.model_version_activate(version=_register())
    weaker = _register(incumbent=active, incumbent_sharper=True)

    with pytest.raises(ValidationError, match="incumbent: AUC"):
        registry.model_version_activate(version=weaker)

    active.refresh_from_db()
    assert active.status == ModelStatus.ACTIVE


@pytest.mark.django_db
def test_activation_replaces_the_incumbent_it_was_judged_against_when_it_holds_its_own():
    active = registry.model_version_activate(version=_register())
    candidate = _register(incumbent=active)

    registry.model_version_activate(version=candidate)

    active.refresh_from_db()
    candidate.refresh_from_db()
    assert (active.status, candidate.status) == (ModelStatus.RETIRED, ModelStatus.ACTIVE)


@pytest.mark.django_db
def test_activation_refuses_a_version_judged_against_another_incumbent_than_the_active_one():
    first = registry.model_version_activate(version=_register())
    judged_against_first = _register(incumbent=first)
    registry.model_version_activate(version=_register(incumbent=first))

    with pytest.raises(ValidationError, match="train again"):
        registry.model_version_activate(version=judged_against_first)


@pytest.mark.django_db
def test_only_admins_may_activate_or_force(support_user, admin_user):
    weak = _register(strong=False)

    with pytest.raises(PermissionDenied):
        registry.model_version_activate(version=weak, actor=support_user, force=True)
    with pytest.raises(PermissionDenied):
        registry.model_version_activate(version=weak, force=True)

    registry.model_version_activate(version=weak, actor=admin_user, force=True)
    weak.refresh_from_db()
    assert weak.status == ModelStatus.ACTIVE
    assert weak.events.filter(action="forced_activation", actor=admin_user).exists()


@pytest.mark.django_db
def test_rollback_reinstates_the_previous_active_version(admin_user, cs_user):
    first = registry.model_version_activate(version=_register())
    second = registry.model_version_activate(version=_register(incumbent=first))

    with pytest.raises(PermissionDenied):
        registry.model_version_rollback(kind="seller_score", actor=cs_user)
    restored = registry.model_version_rollback(kind="seller_score", actor=admin_user)

    second.refresh_from_db()
    assert restored.pk == first.pk
    assert restored.status == ModelStatus.ACTIVE
    assert second.status == ModelStatus.RETIRED


@pytest.mark.django_db
def test_rollback_without_history_is_a_clear_error(admin_user):
    registry.model_version_activate(version=_register())

    with pytest.raises(ValidationError, match="no previously active version"):
        registry.model_version_rollback(kind="seller_score", actor=admin_user)


@pytest.mark.django_db
def test_category_slots_are_independent():
    global_model = registry.model_version_activate(version=_register())
    jewelry = registry.model_version_activate(version=_register(category="jewelry"))

    assert registry.model_load_active(kind="seller_score")[0].pk == global_model.pk
    assert registry.model_load_active(kind="seller_score", category="jewelry")[0].pk == jewelry.pk
    assert registry.model_load_active(kind="seller_score", category="ceramics") == (None, None)
