from django.db import models
from django.db.models import F, Q


class CraftCategory(models.TextChoices):
    JEWELRY = "jewelry", "Jewelry"
    HOME_DECOR = "home_decor", "Home décor"
    CERAMICS = "ceramics", "Ceramics"
    SEASONAL_ORNAMENTS = "seasonal_ornaments", "Seasonal ornaments"
    TEXTILES = "textiles", "Textiles"
    WOODWORK = "woodwork", "Woodwork"
    PAPER_GOODS = "paper_goods", "Paper goods"


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
