"""Alert thresholds that admins edit, the alerts they raise, and the daily KPI snapshots."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.formatting import day
from dashboard.kpis import KPIS, format_value, kpi_value_display

KPI_CHOICES = [(key, definition.label) for key, definition in KPIS.items()]


class Condition(models.TextChoices):
    # Each label opens the threshold's sentence ("Return rate is above 5.0%"); see threshold_display.
    ABOVE = "above", "is above"
    BELOW = "below", "is below"
    DROPS_BY = "drops_by", "drops by more than"


def threshold_display(kpi: str, condition: str, value) -> str:
    """A threshold as a sentence in its KPI's unit: "is above 5.0%", "drops by more than 10.0% from the
    previous period" (a drop is always a percentage of the previous period)."""
    limit = None if value is None else float(value)
    if condition == Condition.DROPS_BY:
        return f"{Condition.DROPS_BY.label} {format_value(limit, 'pct')} from the previous period"
    shown = kpi_value_display(kpi, limit)
    return f"{Condition(condition).label} {shown}" if condition in Condition.values else shown


class NotifyTeam(models.TextChoices):
    CUSTOMER_SUCCESS = "customer_success", "Customer success"
    SELLER_SUPPORT = "seller_support", "Seller support"
    MARKETPLACE_ADMIN = "marketplace_admin", "Marketplace admins"


# The largest value a threshold may take per KPI unit; anything beyond cannot be a real signal.
UNIT_LIMITS = {"pct": 100, "days": 365, "money": 1_000_000, "count": 1_000_000, "score": 100, "index": 100}


class AlertThreshold(models.Model):
    kpi = models.CharField(max_length=40, choices=KPI_CHOICES)
    condition = models.CharField(max_length=12, choices=Condition.choices)
    value = models.DecimalField(
        max_digits=10, decimal_places=2,
        help_text="In the KPI's unit (percent, days, money); for a drop, the percent fall from the previous period.",
    )
    window_days = models.PositiveSmallIntegerField(default=30, help_text="Trailing days the KPI is measured over.")
    min_volume = models.PositiveIntegerField(
        default=20, help_text="Skip the check when the KPI's denominator (orders, sellers, buyers) is smaller."
    )
    team = models.CharField(max_length=32, choices=NotifyTeam.choices, help_text="Who is notified.")
    is_active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["kpi", "condition"]
        constraints = [
            models.UniqueConstraint(fields=["kpi", "condition"], name="alert_threshold_one_per_kpi_condition"),
            models.CheckConstraint(condition=Q(condition__in=Condition.values), name="alert_threshold_known_condition"),
            models.CheckConstraint(condition=Q(team__in=NotifyTeam.values), name="alert_threshold_known_team"),
            models.CheckConstraint(condition=Q(window_days__gte=1, window_days__lte=365), name="alert_threshold_window_1_365"),
            models.CheckConstraint(
                condition=~Q(condition="drops_by") | Q(value__gt=0, value__lte=100), name="alert_threshold_drop_pct_range"
            ),
        ]

    def __str__(self):
        return f"{self.get_kpi_display()} {threshold_display(self.kpi, self.condition, self.value)}"

    def clean(self):
        definition = KPIS.get(self.kpi)
        if definition is None or self.value is None:
            return
        if self.condition == Condition.DROPS_BY:
            if not 0 < self.value <= 100:
                raise ValidationError({"value": "A drop is a percentage of the previous period: between 0 and 100."})
            return
        low = -100 if definition.unit == "score" else 0
        high = UNIT_LIMITS[definition.unit]
        if not low <= self.value <= high:
            raise ValidationError({"value": f"{definition.label} thresholds must be between {low} and {high} ({definition.unit})."})


class AlertStatus(models.TextChoices):
    OPEN = "open", "Open"
    RESOLVED = "resolved", "Resolved"


class Alert(models.Model):
    """One breach of a threshold, with the numbers behind it. At most one is open per threshold."""

    threshold = models.ForeignKey(AlertThreshold, on_delete=models.CASCADE, related_name="alerts")
    kpi = models.CharField(max_length=40, choices=KPI_CHOICES)
    status = models.CharField(max_length=10, choices=AlertStatus.choices, default=AlertStatus.OPEN)
    period_start = models.DateField()
    period_end = models.DateField()
    value = models.FloatField(help_text="The KPI in the period that breached.")
    baseline = models.FloatField(null=True, blank=True, help_text="The previous period's value, for drops.")
    threshold_value = models.DecimalField(max_digits=10, decimal_places=2)
    evidence = models.JSONField(default=dict, blank=True)
    cases_opened = models.PositiveIntegerField(default=0)
    opened_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    resolution_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-opened_at"]
        indexes = [models.Index(fields=["status", "opened_at"], name="dashboard_alert_status_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["threshold"], condition=Q(status="open"), name="alert_one_open_per_threshold"
            ),
            models.CheckConstraint(condition=Q(status__in=AlertStatus.values), name="alert_known_status"),
            models.CheckConstraint(
                condition=Q(status="open") | Q(resolved_at__isnull=False), name="alert_resolved_has_time"
            ),
        ]

    def __str__(self):
        # No value here: it needs the KPI's unit, which the pages format (dashboard.report.kpi_value_display).
        return f"{self.get_kpi_display()} alert #{self.pk} ({self.get_status_display().lower()})"


class AlertAction(models.TextChoices):
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    CLOSED = "closed", "Closed"
    RECOVERED = "recovered", "Closed: the KPI recovered"


class AlertEvent(models.Model):
    """What staff (or the nightly check) did with an alert, and why; shown as the alert's history."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="events")
    action = models.CharField(max_length=20, choices=AlertAction.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    note = models.TextField(blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "pk"]
        constraints = [models.CheckConstraint(condition=Q(action__in=AlertAction.values), name="alert_event_known_action")]

    def __str__(self):
        return f"{self.get_action_display()} alert #{self.alert_id}"


class GroupBy(models.TextChoices):
    ALL = "all", "Marketplace"
    CATEGORY = "category", "Category"
    TIER = "tier", "Seller tier"


class KpiSnapshot(models.Model):
    """A KPI over the trailing window ending on ``as_of``, stored daily so trends never recompute history."""

    as_of = models.DateField()
    window_days = models.PositiveSmallIntegerField(default=30)
    kpi = models.CharField(max_length=40, choices=KPI_CHOICES)
    group_by = models.CharField(max_length=10, choices=GroupBy.choices, default=GroupBy.ALL)
    group = models.CharField(max_length=40, default="all")
    value = models.FloatField(null=True, blank=True)
    numerator = models.FloatField(default=0)
    denominator = models.FloatField(default=0)
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-as_of", "kpi"]
        indexes = [models.Index(fields=["kpi", "group_by", "group", "as_of"], name="kpi_snapshot_trend_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=["as_of", "window_days", "kpi", "group_by", "group"], name="kpi_snapshot_unique"
            ),
        ]

    def __str__(self):
        # The change page's title and breadcrumb: "Return rate (category jewelry), 30 days to 3 Dec 2026".
        group = "marketplace" if self.group_by == GroupBy.ALL else f"{self.get_group_by_display().lower()} {self.group}"
        return f"{self.get_kpi_display()} ({group}), {self.window_days} days to {day(self.as_of)}"


class ChartSnapshot(models.Model):
    """A dashboard chart's data as of one day (cohort heatmap, NPS trend, ...)."""

    as_of = models.DateField()
    chart = models.CharField(max_length=40)
    data = models.JSONField()
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-as_of", "chart"]
        constraints = [models.UniqueConstraint(fields=["as_of", "chart"], name="chart_snapshot_unique")]

    def __str__(self):
        return f"{self.chart} as of {day(self.as_of)}"
