"""The one queue model: every review queue in Kiln is a filtered list of Cases."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from core.formatting import day_and_time


class Team(models.TextChoices):
    CUSTOMER_SUCCESS = "customer_success", "Customer success"
    SELLER_SUPPORT = "seller_support", "Seller support"


class CaseKind(models.TextChoices):
    ONBOARDING_REVIEW = "onboarding_review", "Onboarding: manual review"
    ONBOARDING_CALL = "onboarding_call", "Onboarding: virtual call"
    WORKSHOP_ASSIGNMENT = "workshop_assignment", "Onboarding: workshop assignment"
    INVENTORY_AUDIT = "inventory_audit", "Inventory inconsistency"
    SELLER_DORMANT = "seller_dormant", "Seller going dormant"
    SELLER_QUALITY_ALERT = "seller_quality_alert", "Seller driving a KPI alert"
    BUYER_CHURN_RISK = "buyer_churn_risk", "Buyer at churn risk"
    DETRACTOR_FOLLOWUP = "detractor_followup", "Detractor follow-up"
    FEEDBACK_MATCH = "feedback_match", "Unmatched feedback"
    SELLER_LATE_SHIPMENTS = "seller_late_shipments", "Artisan shipping late: coaching"


def case_kind_label(kind: str) -> str:
    """A case kind, or the play named after it, as staff read it ("Buyer at churn risk"); an unknown code as is."""
    return CaseKind(kind).label if kind in CaseKind.values else kind


class CaseStatus(models.TextChoices):
    OPEN = "open", "Open"
    IN_PROGRESS = "in_progress", "In progress"
    RESOLVED = "resolved", "Resolved"
    DISMISSED = "dismissed", "Dismissed"


ACTIVE_STATUSES = (CaseStatus.OPEN, CaseStatus.IN_PROGRESS)


class Priority(models.IntegerChoices):
    URGENT = 1, "Urgent"
    HIGH = 2, "High"
    NORMAL = 3, "Normal"
    LOW = 4, "Low"


class Outcome(models.TextChoices):
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"
    INFO_REQUESTED = "info_requested", "More information requested"
    CALL_COMPLETED = "call_completed", "Onboarding call completed"
    WORKSHOP_ASSIGNED = "workshop_assigned", "Assigned to a workshop"
    CONTACTED = "contacted", "Contacted"
    RETAINED = "retained", "Retained"
    FIXED = "fixed", "Issue fixed"
    MATCHED = "matched", "Matched"
    NO_ACTION = "no_action", "No action needed"


class CaseQuerySet(models.QuerySet):
    def active(self):
        return self.filter(status__in=ACTIVE_STATUSES)

    def overdue(self, now=None):
        return self.active().filter(due_at__lt=now or timezone.now())

    def for_team(self, team):
        return self.filter(team=team)

    def assigned_to(self, user):
        return self.filter(assignee=user)

    def unassigned(self):
        return self.filter(assignee__isnull=True)

    def for_subject(self, *, seller=None, buyer=None):
        return self.filter(seller=seller) if seller is not None else self.filter(buyer=buyer)


class Case(models.Model):
    kind = models.CharField(max_length=32, choices=CaseKind.choices)
    team = models.CharField(max_length=32, choices=Team.choices)
    seller = models.ForeignKey(
        "sellers.Seller", on_delete=models.CASCADE, null=True, blank=True, related_name="cases"
    )
    buyer = models.ForeignKey("buyers.Buyer", on_delete=models.CASCADE, null=True, blank=True, related_name="cases")
    status = models.CharField(max_length=16, choices=CaseStatus.choices, default=CaseStatus.OPEN)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="assigned_cases"
    )
    due_at = models.DateTimeField(help_text="When the team's SLA for this case runs out.")
    reason = models.TextField()
    evidence = models.JSONField(default=dict, blank=True)
    outcome = models.CharField(max_length=32, choices=Outcome.choices, blank=True)
    resolution_note = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    objects = CaseQuerySet.as_manager()

    class Meta:
        ordering = ["priority", "due_at"]
        indexes = [
            models.Index(fields=["team", "status", "priority", "due_at"], name="case_queue_idx"),
            models.Index(fields=["assignee", "status"], name="case_assignee_idx"),
            models.Index(fields=["kind", "status"], name="case_kind_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=(Q(seller__isnull=False) & Q(buyer__isnull=True))
                | (Q(seller__isnull=True) & Q(buyer__isnull=False)),
                name="case_exactly_one_subject",
            ),
            models.CheckConstraint(condition=Q(kind__in=CaseKind.values), name="case_known_kind"),
            models.CheckConstraint(condition=Q(team__in=Team.values), name="case_known_team"),
            models.CheckConstraint(condition=Q(status__in=CaseStatus.values), name="case_known_status"),
            models.CheckConstraint(
                condition=Q(status__in=ACTIVE_STATUSES) | Q(closed_at__isnull=False),
                name="case_closed_has_time",
            ),
            # The database, not Python, guarantees one active case per kind and subject, so
            # two workers flagging the same artisan at once still open a single case.
            models.UniqueConstraint(
                fields=["kind", "seller"],
                condition=Q(status__in=ACTIVE_STATUSES, seller__isnull=False),
                name="case_one_active_per_seller_kind",
            ),
            models.UniqueConstraint(
                fields=["kind", "buyer"],
                condition=Q(status__in=ACTIVE_STATUSES, buyer__isnull=False),
                name="case_one_active_per_buyer_kind",
            ),
        ]

    def __str__(self):
        return f"#{self.pk} {self.get_kind_display()}: {self.subject}"

    @property
    def subject(self):
        return self.seller if self.seller_id else self.buyer

    @property
    def is_active(self):
        return self.status in ACTIVE_STATUSES

    @property
    def is_overdue(self):
        return self.is_active and self.due_at < timezone.now()


class CaseEvent(models.Model):
    """Append-only history: who changed what on a case, and when."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="history")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    action = models.CharField(max_length=32)
    field = models.CharField(max_length=32, blank=True)
    from_value = models.CharField(max_length=200, blank=True)
    to_value = models.CharField(max_length=200, blank=True)
    note = models.TextField(blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["case", "at"])]

    def __str__(self):
        # Shown above each row of a case page's history, beside the row's own labelled columns.
        return f"{self.action.replace('_', ' ').capitalize()} · {day_and_time(self.at)}"
