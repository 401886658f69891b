from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone


class OutboxStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    # Blocked by the outbound policy (core.messaging): kept, with the reason, never sent.
    SUPPRESSED = "suppressed", "Suppressed"


class SuppressedReason(models.TextChoices):
    UNSUBSCRIBED = "unsubscribed", "Recipient unsubscribed from everything"
    HARD_BOUNCE = "hard_bounce", "Address hard-bounced"
    CHANNEL_OFF = "channel_off", "Recipient chose no email"
    TOPIC_MUTED = "topic_muted", "Recipient muted this topic"
    PERSONAL_CAP = "personal_cap", "Recipient's weekly cap reached"
    GLOBAL_CAP = "global_cap", "Marketplace weekly cap reached"
    RENDER_ERROR = "render_error", "Template failed to render"


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
    topic = models.CharField(max_length=24, blank=True, help_text="The preference topic the category belongs to.")
    exempt = models.BooleanField(default=False, help_text="Operational mail to staff: outside the recipient policy.")
    suppressed_reason = models.CharField(max_length=16, choices=SuppressedReason.choices, blank=True)
    status = models.CharField(max_length=16, choices=OutboxStatus.choices, default=OutboxStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="outbox_due_idx"),
            # Frequency caps count each address's recent messages, whatever case the caller wrote it in.
            models.Index(Lower("to"), "created_at", name="outbox_recipient_recent_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=OutboxStatus.values), name="outbox_known_status"),
            models.CheckConstraint(
                condition=~Q(status=OutboxStatus.SENT) | Q(sent_at__isnull=False), name="outbox_sent_has_time"
            ),
            models.CheckConstraint(
                condition=Q(status=OutboxStatus.SUPPRESSED, suppressed_reason__in=SuppressedReason.values)
                | (~Q(status=OutboxStatus.SUPPRESSED) & Q(suppressed_reason="")),
                name="outbox_suppressed_has_reason",
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
    # Liveness (workflows/pipeline.py): progress renews the heartbeat; the watchdog acts on silence.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    level = models.SmallIntegerField(null=True, blank=True, help_text="The level being run.")
    closed_level = models.SmallIntegerField(
        null=True, blank=True, help_text="The last level whose completion was claimed; a duplicate claim changes nothing."
    )
    redispatches = models.PositiveSmallIntegerField(default=0, help_text="Times the watchdog re-sent a silent level.")

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


# --- Outbound policy (see core.messaging and docs/messaging.md) ------------------------


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    NONE = "none", "No marketing messages (service messages only)"


class ContactPreference(models.Model):
    """How one recipient (buyer or artisan, keyed by email address) wants to hear from Kiln."""

    address = models.EmailField(unique=True, help_text="Lower-case email address; the outbox addresses people by it.")
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.EMAIL)
    muted_topics = models.JSONField(default=list, blank=True, help_text="Topics this person does not want.")
    weekly_cap = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="At most this many messages in any 7 days. Empty = the marketplace cap."
    )
    time_zone = models.CharField(max_length=64, blank=True, help_text="IANA name, e.g. Europe/Paris. Empty = default.")
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    hard_bounced_at = models.DateTimeField(null=True, blank=True)
    bounce_detail = models.CharField(max_length=255, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["address"]
        constraints = [
            models.CheckConstraint(condition=Q(channel__in=Channel.values), name="contact_pref_known_channel"),
            models.CheckConstraint(condition=Q(weekly_cap__isnull=True) | Q(weekly_cap__lte=50), name="contact_pref_cap_range"),
        ]

    def __str__(self):
        return self.address

    def clean(self):
        from core.messaging import preference_validate

        preference_validate(self)


class MessagingPolicy(models.Model):
    """Marketplace-wide rules for every buyer and artisan message (one row)."""

    global_weekly_cap = models.PositiveSmallIntegerField(
        default=4, help_text="No recipient gets more than this many non-essential messages in any 7 days."
    )
    quiet_start_hour = models.PositiveSmallIntegerField(default=21, help_text="Local hour when quiet hours begin.")
    quiet_end_hour = models.PositiveSmallIntegerField(default=8, help_text="Local hour when quiet hours end.")
    default_time_zone = models.CharField(max_length=64, default="UTC", help_text="For recipients without a time zone.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "messaging policy"
        verbose_name_plural = "messaging policy"
        constraints = [
            models.CheckConstraint(condition=Q(pk=1), name="messaging_policy_single_row"),
            models.CheckConstraint(
                condition=Q(quiet_start_hour__lte=23, quiet_end_hour__lte=23), name="messaging_policy_hours_in_day"
            ),
            models.CheckConstraint(condition=Q(global_weekly_cap__gte=1), name="messaging_policy_cap_positive"),
        ]

    def __str__(self):
        return "Messaging policy"

    def clean(self):
        from core.messaging import time_zone_validate

        time_zone_validate(self.default_time_zone, field="default_time_zone")


class MessageTemplate(models.Model):
    """An admin's wording for one message category; without a row the built-in wording is used."""

    category = models.CharField(max_length=40, unique=True)
    subject = models.CharField(max_length=255, help_text="Django template syntax, e.g. {{ recipient.name }}.")
    body = models.TextField(help_text="Django template syntax. The unsubscribe footer is added by Kiln.")
    is_active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["category"]

    def __str__(self):
        return self.category

    def clean(self):
        from core.messaging import template_validate

        template_validate(self)
