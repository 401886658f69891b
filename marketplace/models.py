"""What happens on the storefront: orders, returns, reviews and engagement."""

from django.db import models
from django.db.models import F, Q

from core.formatting import day_and_time


class OrderStatus(models.TextChoices):
    PLACED = "placed", "Placed"
    SHIPPED = "shipped", "Shipped"
    DELIVERED = "delivered", "Delivered"
    CANCELLED = "cancelled", "Cancelled"
    RETURNED = "returned", "Returned"


class CancelReason(models.TextChoices):
    OUT_OF_STOCK = "out_of_stock", "Out of stock"
    BUYER_REQUEST = "buyer_request", "Buyer request"
    SELLER_UNRESPONSIVE = "seller_unresponsive", "Seller unresponsive"
    LATE_SHIPMENT = "late_shipment", "Late shipment"
    OTHER = "other", "Other"


class ReturnReason(models.TextChoices):
    DAMAGED = "damaged", "Arrived damaged"
    NOT_AS_DESCRIBED = "not_as_described", "Not as described"
    QUALITY = "quality", "Poor quality"
    LATE = "late", "Arrived too late"
    CHANGED_MIND = "changed_mind", "Changed mind"
    OTHER = "other", "Other"


class Order(models.Model):
    """One checkout with one artisan. A multi-artisan cart becomes several orders."""

    external_id = models.CharField(max_length=64, unique=True)
    buyer = models.ForeignKey("buyers.Buyer", on_delete=models.PROTECT, related_name="orders")
    seller = models.ForeignKey("sellers.Seller", on_delete=models.PROTECT, related_name="orders")
    status = models.CharField(max_length=16, choices=OrderStatus.choices, default=OrderStatus.PLACED)
    total_amount = models.DecimalField(max_digits=12, decimal_places=2)
    placed_at = models.DateTimeField()
    ship_by = models.DateTimeField(help_text="The promised ship-by time.")
    shipped_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(max_length=32, choices=CancelReason.choices, blank=True)
    returned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-placed_at"]
        indexes = [
            models.Index(fields=["seller", "placed_at"]),
            models.Index(fields=["buyer", "placed_at"]),
            models.Index(fields=["placed_at"]),
            models.Index(fields=["status", "placed_at"]),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(total_amount__gte=0), name="order_total_non_negative"),
            models.CheckConstraint(condition=Q(status__in=OrderStatus.values), name="order_known_status"),
            models.CheckConstraint(condition=Q(ship_by__gte=F("placed_at")), name="order_ship_by_after_placed"),
            models.CheckConstraint(
                condition=Q(shipped_at__isnull=True) | Q(shipped_at__gte=F("placed_at")),
                name="order_shipped_after_placed",
            ),
            models.CheckConstraint(
                condition=Q(delivered_at__isnull=True) | Q(shipped_at__isnull=False, delivered_at__gte=F("shipped_at")),
                name="order_delivered_after_shipped",
            ),
            models.CheckConstraint(
                condition=Q(returned_at__isnull=True) | Q(delivered_at__isnull=False, returned_at__gte=F("delivered_at")),
                name="order_returned_after_delivered",
            ),
            models.CheckConstraint(
                condition=Q(cancelled_at__isnull=True) | Q(cancelled_at__gte=F("placed_at")),
                name="order_cancelled_after_placed",
            ),
            models.CheckConstraint(
                condition=~Q(status=OrderStatus.CANCELLED) | (Q(cancelled_at__isnull=False) & ~Q(cancel_reason="")),
                name="order_cancelled_has_time_and_reason",
            ),
            models.CheckConstraint(
                condition=~Q(status=OrderStatus.SHIPPED) | Q(shipped_at__isnull=False),
                name="order_shipped_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(status=OrderStatus.DELIVERED) | Q(delivered_at__isnull=False),
                name="order_delivered_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(status=OrderStatus.RETURNED) | Q(returned_at__isnull=False),
                name="order_returned_has_time",
            ),
        ]

    def __str__(self):
        return self.external_id


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    listing = models.ForeignKey("sellers.Listing", on_delete=models.PROTECT, related_name="order_lines")
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)

    class Meta:
        indexes = [models.Index(fields=["listing"])]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="order_line_quantity_positive"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="order_line_price_non_negative"),
            models.UniqueConstraint(fields=["order", "listing"], name="order_line_unique_listing"),
        ]

    def __str__(self):
        return f"{self.quantity} x {self.listing_id}"


class Return(models.Model):
    order = models.OneToOneField(Order, on_delete=models.CASCADE, related_name="return_record")
    reason = models.CharField(max_length=32, choices=ReturnReason.choices)
    detail = models.TextField(blank=True)
    refund_amount = models.DecimalField(max_digits=12, decimal_places=2)
    created_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["created_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(refund_amount__gte=0), name="return_refund_non_negative"),
        ]

    def __str__(self):
        return f"Return of {self.order_id}: {self.reason}"


class Review(models.Model):
    external_id = models.CharField(max_length=64, unique=True)
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="reviews", null=True, blank=True)
    buyer = models.ForeignKey("buyers.Buyer", on_delete=models.CASCADE, related_name="reviews")
    seller = models.ForeignKey("sellers.Seller", on_delete=models.CASCADE, related_name="reviews")
    rating = models.PositiveSmallIntegerField()
    text = models.TextField(blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["seller", "created_at"]), models.Index(fields=["buyer", "created_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(rating__gte=1, rating__lte=5), name="review_rating_1_to_5"),
            models.CheckConstraint(condition=Q(updated_at__gte=F("created_at")), name="review_updated_after_created"),
        ]

    def __str__(self):
        return f"{self.rating}★ for {self.seller_id}"


class EngagementKind(models.TextChoices):
    LOGIN = "login", "Login"
    MESSAGE = "message", "Message"
    STORY_SHARE = "story_share", "Story shared"
    FOLLOW_ARTISAN = "follow_artisan", "Artisan followed"
    EVENT_ATTENDANCE = "event_attendance", "Artisan event attended"
    LISTING_UPDATE = "listing_update", "Listing updated"
    MESSAGE_REPLY = "message_reply", "Message replied"


class EngagementEvent(models.Model):
    """Something a buyer or a seller did. Exactly one of the two is the actor."""

    external_id = models.CharField(max_length=64, unique=True, null=True, blank=True)
    buyer = models.ForeignKey("buyers.Buyer", on_delete=models.CASCADE, null=True, blank=True, related_name="events")
    seller = models.ForeignKey(
        "sellers.Seller", on_delete=models.CASCADE, null=True, blank=True, related_name="events"
    )
    # The artisan a buyer followed, messaged or whose event they attended.
    target_seller = models.ForeignKey(
        "sellers.Seller", on_delete=models.CASCADE, null=True, blank=True, related_name="audience_events"
    )
    kind = models.CharField(max_length=32, choices=EngagementKind.choices)
    occurred_at = models.DateTimeField()
    # For messages: minutes the artisan took to answer, when the event is an artisan reply.
    response_minutes = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-occurred_at"]
        indexes = [
            models.Index(fields=["buyer", "kind", "occurred_at"]),
            models.Index(fields=["seller", "kind", "occurred_at"]),
            models.Index(fields=["target_seller", "kind"]),
            models.Index(fields=["occurred_at"]),
            models.Index(fields=["kind", "occurred_at"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(Q(buyer__isnull=False) & Q(seller__isnull=True))
                | (Q(buyer__isnull=True) & Q(seller__isnull=False)),
                name="engagement_exactly_one_actor",
            ),
            models.CheckConstraint(condition=Q(kind__in=EngagementKind.values), name="engagement_known_kind"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} on {day_and_time(self.occurred_at)}"


# --- Late-order outreach (retention.late_orders, docs/retention.md) -----------------------


class LateOrderPolicy(models.Model):
    """Admin-set rules for late-order outreach (one row)."""

    grace_hours = models.PositiveIntegerField(default=12, help_text="Hours past ship-by before the buyer hears from us.")
    lookback_days = models.PositiveIntegerField(default=14, help_text="Orders whose ship-by passed longer ago are left alone.")
    artisan_window_days = models.PositiveIntegerField(default=60, help_text="Window for the artisan's late rate.")
    artisan_min_orders = models.PositiveIntegerField(default=5, help_text="Orders due in the window before a rate counts.")
    artisan_late_rate = models.DecimalField(
        max_digits=5, decimal_places=2, default=20,
        help_text="Percent of orders due in the window shipped late or still unshipped; at or above it, seller support coaches.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "late-order policy"
        verbose_name_plural = "late-order policy"
        constraints = [
            models.CheckConstraint(condition=models.Q(pk=1), name="late_order_policy_single_row"),
            models.CheckConstraint(
                condition=models.Q(artisan_late_rate__gt=0, artisan_late_rate__lte=100), name="late_order_policy_rate_percent"
            ),
            models.CheckConstraint(condition=models.Q(lookback_days__gte=1), name="late_order_policy_lookback_positive"),
        ]

    def __str__(self):
        return "Late-order policy"


class LateOrderNotice(models.Model):
    """One late order, seen once: which arm its buyer was in and the message (treated only)."""

    order = models.OneToOneField(Order, on_delete=models.CASCADE, related_name="late_notice")
    buyer = models.ForeignKey("buyers.Buyer", on_delete=models.CASCADE, related_name="+")
    seller = models.ForeignKey("sellers.Seller", on_delete=models.CASCADE, related_name="+")
    arm = models.CharField(max_length=8)
    detected_at = models.DateTimeField()
    message = models.ForeignKey("core.OutboxMessage", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["-detected_at"]
        indexes = [models.Index(fields=["seller", "detected_at"])]

    def __str__(self):
        return f"Late order {self.order_id} ({self.arm})"
