"""Loyalty: an append-only points ledger, admin-configured rules, tiers, badges and rewards.

Balances are never stored as a free counter. Every point is a ledger entry; positive
entries are *lots* that debits (redemptions, expiry, reversals, negative adjustments)
are allocated to, oldest expiry first. A lot's ``remaining`` is a cache of
``amount - sum(allocations)`` that ``loyalty.selectors.ledger_verify`` proves.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from buyers.models import Buyer


class ExpiryPolicy(models.TextChoices):
    DAYS_AFTER_EARNING = "days_after_earning", "N days after earning"
    END_OF_YEAR = "end_of_year", "End of the calendar year of earning"


class TierBasis(models.TextChoices):
    POINTS_EARNED = "points_earned", "Points earned in a rolling window"
    QUALIFYING_SPEND = "qualifying_spend", "Qualifying spend in a rolling window"
    ENGAGEMENT = "engagement", "Engagement actions in a rolling window"


class LoyaltyProgram(models.Model):
    """The one program configuration row (pk=1)."""

    pending_days = models.PositiveIntegerField(default=14, help_text="Order points stay pending this long after delivery.")
    expiry_policy = models.CharField(max_length=24, choices=ExpiryPolicy.choices, default=ExpiryPolicy.DAYS_AFTER_EARNING)
    expiry_days = models.PositiveIntegerField(default=365)
    reminder_days_before = models.PositiveIntegerField(default=30, help_text="Expiry reminder lead time.")
    expiring_soon_days = models.PositiveIntegerField(default=30, help_text="'Expiring soon' horizon in the member view.")
    tier_basis = models.CharField(max_length=24, choices=TierBasis.choices, default=TierBasis.POINTS_EARNED)
    tier_window_days = models.PositiveIntegerField(default=365)
    downgrade_grace_days = models.PositiveIntegerField(
        default=30, help_text="A member below their tier keeps it this long before moving down."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(pk=1), name="loyalty_program_singleton"),
            models.CheckConstraint(condition=Q(expiry_days__gte=1), name="loyalty_program_expiry_positive"),
            models.CheckConstraint(condition=Q(tier_basis__in=TierBasis.values), name="loyalty_program_known_basis"),
        ]

    def __str__(self):
        return "Loyalty program"


class Tier(models.Model):
    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=80)
    rank = models.PositiveSmallIntegerField(unique=True, help_text="Higher rank = higher tier.")
    threshold = models.DecimalField(
        max_digits=14, decimal_places=2, unique=True, help_text="Minimum basis value (see the program's tier basis)."
    )
    multiplier = models.DecimalField(max_digits=5, decimal_places=2, default=1)
    perks = models.TextField(blank=True)

    class Meta:
        ordering = ["rank"]
        constraints = [
            models.CheckConstraint(condition=Q(threshold__gte=0), name="loyalty_tier_threshold_non_negative"),
            models.CheckConstraint(condition=Q(multiplier__gte=0), name="loyalty_tier_multiplier_non_negative"),
        ]

    def __str__(self):
        return self.name


class RuleKind(models.TextChoices):
    SPEND = "spend", "Spend (points per currency unit)"
    REVIEW = "review", "Review written"
    STORY_SHARE = "story_share", "Story shared"
    FOLLOW_ARTISAN = "follow_artisan", "Artisan followed"
    EVENT_ATTENDANCE = "event_attendance", "Artisan event attended"
    REPEAT_PURCHASE = "repeat_purchase", "Repeat purchase from the same artisan"
    PROMOTION = "promotion", "Promotion (multiplier on another rule)"


class CapPeriod(models.TextChoices):
    NONE = "", "No cap"
    DAY = "day", "Per day"
    WEEK = "week", "Per week"
    MONTH = "month", "Per month"


class Segment(models.TextChoices):
    HIGH_VALUE = "high_value", "High value"
    LAPSING = "lapsing", "Lapsing"
    POTENTIAL = "potential", "Potential"
    NEW = "new", "New"
    CHURNED = "churned", "Churned"


class EarningRule(models.Model):
    """How an action earns points. Precedence is explicit: see loyalty.rules."""

    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=24, choices=RuleKind.choices)
    is_active = models.BooleanField(default=True)
    priority = models.IntegerField(default=100, help_text="Higher wins. Ties go to the older rule (lower id).")
    points = models.DecimalField(
        max_digits=10, decimal_places=2, default=0, help_text="Points per currency unit (spend) or per action."
    )
    applies_tier_multiplier = models.BooleanField(default=True)
    # Promotions only: which base kind they multiply, by how much, and whether they stack.
    promotion_of = models.CharField(max_length=24, choices=RuleKind.choices, blank=True)
    multiplier = models.DecimalField(max_digits=5, decimal_places=2, default=1)
    exclusive = models.BooleanField(
        default=False, help_text="Promotions: if matched, lower-priority promotions do not apply."
    )
    target_tier = models.ForeignKey(Tier, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    target_segment = models.CharField(max_length=16, choices=Segment.choices, blank=True)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    cap_points = models.PositiveIntegerField(null=True, blank=True)
    cap_period = models.CharField(max_length=8, choices=CapPeriod.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "-priority", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(points__gte=0), name="loyalty_rule_points_non_negative"),
            models.CheckConstraint(condition=Q(multiplier__gte=0), name="loyalty_rule_multiplier_non_negative"),
            models.CheckConstraint(condition=Q(kind__in=RuleKind.values), name="loyalty_rule_known_kind"),
            models.CheckConstraint(
                condition=~Q(kind="promotion") | ~Q(promotion_of=""), name="loyalty_rule_promotion_has_target_kind"
            ),
            models.CheckConstraint(
                condition=Q(cap_points__isnull=True, cap_period="") | Q(cap_points__isnull=False) & ~Q(cap_period=""),
                name="loyalty_rule_cap_points_and_period_together",
            ),
            models.CheckConstraint(
                condition=Q(starts_at__isnull=True) | Q(ends_at__isnull=True) | Q(ends_at__gt=F("starts_at")),
                name="loyalty_rule_window_ordered",
            ),
        ]
        indexes = [models.Index(fields=["kind", "is_active"])]

    def __str__(self):
        return self.name


class EntryKind(models.TextChoices):
    EARN = "earn", "Earn"
    REDEEM = "redeem", "Redeem"
    EXPIRE = "expire", "Expire"
    ADJUST = "adjust", "Adjust"
    REVERSE = "reverse", "Reverse"


class EntryState(models.TextChoices):
    PENDING = "pending", "Pending"
    ACTIVE = "active", "Active"
    EXPIRED = "expired", "Expired"
    CANCELLED = "cancelled", "Cancelled"
    POSTED = "posted", "Posted"  # debits: final when written


class SourceType(models.TextChoices):
    ORDER = "order", "Order"
    REPEAT_PURCHASE = "repeat_purchase", "Repeat purchase"
    ENGAGEMENT = "engagement", "Engagement event"
    REVIEW = "review", "Review"
    BADGE = "badge", "Badge bonus"
    ADJUSTMENT = "adjustment", "Admin adjustment"
    REDEMPTION = "redemption", "Redemption"
    EXPIRY = "expiry", "Expiry"
    COMPETITION = "competition", "Competition prize"


class PointsEntry(models.Model):
    """One line of the ledger. Amount, member, source and rule never change after insert.

    Positive entries are lots; only their bookkeeping (state, remaining, reminded_at)
    moves forward, and every move is itself an appended debit entry plus allocations.
    """

    # Foreign keys without their own index where a composite index below covers them: every
    # index costs each award insert, and the nightly award writes millions of rows.
    buyer = models.ForeignKey(Buyer, on_delete=models.PROTECT, related_name="points_entries", db_index=False)
    amount = models.IntegerField()
    kind = models.CharField(max_length=8, choices=EntryKind.choices)
    state = models.CharField(max_length=10, choices=EntryState.choices)
    source_type = models.CharField(max_length=16, choices=SourceType.choices)
    source_id = models.BigIntegerField(null=True, blank=True)
    rule = models.ForeignKey(
        EarningRule, on_delete=models.PROTECT, null=True, blank=True, related_name="entries", db_index=False
    )
    reason = models.CharField(max_length=255, help_text="Shown to the member: why points changed.")
    comment = models.TextField(blank=True, help_text="Staff comment; required on adjustments.")
    breakdown = models.JSONField(default=dict, blank=True)
    # Dimensions for leaderboards and caps, fixed at award time.
    seller = models.ForeignKey("sellers.Seller", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    category = models.CharField(max_length=32, blank=True)
    occurred_at = models.DateTimeField(help_text="When the earning action happened.")
    available_at = models.DateTimeField(null=True, blank=True, help_text="Lots: pending until then.")
    expires_at = models.DateTimeField(null=True, blank=True)
    remaining = models.IntegerField(default=0, help_text="Lots: unspent points (cache, verified).")
    reminded_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, db_index=False
    )
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name_plural = "points entries"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["buyer", "state", "expires_at"]),
            models.Index(fields=["state", "expires_at"]),
            models.Index(fields=["state", "available_at"]),
            # Cap usage: a chunk's members first. Led by the rule, a planner without fresh statistics
            # (the first nightly award writes millions of rows) filtered every lot of the capped rules.
            models.Index(fields=["buyer", "rule", "occurred_at"], name="loyalty_entry_cap_usage"),
            models.Index(fields=["kind", "created_at"]),
            # Only adjustments have an author; automatic entries (nearly all) stay out of it.
            models.Index(fields=["created_by"], condition=Q(created_by__isnull=False), name="loyalty_entry_by_author"),
        ]
        constraints = [
            # Exactly once: one earn and at most one reversal per source, whatever retries,
            # duplicate webhooks or parallel workers do.
            models.UniqueConstraint(
                fields=["source_type", "source_id", "kind"],
                condition=Q(kind__in=["earn", "reverse"], source_id__isnull=False),
                name="loyalty_entry_once_per_source",
            ),
            models.CheckConstraint(condition=Q(kind__in=EntryKind.values), name="loyalty_entry_known_kind"),
            models.CheckConstraint(condition=Q(state__in=EntryState.values), name="loyalty_entry_known_state"),
            models.CheckConstraint(condition=~Q(amount=0), name="loyalty_entry_amount_non_zero"),
            models.CheckConstraint(condition=~Q(kind="earn") | Q(amount__gt=0), name="loyalty_entry_earn_positive"),
            models.CheckConstraint(
                condition=~Q(kind__in=["redeem", "expire", "reverse"]) | Q(amount__lt=0),
                name="loyalty_entry_debits_negative",
            ),
            models.CheckConstraint(
                condition=~Q(kind="adjust") | ~Q(comment=""), name="loyalty_entry_adjust_has_comment"
            ),
            models.CheckConstraint(
                condition=Q(amount__lt=0, remaining=0) | Q(amount__gt=0, remaining__gte=0, remaining__lte=F("amount")),
                name="loyalty_entry_remaining_within_lot",
            ),
            models.CheckConstraint(
                condition=Q(amount__lt=0, state="posted") | Q(amount__gt=0) & ~Q(state="posted"),
                name="loyalty_entry_state_matches_sign",
            ),
        ]

    def __str__(self):
        return f"{self.amount:+d} {self.kind} for buyer {self.buyer_id}"


class Allocation(models.Model):
    """Which lot a debit took its points from. Append-only."""

    debit = models.ForeignKey(PointsEntry, on_delete=models.PROTECT, related_name="allocations_out")
    lot = models.ForeignKey(PointsEntry, on_delete=models.PROTECT, related_name="allocations_in")
    amount = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="loyalty_allocation_positive"),
            models.UniqueConstraint(fields=["debit", "lot"], name="loyalty_allocation_once_per_pair"),
        ]


class LoyaltyAccount(models.Model):
    """A per-member row to lock on. It holds no balance: balances come from the ledger."""

    buyer = models.OneToOneField(Buyer, on_delete=models.CASCADE, related_name="loyalty_account")
    created_at = models.DateTimeField(auto_now_add=True)


class BuyerTier(models.Model):
    buyer = models.OneToOneField(Buyer, on_delete=models.CASCADE, related_name="loyalty_tier")
    tier = models.ForeignKey(Tier, on_delete=models.PROTECT, null=True, blank=True, related_name="members")
    basis_value = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    since = models.DateTimeField()
    below_since = models.DateTimeField(
        null=True, blank=True, help_text="First recompute that found the member below their tier (grace clock)."
    )
    computed_at = models.DateTimeField()
    override = models.ForeignKey(
        "TierOverride", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        help_text="The manual override in force, if any.",
    )

    class Meta:
        indexes = [models.Index(fields=["tier"])]


class TierChangeCause(models.TextChoices):
    RECOMPUTE = "recompute", "Recompute"
    GRACE_EXPIRED = "grace_expired", "Downgrade after grace period"
    OVERRIDE = "override", "Manual override"
    OVERRIDE_ENDED = "override_ended", "Override ended"


class TierChange(models.Model):
    buyer = models.ForeignKey(Buyer, on_delete=models.CASCADE, related_name="tier_changes")
    from_tier = models.ForeignKey(Tier, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    to_tier = models.ForeignKey(Tier, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    cause = models.CharField(max_length=16, choices=TierChangeCause.choices)
    basis_value = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    detail = models.CharField(max_length=255, blank=True)
    override = models.ForeignKey("TierOverride", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["buyer", "created_at"])]


class TierOverride(models.Model):
    buyer = models.ForeignKey(Buyer, on_delete=models.CASCADE, related_name="tier_overrides")
    tier = models.ForeignKey(Tier, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["buyer", "ends_at"])]
        constraints = [
            models.CheckConstraint(condition=~Q(reason=""), name="loyalty_override_has_reason"),
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="loyalty_override_window_ordered"),
        ]


class BadgeMetric(models.TextChoices):
    ORDERS_SAME_ARTISAN = "orders_same_artisan", "Orders from the same artisan"
    STORIES_SHARED = "stories_shared", "Stories shared"
    EVENTS_ATTENDED = "events_attended", "Artisan events attended"
    ARTISANS_FOLLOWED = "artisans_followed", "Artisans followed"
    REVIEWS_WRITTEN = "reviews_written", "Reviews written"


class Badge(models.Model):
    """A badge is a rule over data: metric >= threshold within the window."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    metric = models.CharField(max_length=24, choices=BadgeMetric.choices)
    threshold = models.PositiveIntegerField()
    window_days = models.PositiveIntegerField(default=365)
    repeatable = models.BooleanField(default=False, help_text="Can be earned again in each new window period.")
    points_bonus = models.PositiveIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(threshold__gte=1), name="loyalty_badge_threshold_positive"),
            models.CheckConstraint(condition=Q(window_days__gte=1), name="loyalty_badge_window_positive"),
            models.CheckConstraint(condition=Q(metric__in=BadgeMetric.values), name="loyalty_badge_known_metric"),
        ]

    def __str__(self):
        return self.name


class BadgeAward(models.Model):
    badge = models.ForeignKey(Badge, on_delete=models.PROTECT, related_name="awards")
    buyer = models.ForeignKey(Buyer, on_delete=models.CASCADE, related_name="badge_awards")
    # "once" for once-only badges; the window period number for repeatable ones.
    period_key = models.CharField(max_length=16)
    metric_value = models.IntegerField()
    awarded_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.TextField(blank=True)
    revoked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True)

    class Meta:
        ordering = ["-awarded_at"]
        constraints = [
            models.UniqueConstraint(fields=["badge", "buyer", "period_key"], name="loyalty_badge_award_once_per_period"),
            models.CheckConstraint(
                condition=Q(revoked_at__isnull=True) | ~Q(revoked_reason=""), name="loyalty_badge_revocation_has_reason"
            ),
        ]
        indexes = [models.Index(fields=["buyer", "revoked_at"])]


class Reward(models.Model):
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    points_cost = models.PositiveIntegerField()
    stock = models.PositiveIntegerField(null=True, blank=True, help_text="Empty = unlimited.")
    min_tier = models.ForeignKey(Tier, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    # Priority window: until priority_until only members at priority_tier or above may redeem.
    priority_tier = models.ForeignKey(Tier, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    priority_until = models.DateTimeField(null=True, blank=True)
    category = models.CharField(max_length=32, blank=True, help_text="Craft category, for suggestions.")
    seller = models.ForeignKey("sellers.Seller", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["points_cost"]
        constraints = [
            models.CheckConstraint(condition=Q(points_cost__gte=1), name="loyalty_reward_cost_positive"),
            models.CheckConstraint(
                condition=Q(priority_until__isnull=True) | Q(priority_tier__isnull=False),
                name="loyalty_reward_priority_window_has_tier",
            ),
        ]

    def __str__(self):
        return self.name


class Redemption(models.Model):
    buyer = models.ForeignKey(Buyer, on_delete=models.PROTECT, related_name="redemptions")
    reward = models.ForeignKey(Reward, on_delete=models.PROTECT, related_name="redemptions")
    points = models.PositiveIntegerField()
    entry = models.OneToOneField(PointsEntry, on_delete=models.PROTECT, related_name="redemption")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]


class LoyaltyMember(Buyer):
    """The buyer as the loyalty admin shows them (balance, ledger, tier, badges)."""

    class Meta:
        proxy = True
        verbose_name = "loyalty member"


# --- Point competitions (loyalty.competitions) ------------------------------------------


class Competition(models.Model):
    """A time-boxed contest: points earned by the counted actions inside the window, ranked."""

    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(help_text="Exclusive: actions at or after this moment do not count.")
    counted_kinds = models.JSONField(
        default=list, help_text="Earning-rule kinds whose points count, e.g. [\"story_share\", \"review\"]."
    )
    eligible_tier = models.ForeignKey(
        Tier, on_delete=models.PROTECT, null=True, blank=True, related_name="+", help_text="Members at this tier or above."
    )
    eligible_segment = models.CharField(max_length=16, choices=Segment.choices, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True, help_text="Set once, when the prizes were paid.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-starts_at"]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="competition_window_ordered"),
            models.CheckConstraint(
                condition=Q(closed_at__isnull=True) | Q(closed_at__gte=F("ends_at")), name="competition_closed_after_window"
            ),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        from loyalty.competitions import competition_validate

        competition_validate(self)


class CompetitionPrize(models.Model):
    competition = models.ForeignKey(Competition, on_delete=models.CASCADE, related_name="prizes")
    rank = models.PositiveSmallIntegerField(help_text="The finishing position that wins this prize (1 = first).")
    bonus_points = models.PositiveIntegerField(default=0)
    reward = models.ForeignKey(Reward, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["competition", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["competition", "rank"], name="competition_prize_one_per_rank"),
            models.CheckConstraint(condition=Q(rank__gte=1), name="competition_prize_rank_positive"),
            models.CheckConstraint(
                condition=Q(bonus_points__gt=0) | Q(reward__isnull=False), name="competition_prize_not_empty"
            ),
        ]

    def __str__(self):
        parts = [f"{self.bonus_points} bonus points"] if self.bonus_points else []
        if self.reward_id:
            parts.append(str(self.reward))
        return f"#{self.rank}: " + " and ".join(parts)


class CompetitionAward(models.Model):
    """A prize paid at close. Its id is the ledger source of the bonus, so it is paid once."""

    competition = models.ForeignKey(Competition, on_delete=models.PROTECT, related_name="awards")
    prize = models.ForeignKey(CompetitionPrize, on_delete=models.PROTECT, related_name="awards")
    buyer = models.ForeignKey(Buyer, on_delete=models.PROTECT, related_name="competition_awards")
    rank = models.PositiveSmallIntegerField()
    score = models.IntegerField()
    reward = models.ForeignKey(Reward, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    note = models.CharField(max_length=255, blank=True)
    awarded_at = models.DateTimeField()

    class Meta:
        ordering = ["competition", "rank"]
        constraints = [
            # Exactly once, whatever retries or concurrent closes do: one award per place, one per member.
            models.UniqueConstraint(fields=["competition", "rank"], name="competition_award_once_per_rank"),
            models.UniqueConstraint(fields=["competition", "buyer"], name="competition_award_once_per_member"),
        ]

    def __str__(self):
        return f"{self.competition}: #{self.rank} buyer {self.buyer_id}"
