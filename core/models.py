from django.db import models
from django.db.models import Q
from django.utils import timezone


class OutboxStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class OutboxMessage(models.Model):
    """An email or notification to send, written in the same transaction as its cause.

    If the mail server is down the row stays and is retried; nothing is lost and,
    because sending first claims the row, nothing is sent twice by two workers.
    """

    dedupe_key = models.CharField(
        max_length=200, unique=True, help_text="Identifies the cause, so the same notice is never queued twice."
    )
    to = models.CharField(max_length=254)
    subject = models.CharField(max_length=255)
    body = models.TextField()
    category = models.CharField(max_length=40, help_text="e.g. workshop_invitation, points_expiry, kpi_alert")
    status = models.CharField(max_length=16, choices=OutboxStatus.choices, default=OutboxStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="outbox_due_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=OutboxStatus.values), name="outbox_known_status"),
            models.CheckConstraint(
                condition=~Q(status=OutboxStatus.SENT) | Q(sent_at__isnull=False), name="outbox_sent_has_time"
            ),
        ]

    def __str__(self):
        return f"{self.category} to {self.to} ({self.status})"


class RunStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped (another run held the lease)"


class PipelineRun(models.Model):
    """One run of the nightly recompute, with its stages below it."""

    trigger = models.CharField(max_length=20, default="manual")
    as_of = models.DateTimeField()
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.PENDING)
    chunk_size = models.PositiveIntegerField()
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]

    def __str__(self):
        return f"Pipeline run #{self.pk} ({self.status})"

    @property
    def duration_seconds(self):
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class PipelineStageRun(models.Model):
    run = models.ForeignKey(PipelineRun, on_delete=models.CASCADE, related_name="stages")
    name = models.CharField(max_length=40)
    level = models.PositiveSmallIntegerField(help_text="Stages of one level run in parallel.")
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.PENDING)
    chunks_total = models.PositiveIntegerField(default=0)
    rows = models.BigIntegerField(default=0)
    peak_rss_mb = models.FloatField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["level", "name"]
        constraints = [models.UniqueConstraint(fields=["run", "name"], name="pipeline_stage_unique_per_run")]

    def __str__(self):
        return f"{self.name} ({self.status})"

    @property
    def duration_seconds(self):
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class PipelineChunk(models.Model):
    """One key range of one stage. Done chunks are skipped when a stage is retried or redelivered."""

    stage = models.ForeignKey(PipelineStageRun, on_delete=models.CASCADE, related_name="chunks")
    lo = models.BigIntegerField()
    hi = models.BigIntegerField()
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    rows = models.BigIntegerField(default=0)
    peak_rss_mb = models.FloatField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["lo"]
        constraints = [
            models.UniqueConstraint(fields=["stage", "lo"], name="pipeline_chunk_unique_range"),
            models.CheckConstraint(condition=Q(hi__gte=models.F("lo")), name="pipeline_chunk_range_ordered"),
        ]


class PipelineLease(models.Model):
    """A named lease: at most one pipeline run holds it until it finishes or the lease expires."""

    name = models.CharField(max_length=40, unique=True)
    holder = models.ForeignKey(PipelineRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    expires_at = models.DateTimeField(default=timezone.now)
