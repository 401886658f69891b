"""The model registry and the seller scores it produces."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.formatting import day, day_and_time
from sellers.models import category_label


class ModelStatus(models.TextChoices):
    CANDIDATE = "candidate", "Candidate"
    ACTIVE = "active", "Active"
    RETIRED = "retired", "Retired"


class ModelVersionQuerySet(models.QuerySet):
    def for_slot(self, *, kind: str, category: str | None = None):
        queryset = self.filter(kind=kind)
        return queryset.filter(category__isnull=True) if category is None else queryset.filter(category=category)

    def active(self):
        return self.filter(status=ModelStatus.ACTIVE)


class ModelVersion(models.Model):
    """One trained model. A (kind, category) slot has at most one active version.

    ``kind`` is an open string ("seller_score", "buyer_churn", ...) so any area can
    register its own models; ``category`` is NULL for the global model of a kind.
    """

    kind = models.CharField(max_length=40, db_index=True)
    category = models.CharField(max_length=40, null=True, blank=True)
    version = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=ModelStatus.choices, default=ModelStatus.CANDIDATE)
    trained_at = models.DateTimeField(default=timezone.now)
    window_start = models.DateTimeField(help_text="First moment of the training data.")
    window_end = models.DateTimeField(help_text="Last moment of the training data (held-out period included).")
    seed = models.IntegerField()
    features = models.JSONField(help_text="Ordered feature names the estimator expects.")
    metrics = models.JSONField(help_text="Held-out metrics: roc_auc, brier, calibration table, ...")
    baseline_metrics = models.JSONField(help_text="The naive baseline's metrics on the same held-out set.")
    artifact = models.BinaryField(help_text="The estimator serialised with skops (never pickle).")
    artifact_format = models.CharField(max_length=16, default="skops")
    artifact_sha256 = models.CharField(max_length=64)
    trusted_types = models.JSONField(default=list, help_text="The types the artifact may instantiate when loaded.")
    activated_at = models.DateTimeField(null=True, blank=True)
    activated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    retired_at = models.DateTimeField(null=True, blank=True)
    notes = models.TextField(blank=True)

    objects = ModelVersionQuerySet.as_manager()

    class Meta:
        ordering = ["kind", "category", "-version"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=ModelStatus.values), name="model_version_known_status"),
            models.CheckConstraint(condition=Q(window_end__gte=models.F("window_start")), name="model_version_window_order"),
            # NULL categories are distinct in a plain unique index, so the global slot gets its own partial index.
            models.UniqueConstraint(
                fields=["kind", "version"], condition=Q(category__isnull=True), name="model_version_unique_global"
            ),
            models.UniqueConstraint(
                fields=["kind", "category", "version"],
                condition=Q(category__isnull=False),
                name="model_version_unique_category",
            ),
            # The database guarantees one active model per slot, even if two admins activate at once.
            models.UniqueConstraint(
                fields=["kind"],
                condition=Q(status=ModelStatus.ACTIVE, category__isnull=True),
                name="model_version_one_active_global",
            ),
            models.UniqueConstraint(
                fields=["kind", "category"],
                condition=Q(status=ModelStatus.ACTIVE, category__isnull=False),
                name="model_version_one_active_category",
            ),
        ]

    def __str__(self):
        """As staff read it ("Seller score model, version 3"): admin columns, filters and case evidence show this."""
        # Imported here: the registry imports this module, and kinds are named there by the apps that own them.
        from scoring.registry import model_kind_label

        slot = f" ({category_label(self.category)})" if self.category else ""
        return f"{model_kind_label(self.kind)} model{slot}, version {self.version}"

    @property
    def roc_auc(self):
        return (self.metrics or {}).get("roc_auc")

    @property
    def baseline_roc_auc(self):
        return (self.baseline_metrics or {}).get("roc_auc")


class ModelVersionEvent(models.Model):
    """Append-only audit of registrations, activations and roll-backs."""

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=20)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    note = models.TextField(blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self):
        return f"{self.action} {self.version}"


class RunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    DONE = "done", "Done"


class ScoreRun(models.Model):
    """One recompute of many sellers, split into chunks that each commit on their own."""

    as_of = models.DateTimeField()
    trigger = models.CharField(max_length=20, default="nightly")
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.RUNNING)
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    sellers_scored = models.PositiveIntegerField(default=0)
    # Category averages and seasonal curve of the whole population at as_of, computed once per run.
    population = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=RunStatus.values), name="score_run_known_status"),
            models.CheckConstraint(condition=Q(chunks_done__lte=models.F("chunks_total")), name="score_run_done_le_total"),
        ]

    def __str__(self):
        # Named as score history rows name their run ("Score run #12"), in the site's time zone.
        return f"Score run #{self.pk} as of {day_and_time(self.as_of)} ({self.get_status_display().lower()})"


class ScoreRunChunk(models.Model):
    """Marks a chunk of a run as written. Created in the same transaction as its scores,
    so a chunk is either fully written and marked, or not at all; a redelivered chunk is skipped."""

    run = models.ForeignKey(ScoreRun, on_delete=models.CASCADE, related_name="chunks")
    first_seller_id = models.BigIntegerField()
    last_seller_id = models.BigIntegerField()
    sellers_scored = models.PositiveIntegerField(default=0)
    finished_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "first_seller_id"], name="score_chunk_once")]

    def __str__(self):
        return f"Run {self.run_id} sellers {self.first_seller_id}-{self.last_seller_id}"


class ScoreBasis(models.TextChoices):
    MODEL = "model", "Scored by the seller model"
    COLD_START_MODEL = "cold_start_model", "Scored by the new-artisan model"
    NOT_ENOUGH_HISTORY = "not_enough_history", "Not enough history to score"
    NO_MODEL = "no_model", "No validated model is active"


class SellerScore(models.Model):
    """The current score of one artisan, with the reasons staff and the artisan see.

    ``score`` is empty when no validated model can speak for the artisan (``basis`` says why);
    onboarding then routes by policy instead of by a made-up number.
    """

    seller = models.OneToOneField("sellers.Seller", on_delete=models.CASCADE, primary_key=True, related_name="score")
    score = models.PositiveSmallIntegerField(null=True, blank=True)
    probability = models.FloatField(null=True, blank=True, help_text="Calibrated probability of staying active and in good standing.")
    basis = models.CharField(max_length=20, choices=ScoreBasis.choices, default=ScoreBasis.MODEL)
    reasons = models.JSONField(default=list, help_text='[{"text": ..., "contribution": signed points}, ...]')
    model_version = models.ForeignKey(ModelVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    cold_start = models.BooleanField(default=False, help_text="Scored from application data and category priors only.")
    features = models.JSONField(default=dict)
    computed_at = models.DateTimeField()
    run = models.ForeignKey(ScoreRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        indexes = [models.Index(fields=["score"])]
        constraints = [
            models.CheckConstraint(condition=Q(score__gte=0, score__lte=100), name="seller_score_0_to_100"),
            models.CheckConstraint(condition=Q(probability__gte=0, probability__lte=1), name="seller_score_probability"),
        ]

    def __str__(self):
        return f"{self.seller.name}: {self.score if self.score is not None else 'not scored'}"


class SellerScoreHistory(models.Model):
    """Every score ever given, so staff can see the trend. One row per seller per run."""

    seller = models.ForeignKey("sellers.Seller", on_delete=models.CASCADE, related_name="score_history")
    score = models.PositiveSmallIntegerField(null=True, blank=True)
    probability = models.FloatField(null=True, blank=True)
    basis = models.CharField(max_length=20, choices=ScoreBasis.choices, default=ScoreBasis.MODEL)
    reasons = models.JSONField(default=list)
    model_version = models.ForeignKey(ModelVersion, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    computed_at = models.DateTimeField()
    # "run:<id>" for recomputes, "single:<uuid>" for one-off rescores; re-running a chunk is a no-op.
    run_key = models.CharField(max_length=64)

    class Meta:
        ordering = ["-computed_at"]
        verbose_name_plural = "seller score history"
        indexes = [models.Index(fields=["seller", "computed_at"])]
        constraints = [
            models.UniqueConstraint(fields=["seller", "run_key"], name="score_history_once_per_run"),
            models.CheckConstraint(condition=Q(score__gte=0, score__lte=100), name="score_history_0_to_100"),
        ]

    def __str__(self):
        score = "not scored" if self.score is None else f"score {self.score}"
        return f"{self.seller.name}: {score}, {day(self.computed_at)}"
