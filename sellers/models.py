from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from casework.models import Case
from core import formatting


class CraftCategory(models.TextChoices):
    JEWELRY = "jewelry", "Jewelry"
    HOME_DECOR = "home_decor", "Home décor"
    CERAMICS = "ceramics", "Ceramics"
    SEASONAL_ORNAMENTS = "seasonal_ornaments", "Seasonal ornaments"
    TEXTILES = "textiles", "Textiles"
    WOODWORK = "woodwork", "Woodwork"
    PAPER_GOODS = "paper_goods", "Paper goods"


def category_label(value) -> str:
    """A stored category code as staff read it ("Textiles"), for columns that keep the code without choices."""
    return CraftCategory(value).label if value in CraftCategory.values else str(value)


class OnboardingStatus(models.TextChoices):
    APPLIED = "applied", "Applied"
    CALL_PENDING = "call_pending", "Onboarding call pending"
    MANUAL_REVIEW = "manual_review", "Manual review"
    INFO_REQUESTED = "info_requested", "More information requested"
    WORKSHOP_PENDING = "workshop_pending", "Workshop pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class Seller(models.Model):
    """An artisan who sells on the marketplace."""

    external_id = models.CharField(max_length=64, unique=True, help_text="The storefront's stable ID.")
    name = models.CharField(max_length=200)
    email = models.EmailField()
    phone = models.CharField(max_length=40, blank=True)
    craft_category = models.CharField(max_length=32, choices=CraftCategory.choices, db_index=True)
    is_seasonal = models.BooleanField(default=False, help_text="Sells mostly in one season (e.g. Q4 ornaments).")
    years_experience = models.PositiveSmallIntegerField(default=0, help_text="From the application form.")
    has_portfolio = models.BooleanField(default=False, help_text="From the application form.")
    onboarding_status = models.CharField(
        max_length=20, choices=OnboardingStatus.choices, default=OnboardingStatus.APPLIED, db_index=True
    )
    applied_at = models.DateTimeField()
    approved_at = models.DateTimeField(null=True, blank=True)
    onboarded_at = models.DateTimeField(null=True, blank=True, help_text="All required onboarding steps done.")
    rejected_at = models.DateTimeField(null=True, blank=True)
    # Ground truth written only by the synthetic generator, so models can be judged against it.
    # Never used as a scoring feature.
    synthetic_quality = models.FloatField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        indexes = [
            models.Index(fields=["email"]),
            models.Index(fields=["onboarding_status", "applied_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(approved_at__isnull=True) | Q(approved_at__gte=F("applied_at")),
                name="seller_approved_after_applied",
            ),
            models.CheckConstraint(
                condition=Q(onboarded_at__isnull=True) | Q(onboarded_at__gte=F("applied_at")),
                name="seller_onboarded_after_applied",
            ),
            models.CheckConstraint(
                condition=Q(rejected_at__isnull=True) | Q(rejected_at__gte=F("applied_at")),
                name="seller_rejected_after_applied",
            ),
            models.CheckConstraint(
                condition=Q(craft_category__in=CraftCategory.values), name="seller_known_category"
            ),
            models.CheckConstraint(
                condition=Q(onboarding_status__in=OnboardingStatus.values), name="seller_known_onboarding_status"
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.external_id})"


class Listing(models.Model):
    seller = models.ForeignKey(Seller, on_delete=models.CASCADE, related_name="listings")
    external_id = models.CharField(max_length=64, unique=True)
    title = models.CharField(max_length=200)
    category = models.CharField(max_length=32, choices=CraftCategory.choices)
    price = models.DecimalField(max_digits=10, decimal_places=2)
    # NULL means the artisan does not track stock (made to order).
    stock_quantity = models.IntegerField(null=True, blank=True)
    stock_updated_at = models.DateTimeField(null=True, blank=True)
    is_seasonal = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["title"]
        indexes = [
            models.Index(fields=["seller", "is_active"]),
            models.Index(fields=["category"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="listing_price_non_negative"),
            models.CheckConstraint(
                condition=Q(stock_quantity__isnull=True) | Q(stock_quantity__gte=0),
                name="listing_stock_non_negative",
            ),
            models.CheckConstraint(condition=Q(category__in=CraftCategory.values), name="listing_known_category"),
        ]

    def __str__(self):
        return self.title


# --- Tiered onboarding ---------------------------------------------------------------------


class RiskTier(models.TextChoices):
    LOW = "low", "Low risk"
    MID = "mid", "Mid risk"
    HIGH = "high", "High risk"


class OnboardingPolicy(models.Model):
    """The score bands that route new applications. Admins edit them; exactly one is active.

    Bands are inclusive integer ranges that together cover 0-100 with no gap or overlap:
    high risk at the bottom, mid in the middle, low risk at the top.
    """

    name = models.CharField(max_length=100)
    is_active = models.BooleanField(default=False)
    high_min = models.PositiveSmallIntegerField(default=0)
    high_max = models.PositiveSmallIntegerField(default=29)
    mid_min = models.PositiveSmallIntegerField(default=30)
    mid_max = models.PositiveSmallIntegerField(default=69)
    low_min = models.PositiveSmallIntegerField(default=70)
    low_max = models.PositiveSmallIntegerField(default=100)
    unscored_tier = models.CharField(
        max_length=8,
        choices=RiskTier.choices,
        default=RiskTier.MID,
        help_text="Route for an applicant no validated model can score yet (not enough history): "
        "by default a virtual onboarding call.",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "onboarding policies"
        ordering = ["-is_active", "-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["is_active"], condition=Q(is_active=True), name="onboarding_one_active_policy"),
            models.CheckConstraint(
                condition=Q(high_min=0)
                & Q(high_max__gte=F("high_min"))
                & Q(mid_min=F("high_max") + 1)
                & Q(mid_max__gte=F("mid_min"))
                & Q(low_min=F("mid_max") + 1)
                & Q(low_max=100),
                name="onboarding_bands_cover_0_100",
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.bands_label()})"

    def bands(self) -> dict:
        return {
            RiskTier.HIGH: [self.high_min, self.high_max],
            RiskTier.MID: [self.mid_min, self.mid_max],
            RiskTier.LOW: [self.low_min, self.low_max],
        }

    def bands_label(self) -> str:
        return f"high {self.high_min}-{self.high_max}, mid {self.mid_min}-{self.mid_max}, low {self.low_min}-{self.low_max}"

    def tier_for(self, score: int) -> str:
        for tier, (low, high) in self.bands().items():
            if low <= score <= high:
                return tier
        raise ValueError(f"Score {score} is outside every band of {self}.")


class OnboardingAction(models.TextChoices):
    APPROVED = "approved", "Approved instantly"
    ONBOARDING_CALL = "onboarding_call", "Virtual onboarding call"
    MANUAL_REVIEW = "manual_review", "Manual review, then workshop"


class OnboardingDecision(models.Model):
    """History of routing: which score, policy and model version sent an artisan down which path."""

    seller = models.ForeignKey(Seller, on_delete=models.CASCADE, related_name="onboarding_decisions")
    policy = models.ForeignKey(OnboardingPolicy, on_delete=models.PROTECT, related_name="decisions")
    bands = models.JSONField(help_text="The policy's bands at the time, in case the policy is edited later.")
    model_version = models.ForeignKey(
        "scoring.ModelVersion", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    model_version_label = models.CharField(max_length=80, blank=True)
    score = models.PositiveSmallIntegerField(null=True, blank=True, help_text="Empty when routed without a score.")
    tier = models.CharField(max_length=8, choices=RiskTier.choices)
    action = models.CharField(max_length=20, choices=OnboardingAction.choices)
    trigger = models.CharField(max_length=20, default="application")
    reason = models.TextField()
    reasons = models.JSONField(default=list)
    case = models.ForeignKey("casework.Case", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["seller", "created_at"]), models.Index(fields=["created_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(score__lte=100), name="onboarding_decision_score_0_100"),
            models.CheckConstraint(condition=Q(tier__in=RiskTier.values), name="onboarding_decision_known_tier"),
        ]

    def __str__(self):
        return f"{self.seller_id}: {self.tier} → {self.action}"


class WorkshopFormat(models.TextChoices):
    VIRTUAL = "virtual", "Virtual"
    IN_PERSON = "in_person", "In person"


class Workshop(models.Model):
    topic = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    mandatory_for_high_risk = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["topic"]

    def __str__(self):
        return self.topic


class WorkshopSession(models.Model):
    workshop = models.ForeignKey(Workshop, on_delete=models.PROTECT, related_name="sessions")
    starts_at = models.DateTimeField()
    format = models.CharField(max_length=16, choices=WorkshopFormat.choices, default=WorkshopFormat.VIRTUAL)
    location = models.CharField(max_length=200, blank=True, help_text="Address or meeting link.")
    capacity = models.PositiveIntegerField()
    # Seats taken; kept in step with assignments by conditional UPDATEs in sellers.services.
    booked = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["starts_at"]
        indexes = [models.Index(fields=["starts_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(capacity__gte=1), name="workshop_session_capacity_positive"),
            # The last line of defence against overbooking, whatever the code path.
            models.CheckConstraint(condition=Q(booked__lte=F("capacity")), name="workshop_session_not_overbooked"),
            models.CheckConstraint(condition=Q(format__in=WorkshopFormat.values), name="workshop_session_known_format"),
        ]

    def __str__(self):
        return f"{self.workshop.topic} on {formatting.day_and_time(self.starts_at)} ({self.booked}/{self.capacity})"

    @property
    def seats_left(self) -> int:
        return self.capacity - self.booked


class AssignmentStatus(models.TextChoices):
    ASSIGNED = "assigned", "Assigned"
    ATTENDED = "attended", "Attended"
    NO_SHOW = "no_show", "Did not attend"
    CANCELLED = "cancelled", "Cancelled"


class WorkshopOutcome(models.TextChoices):
    PENDING = "", "Pending"
    PASSED = "passed", "Completed successfully"
    NEEDS_FOLLOWUP = "needs_followup", "Needs follow-up"


class WorkshopAssignment(models.Model):
    session = models.ForeignKey(WorkshopSession, on_delete=models.PROTECT, related_name="assignments")
    seller = models.ForeignKey(Seller, on_delete=models.CASCADE, related_name="workshop_assignments")
    status = models.CharField(max_length=16, choices=AssignmentStatus.choices, default=AssignmentStatus.ASSIGNED)
    outcome = models.CharField(max_length=20, choices=WorkshopOutcome.choices, default=WorkshopOutcome.PENDING, blank=True)
    note = models.TextField(blank=True)
    assigned_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    assigned_at = models.DateTimeField(default=timezone.now)
    attendance_recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    attendance_recorded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-assigned_at"]
        constraints = [
            models.UniqueConstraint(fields=["session", "seller"], name="workshop_assignment_once_per_session"),
            # An artisan holds at most one upcoming seat at a time.
            models.UniqueConstraint(
                fields=["seller"], condition=Q(status="assigned"), name="workshop_assignment_one_pending_per_seller"
            ),
            models.CheckConstraint(condition=Q(status__in=AssignmentStatus.values), name="workshop_assignment_known_status"),
            models.CheckConstraint(
                condition=Q(outcome="") | Q(status="attended"), name="workshop_assignment_outcome_needs_attendance"
            ),
        ]

    def __str__(self):
        return f"{self.seller} at {self.session}"


class OnboardingQueueCase(Case):
    """The onboarding queues (manual review, calls, workshop assignment) as their own admin page."""

    class Meta:
        proxy = True
        verbose_name = "onboarding queue case"


class InventoryAuditCase(Case):
    class Meta:
        proxy = True
        verbose_name = "inventory audit case"


class ListingHealth(models.Model):
    """The nightly verdict on one listing (marketplace.listing_health): underperforming or not, and why."""

    listing = models.OneToOneField(Listing, on_delete=models.CASCADE, primary_key=True, related_name="health")
    seller = models.ForeignKey(Seller, on_delete=models.CASCADE, related_name="+")
    category = models.CharField(max_length=32)
    computed_at = models.DateTimeField()
    age_days = models.PositiveIntegerField()
    units_sold = models.PositiveIntegerField(help_text="Units sold in the sales window.")
    monthly_rate = models.FloatField(help_text="Units per 30 days listed within the sales window.")
    category_norm = models.FloatField(help_text="Median monthly rate of the category's listings of a similar age.")
    return_share = models.FloatField(null=True, blank=True)
    last_sale_at = models.DateTimeField(null=True, blank=True)
    is_underperforming = models.BooleanField(default=False)
    reasons = models.JSONField(default=list, blank=True)

    class Meta:
        verbose_name_plural = "listing health"
        indexes = [models.Index(fields=["seller", "is_underperforming"]), models.Index(fields=["is_underperforming", "category"])]

    def __str__(self):
        return f"{self.listing_id}: {'underperforming' if self.is_underperforming else 'ok'}"
