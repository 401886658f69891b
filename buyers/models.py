from django.db import models

from core.formatting import day_and_time


class Buyer(models.Model):
    external_id = models.CharField(max_length=64, unique=True, help_text="The storefront's stable ID.")
    name = models.CharField(max_length=200)
    email = models.EmailField()
    joined_at = models.DateTimeField()
    # Ground truth written only by the synthetic generator (see docs/generator.md).
    synthetic_cadence_days = models.FloatField(null=True, blank=True, editable=False)
    synthetic_churned_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        indexes = [models.Index(fields=["email"]), models.Index(fields=["joined_at"])]

    def __str__(self):
        return f"{self.name} ({self.external_id})"


# --- Retention intelligence ---------------------------------------------------------


class Segment(models.TextChoices):
    HIGH_VALUE = "high_value", "High value"
    LAPSING = "lapsing", "Low activity / lapsing"
    POTENTIAL = "potential", "Potential"
    NEW = "new", "New"
    CHURNED = "churned", "Churned"


class ChurnBand(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"


class CadenceState(models.TextChoices):
    NO_PURCHASE = "no_purchase", "No purchase yet"
    EARLY = "early", "Before the window"
    DUE = "due", "In the window"
    OVERDUE = "overdue", "Overdue"


class RetentionSettings(models.Model):
    """Admin-tunable thresholds for segments, churn bands, CLV, cases and holdouts (one row)."""

    new_buyer_days = models.PositiveIntegerField(default=60, help_text="A first purchase within this many days is 'new'.")
    churned_after_days = models.PositiveIntegerField(default=365, help_text="No purchase for this long is 'churned'.")
    churned_p_alive_below = models.FloatField(default=0.15, help_text="BG/NBD P(alive) below this is 'churned'.")
    lapsing_p_alive_below = models.FloatField(default=0.5, help_text="P(alive) below this (or overdue) is 'lapsing'.")
    high_value_min_orders = models.PositiveIntegerField(default=4, help_text="Orders to count as a frequent buyer.")
    high_value_min_clv = models.DecimalField(max_digits=12, decimal_places=2, default=300, help_text="Or a CLV of at least this.")
    churn_band_medium_from = models.FloatField(default=0.3)
    churn_band_high_from = models.FloatField(default=0.6)
    cadence_tolerance = models.FloatField(default=0.5, help_text="Window = cadence x (1 ± tolerance) after the last purchase.")
    clv_horizon_months = models.PositiveSmallIntegerField(default=12)
    annual_discount_rate = models.FloatField(default=0.10)
    holdout_share = models.FloatField(default=0.1, help_text="Share of flagged subjects held out with no case.")
    outcome_window_days = models.PositiveIntegerField(default=90, help_text="A subject is retained if active within this.")
    dormant_drop_ratio = models.FloatField(
        default=0.5, help_text="An artisan is declining when activity falls below this share of the same months last year."
    )
    dormant_late_share_rise = models.FloatField(default=0.15, help_text="Rise in late-shipment share that counts as slipping.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "retention settings"
        verbose_name_plural = "retention settings"
        constraints = [
            models.CheckConstraint(condition=models.Q(pk=1), name="retention_settings_single_row"),
            models.CheckConstraint(
                condition=models.Q(churn_band_medium_from__gte=0, churn_band_medium_from__lt=models.F("churn_band_high_from"), churn_band_high_from__lte=1),
                name="retention_settings_band_order",
            ),
            models.CheckConstraint(condition=models.Q(holdout_share__gte=0, holdout_share__lt=1), name="retention_settings_holdout_share"),
            models.CheckConstraint(
                condition=models.Q(churned_p_alive_below__gte=0, churned_p_alive_below__lte=models.F("lapsing_p_alive_below"), lapsing_p_alive_below__lte=1),
                name="retention_settings_p_alive_order",
            ),
            models.CheckConstraint(condition=models.Q(cadence_tolerance__gt=0, cadence_tolerance__lt=1), name="retention_settings_tolerance"),
            models.CheckConstraint(condition=models.Q(annual_discount_rate__gte=0, annual_discount_rate__lt=1), name="retention_settings_discount"),
            models.CheckConstraint(condition=models.Q(dormant_drop_ratio__gt=0, dormant_drop_ratio__lt=1), name="retention_settings_drop_ratio"),
        ]

    def __str__(self):
        return "Retention settings"


class FitKind(models.TextChoices):
    # The value stays "bgnbd" for existing rows; the fit's ``model`` says which count model won.
    BGNBD = "bgnbd", "Purchase count (BG/NBD family)"
    GAMMA_GAMMA = "gamma_gamma", "Gamma-Gamma (spend)"


class FitStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SUPERSEDED = "superseded", "Superseded"
    # Failed covers a fit that did not converge and one with too few buyers to run; the list says which.
    FAILED = "failed", "Failed, not used"


class LifetimeFit(models.Model):
    """One maximum-likelihood fit of a customer-base model; failures are kept for the record."""

    kind = models.CharField(max_length=16, choices=FitKind.choices)
    status = models.CharField(max_length=16, choices=FitStatus.choices)
    model = models.CharField(
        max_length=16, blank=True, help_text="bgnbd, mbgnbd or mbgcnbd (chosen by held-out error), gamma_gamma, or rule."
    )
    params = models.JSONField(default=dict)
    evaluation = models.JSONField(
        default=dict, blank=True, help_text="Calibration/holdout errors of every candidate, the choice, and CLV against realised spend."
    )
    log_likelihood = models.FloatField(null=True, blank=True)
    n_buyers = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True)
    observation_end = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["kind"], condition=models.Q(status="active"), name="lifetime_fit_one_active_per_kind"),
            models.CheckConstraint(condition=models.Q(kind__in=FitKind.values), name="lifetime_fit_known_kind"),
            models.CheckConstraint(condition=models.Q(status__in=FitStatus.values), name="lifetime_fit_known_status"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} fit of {day_and_time(self.created_at)} ({self.get_status_display().lower()})"

    @property
    def outcome(self) -> str:
        """How the fit ended, in plain words; the optimiser's own message stays in ``message``.

        A base too small to fit is recorded as a failed fit with the cadence rule (or, for spend, no
        model) in ``model``: nothing was optimised, so it neither converged nor failed to.
        """
        if self.status == FitStatus.FAILED:
            return "Not fitted: too few buyers" if self.model in ("rule", "") else "Did not converge"
        return "Converged"


class BuyerRetention(models.Model):
    """The latest retention picture of one buyer, rewritten by each recompute."""

    buyer = models.OneToOneField(Buyer, on_delete=models.CASCADE, primary_key=True, related_name="retention")
    computed_at = models.DateTimeField()
    order_count = models.PositiveIntegerField(default=0)
    frequency = models.PositiveIntegerField(default=0, help_text="Repeat purchase days (BG/NBD x).")
    recency_days = models.FloatField(default=0, help_text="First to last purchase (BG/NBD t_x).")
    age_days = models.FloatField(default=0, help_text="First purchase to now (BG/NBD T).")
    days_since_last_order = models.FloatField(null=True, blank=True)
    total_spend = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    average_order_value = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    first_order_at = models.DateTimeField(null=True, blank=True)
    last_order_at = models.DateTimeField(null=True, blank=True)
    p_alive = models.FloatField(default=0)
    expected_purchases_90d = models.FloatField(default=0)
    expected_order_value = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    clv = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    churn_probability = models.FloatField(default=0)
    churn_band = models.CharField(max_length=8, choices=ChurnBand.choices, default=ChurnBand.LOW)
    churn_model_version = models.CharField(max_length=64, blank=True, help_text="Empty: 1 - P(alive) was used.")
    lifetime_model = models.CharField(
        max_length=64, blank=True, help_text="The model and fit behind P(alive), expected purchases and CLV, or the rule."
    )
    cadence_days = models.FloatField(null=True, blank=True, help_text="Typical days between purchases.")
    cadence_is_estimated = models.BooleanField(default=False, help_text="Too few purchases: the marketplace median was used.")
    next_purchase_from = models.DateTimeField(null=True, blank=True)
    next_purchase_to = models.DateTimeField(null=True, blank=True)
    cadence_state = models.CharField(max_length=16, choices=CadenceState.choices, default=CadenceState.NO_PURCHASE)
    segment = models.CharField(max_length=16, choices=Segment.choices, default=Segment.NEW)
    segment_since = models.DateTimeField(null=True, blank=True)
    top_seller = models.ForeignKey("sellers.Seller", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    recommended_seller_ids = models.JSONField(default=list, blank=True)
    recommended_listing_ids = models.JSONField(default=list, blank=True)
    reasons = models.JSONField(default=list, blank=True, help_text="Why the segment and churn band were given.")

    class Meta:
        indexes = [
            models.Index(fields=["segment", "churn_band"]),
            models.Index(fields=["cadence_state"]),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(p_alive__gte=0, p_alive__lte=1), name="buyer_retention_p_alive_probability"),
            models.CheckConstraint(
                condition=models.Q(churn_probability__gte=0, churn_probability__lte=1), name="buyer_retention_churn_probability"
            ),
            models.CheckConstraint(condition=models.Q(segment__in=Segment.values), name="buyer_retention_known_segment"),
            models.CheckConstraint(condition=models.Q(churn_band__in=ChurnBand.values), name="buyer_retention_known_band"),
            models.CheckConstraint(condition=models.Q(cadence_state__in=CadenceState.values), name="buyer_retention_known_cadence"),
            models.CheckConstraint(condition=models.Q(clv__gte=0, expected_purchases_90d__gte=0), name="buyer_retention_non_negative"),
        ]

    def __str__(self):
        return f"{self.buyer.name}: {self.get_segment_display()}"


class BuyerSegmentChange(models.Model):
    """Append-only history of segment moves."""

    buyer = models.ForeignKey(Buyer, on_delete=models.CASCADE, related_name="segment_changes")
    from_segment = models.CharField(max_length=16, choices=Segment.choices, blank=True)
    to_segment = models.CharField(max_length=16, choices=Segment.choices)
    changed_at = models.DateTimeField()

    class Meta:
        ordering = ["-changed_at", "-pk"]
        indexes = [models.Index(fields=["buyer", "changed_at"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(to_segment__in=Segment.values), name="segment_change_known_segment"),
            models.CheckConstraint(condition=~models.Q(from_segment=models.F("to_segment")), name="segment_change_is_a_change"),
        ]

    def __str__(self):
        return f"{self.buyer_id}: {self.from_segment or '—'} → {self.to_segment}"


class CampaignAudience(models.Model):
    """An admin-defined group of buyers to contact; empty filter lists mean 'any'."""

    name = models.CharField(max_length=120, unique=True)
    segments = models.JSONField(default=list, blank=True)
    churn_bands = models.JSONField(default=list, blank=True)
    cadence_states = models.JSONField(default=list, blank=True)
    points_expiring_within_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Only buyers with points expiring within this many days (needs loyalty)."
    )
    created_by = models.ForeignKey("auth.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class InterventionArm(models.TextChoices):
    TREATED = "treated", "Treated (case opened)"
    HOLDOUT = "holdout", "Held out (no case)"


class InterventionAssignment(models.Model):
    """A subject flagged for an intervention and the arm it was randomised into.

    While an assignment is open (outcome window not over) the subject keeps its arm, so a
    held-out buyer flagged again tomorrow still gets no case.
    """

    kind = models.CharField(max_length=32, help_text="The case kind (buyer_churn_risk, seller_dormant).")
    buyer = models.ForeignKey(Buyer, on_delete=models.CASCADE, null=True, blank=True, related_name="interventions")
    seller = models.ForeignKey("sellers.Seller", on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    arm = models.CharField(max_length=8, choices=InterventionArm.choices)
    flagged_at = models.DateTimeField()
    window_ends_at = models.DateTimeField()
    case = models.ForeignKey("casework.Case", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    evidence = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-flagged_at"]
        indexes = [models.Index(fields=["kind", "arm", "window_ends_at"])]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(buyer__isnull=False) & models.Q(seller__isnull=True))
                | (models.Q(buyer__isnull=True) & models.Q(seller__isnull=False)),
                name="intervention_exactly_one_subject",
            ),
            models.CheckConstraint(condition=models.Q(arm__in=InterventionArm.values), name="intervention_known_arm"),
            models.CheckConstraint(condition=models.Q(window_ends_at__gt=models.F("flagged_at")), name="intervention_window_after_flag"),
            # One assignment per kind, subject and flag day: re-running a recompute is a no-op.
            models.UniqueConstraint(fields=["kind", "buyer", "flagged_at"], name="intervention_unique_buyer_flag"),
            models.UniqueConstraint(fields=["kind", "seller", "flagged_at"], name="intervention_unique_seller_flag"),
        ]

    def __str__(self):
        return f"{self.kind} {self.arm} {self.buyer_id or self.seller_id}"


class SellerDormancy(models.Model):
    """The latest dormancy check of one artisan (computed by retention.dormancy)."""

    seller = models.OneToOneField("sellers.Seller", on_delete=models.CASCADE, primary_key=True, related_name="dormancy")
    computed_at = models.DateTimeField()
    is_flagged = models.BooleanField(default=False)
    in_off_season = models.BooleanField(default=False)
    signals = models.JSONField(default=dict, blank=True)
    explanation = models.TextField(blank=True)

    class Meta:
        verbose_name_plural = "seller dormancy"
        indexes = [models.Index(fields=["is_flagged"])]

    def __str__(self):
        return f"{self.seller_id}: {'flagged' if self.is_flagged else 'ok'}"


class QueueOrder(models.TextChoices):
    RISK = "risk", "Highest risk first"
    UPLIFT = "uplift", "Highest expected uplift first"


class UpliftTargeting(models.Model):
    """How staff's queue of one case kind is ordered; admins switch a kind to uplift ordering.

    Uplift ordering needs an active uplift model for the kind (retention/uplift.py); without one the
    queue stays in risk order.
    """

    kind = models.CharField(max_length=32, unique=True, help_text="The case kind whose queue this orders.")
    order_by = models.CharField(max_length=8, choices=QueueOrder.choices, default=QueueOrder.RISK)
    updated_by = models.ForeignKey("auth.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "uplift targeting"
        verbose_name_plural = "uplift targeting"
        constraints = [models.CheckConstraint(condition=models.Q(order_by__in=QueueOrder.values), name="uplift_targeting_known_order")]

    def __str__(self):
        return f"{self.kind}: {self.get_order_by_display().lower()}"
