"""Versioned, validated models: register, activate, roll back, load.

Any area can keep models here under its own ``kind`` (e.g. "seller_score",
"buyer_churn"). Artifacts are serialised with skops and loaded with an explicit
allow-list of types, so loading never unpickles arbitrary bytes.
"""

import functools
import hashlib

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from core.roles import is_marketplace_admin
from scoring.models import ModelStatus, ModelVersion, ModelVersionEvent

# Types outside skops' default trust list that Kiln's estimators legitimately contain.
# Anything else found in an artifact makes loading fail rather than instantiate it.
TRUSTED_TYPES: set[str] = {
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.model_selection._split.StratifiedKFold",
    "sklearn._loss.link.Interval",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
}

# What staff call each kind of model. Kinds are open strings, so each area names its own
# (scoring.training here, retention from its app config); scoring cannot import the areas above it.
MODEL_KIND_LABELS: dict[str, str] = {}


def model_kind_label_register(kind: str, label: str) -> None:
    MODEL_KIND_LABELS[kind] = label


def model_kind_label(kind: str) -> str:
    """A model kind as staff read it ("Seller score"); a kind nobody named reads from its code."""
    return MODEL_KIND_LABELS.get(kind) or kind.replace("_", " ").replace(":", ": ").capitalize()


class ModelArtifactError(Exception):
    """The stored artifact is corrupt or contains types Kiln does not trust."""


def artifact_dump(estimator) -> tuple[bytes, list[str]]:
    # Imported here: skops pulls in all of scikit-learn, which every web process would
    # otherwise pay for at start-up.
    import skops.io as sio

    data = sio.dumps(estimator)
    needed = sorted(sio.get_untrusted_types(data=data))
    unknown = set(needed) - TRUSTED_TYPES
    if unknown:
        raise ModelArtifactError(f"Estimator contains types that are not on the trusted list: {sorted(unknown)}")
    return data, needed


def artifact_load(*, data: bytes, sha256: str | None = None):
    data = bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    if sha256 is not None and digest != sha256:
        raise ModelArtifactError("Artifact checksum does not match; refusing to load it.")
    return _artifact_from_verified_bytes(digest, data)


@functools.lru_cache(maxsize=16)
def _artifact_from_verified_bytes(digest: str, data: bytes):
    """Deserialise once per process and artifact: the nightly pipeline loads the same model for
    every chunk, and the type check plus loading cost ~0.17 s each time. Keyed by the digest of
    the exact bytes, so changed bytes are checked and loaded afresh."""
    import skops.io as sio

    needed = set(sio.get_untrusted_types(data=data))
    unknown = needed - TRUSTED_TYPES
    if unknown:
        raise ModelArtifactError(f"Artifact contains untrusted types: {sorted(unknown)}")
    return sio.loads(data, trusted=sorted(needed))


def _log(version: ModelVersion, action: str, actor=None, note: str = "") -> None:
    ModelVersionEvent.objects.create(version=version, action=action, actor=actor, note=note)


def model_version_register(
    *,
    kind: str,
    estimator,
    features: list[str],
    metrics: dict,
    baseline_metrics: dict,
    window_start,
    window_end,
    seed: int,
    category: str | None = None,
    notes: str = "",
) -> ModelVersion:
    """Store a trained estimator as the next candidate version of its (kind, category) slot."""
    if "roc_auc" not in metrics:
        raise ValidationError({"metrics": "Held-out metrics must include roc_auc."})
    data, trusted = artifact_dump(estimator)
    for _attempt in range(5):
        try:
            with transaction.atomic():
                last = ModelVersion.objects.for_slot(kind=kind, category=category).aggregate(v=Max("version"))["v"]
                version = ModelVersion.objects.create(
                    kind=kind,
                    category=category,
                    version=(last or 0) + 1,
                    window_start=window_start,
                    window_end=window_end,
                    seed=seed,
                    features=list(features),
                    metrics=metrics,
                    baseline_metrics=baseline_metrics,
                    artifact=data,
                    artifact_sha256=hashlib.sha256(data).hexdigest(),
                    trusted_types=trusted,
                    notes=notes,
                )
                _log(version, "registered")
                return version
        except IntegrityError:
            # Another trainer took the same version number; the unique index said so. Try the next one.
            continue
    raise IntegrityError(f"Could not allocate a version number for {kind}/{category or 'global'}.")


def activation_blockers(version: ModelVersion, incumbent: ModelVersion | None) -> list[str]:
    """Why this version may not become active; empty when it may.

    The decision is the gate's (scoring.gate), taken at training time on held-out rows and stored
    on the version with its numbers. It compared the candidate with the incumbent active then;
    if another version has been activated since, that comparison no longer holds.
    """
    report = (version.metrics or {}).get("gate")
    if not report:
        return ["This version has no gate report: it was not judged on held-out data, so it cannot be activated."]
    problems = [f"{check['name']}: {check['detail']}" for check in report.get("checks", []) if not check.get("passed")]
    judged_against = report.get("incumbent_version_id")
    if incumbent is not None and incumbent.pk != version.pk and judged_against != incumbent.pk:
        problems.append(
            f"incumbent: it was judged against {'no active model' if judged_against is None else f'version id {judged_against}'}, "
            f"but v{incumbent.version} is active now; train again to compare with it."
        )
    return problems


def model_version_refusal_record(*, version: ModelVersion, reasons: list[str]) -> None:
    """Keep the gate's refusal in the version's history, beside its stored report."""
    _log(version, "refused", note="; ".join(reasons))


def _ensure_admin(actor) -> None:
    if actor is not None and not is_marketplace_admin(actor):
        raise PermissionDenied("Only marketplace admins may activate or roll back models.")


@transaction.atomic
def model_version_activate(*, version: ModelVersion, actor=None, force: bool = False) -> ModelVersion:
    """Make ``version`` the active model of its slot.

    It must beat the active version and the baseline on held-out ROC AUC, unless an
    admin forces it. ``actor=None`` means Kiln itself (training), which may never force.
    """
    _ensure_admin(actor)
    if force and actor is None:
        raise PermissionDenied("Only an admin may force an activation.")
    # Lock the slot's rows: two concurrent activations must not both retire the same incumbent.
    slot = list(
        ModelVersion.objects.select_for_update().for_slot(kind=version.kind, category=version.category).order_by("pk")
    )
    version = next(v for v in slot if v.pk == version.pk)
    incumbent = next((v for v in slot if v.status == ModelStatus.ACTIVE), None)
    if incumbent is not None and incumbent.pk == version.pk:
        return version
    problems = activation_blockers(version, incumbent)
    if problems and not force:
        raise ValidationError(problems)
    now = timezone.now()
    if incumbent is not None:
        incumbent.status = ModelStatus.RETIRED
        incumbent.retired_at = now
        incumbent.save(update_fields=["status", "retired_at"])
        _log(incumbent, "retired", actor, note=f"replaced by v{version.version}")
    version.status = ModelStatus.ACTIVE
    version.activated_at = now
    version.activated_by = actor
    version.retired_at = None
    version.save(update_fields=["status", "activated_at", "activated_by", "retired_at"])
    _log(version, "forced_activation" if problems else "activated", actor, note="; ".join(problems))
    return version


@transaction.atomic
def model_version_rollback(*, kind: str, category: str | None = None, actor=None) -> ModelVersion:
    """Retire the active version and reinstate the one that was active before it."""
    _ensure_admin(actor)
    slot = list(ModelVersion.objects.select_for_update().for_slot(kind=kind, category=category).order_by("pk"))
    current = next((v for v in slot if v.status == ModelStatus.ACTIVE), None)
    if current is None:
        raise ValidationError(f"No active {kind}/{category or 'global'} model to roll back.")
    previous = max(
        (v for v in slot if v.status == ModelStatus.RETIRED and v.activated_at is not None),
        key=lambda v: v.activated_at,
        default=None,
    )
    if previous is None:
        raise ValidationError(f"{current} has no previously active version to roll back to.")
    now = timezone.now()
    current.status = ModelStatus.RETIRED
    current.retired_at = now
    current.save(update_fields=["status", "retired_at"])
    _log(current, "rolled_back", actor, note=f"back to v{previous.version}")
    previous.status = ModelStatus.ACTIVE
    previous.activated_at = now
    previous.activated_by = actor
    previous.retired_at = None
    previous.save(update_fields=["status", "activated_at", "activated_by", "retired_at"])
    _log(previous, "reactivated", actor, note=f"roll-back from v{current.version}")
    return previous


def model_load(version: ModelVersion):
    return artifact_load(data=version.artifact, sha256=version.artifact_sha256)


def model_load_active(*, kind: str, category: str | None = None):
    """(version, estimator) of the active model of a slot, or (None, None) if there is none.

    The version row is read without its artifact: the nightly pipeline asks once per chunk,
    and fetching the megabytes of an artifact it has already verified and loaded cost a
    fifth of a retention chunk. The bytes are read, checked and loaded only for a version
    (and checksum) this process has not loaded yet.
    """
    version = ModelVersion.objects.for_slot(kind=kind, category=category).active().defer("artifact").first()
    if version is None:
        return None, None
    return version, _estimator_of(version.pk, version.artifact_sha256)


@functools.lru_cache(maxsize=16)
def _estimator_of(version_id: int, sha256: str):
    """The estimator of a version whose bytes matched ``sha256`` (a failed check is not cached)."""
    data = ModelVersion.objects.filter(pk=version_id).values_list("artifact", flat=True).get()
    return artifact_load(data=data, sha256=sha256)
