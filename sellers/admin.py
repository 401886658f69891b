from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from casework.admin_workbench import CaseWorkbenchMixin, SessionChoiceField, plural
from casework.models import CaseKind
from core.admin import Profile360Mixin, RelatedAsTextMixin
from core.formatting import DASH, day, money, person_name
from sellers import services
from sellers.models import (
    AssignmentStatus,
    InventoryAuditCase,
    Listing,
    OnboardingDecision,
    OnboardingPolicy,
    OnboardingQueueCase,
    RiskTier,
    Seller,
    Workshop,
    WorkshopAssignment,
    WorkshopOutcome,
    WorkshopSession,
)
from sellers.selectors import onboarding_kpis, workshop_sessions_with_seats

ONBOARDING_KINDS = (CaseKind.ONBOARDING_REVIEW, CaseKind.ONBOARDING_CALL, CaseKind.WORKSHOP_ASSIGNMENT)


def _reasons_html(reasons, limit=None):
    """A score's reasons with their signed points. An entry worth no points (why an artisan has no score,
    "routed by the onboarding policy") moves nothing: it reads as a note after the reasons, never as "+0"."""
    factors = [r for r in reasons or [] if int(r.get("contribution") or 0)]
    notes = [r["text"] for r in reasons or [] if not int(r.get("contribution") or 0)]
    factors = factors[:limit] if limit else factors
    if not factors and not notes:
        return DASH
    listed = format_html(
        "<ul style='margin:0;padding-left:1em'>{}</ul>",
        format_html_join(
            "", "<li>{}: <b style='color:{}'>{}</b></li>",
            ((r["text"], "#070" if r["contribution"] >= 0 else "#b00", f"{int(r['contribution']):+d}") for r in factors),
        ),
    ) if factors else ""
    return format_html("{}{}", listed, format_html_join(mark_safe("<br>"), "{}", ((note,) for note in notes)))


def _score_text(score) -> str:
    """The artisan's current score, or why there is none (the basis says: no model, too little history)."""
    if score is None:
        return "Not scored yet"
    if score.score is None:
        return f"Not scored yet ({score.get_basis_display().lower()})"
    return str(score.score)


def _bands_html(bands) -> str:
    """The policy's bands as the decision saw them: one labelled range per risk tier."""
    if not isinstance(bands, dict) or not bands:
        return "—"
    labels = dict(RiskTier.choices)
    return format_html(
        "<table class='kiln-evidence'>{}</table>",
        format_html_join("", "<tr><th>{}</th><td>scores {}–{}</td></tr>",
                         ((labels.get(tier, tier), low, high) for tier, (low, high) in bands.items())),
    )


class OnboardingDecisionInline(admin.TabularInline):
    model = OnboardingDecision
    extra = 0
    can_delete = False
    fields = ("created_at", "trigger", "score", "tier", "action", "policy", "model_version_label", "reason")
    readonly_fields = fields
    ordering = ("-created_at",)

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Seller)
class SellerAdmin(Profile360Mixin, admin.ModelAdmin):
    profile_template = "admin/sellers/seller/profile_360.html"
    list_display_links = None
    list_display = ("name_360", "external_id", "craft_category", "onboarding_status", "current_score", "is_seasonal", "applied_at")
    list_filter = ("craft_category", "onboarding_status", "is_seasonal")
    list_select_related = ("score",)
    search_fields = ("=id", "name", "email", "=external_id")
    show_full_result_count = False
    readonly_fields = ("created_at", "updated_at", "current_score", "score_reasons", "score_trend", "score_model")
    exclude = ("synthetic_quality",)
    inlines = [OnboardingDecisionInline]

    def get_profile_queryset(self):
        return Seller.objects.select_related("score__model_version", "dormancy")

    def _score(self, seller):
        try:
            return seller.score
        except Seller.score.RelatedObjectDoesNotExist:
            return None

    @admin.display(description="score", ordering="score__score")
    def current_score(self, seller):
        return _score_text(self._score(seller))

    @admin.display(description="reasons")
    def score_reasons(self, seller):
        score = self._score(seller)
        return _reasons_html(score.reasons) if score else "not scored yet"

    @admin.display(description="model")
    def score_model(self, seller):
        score = self._score(seller)
        if score is None:
            return "—"
        return f"{score.model_version or 'no active model'}; computed {day(score.computed_at)}" + (" (cold start)" if score.cold_start else "")

    @admin.display(description="score trend (newest first)")
    def score_trend(self, seller):
        # Through the relation rather than scoring's selector: scoring sits above sellers.
        rows = seller.score_history.order_by("-computed_at")[:12]
        return ", ".join(
            f"{'not scored' if row.score is None else row.score} ({day(row.computed_at)})" for row in rows
        ) or "No scores yet."


@admin.register(Listing)
class ListingAdmin(admin.ModelAdmin):
    list_display = ("title", "seller", "category", "price_display", "stock", "stock_updated_at", "is_seasonal", "is_active")
    list_filter = ("category", "is_seasonal", "is_active")
    list_select_related = ("seller",)
    search_fields = ("title", "=external_id", "seller__name", "=seller__external_id")
    autocomplete_fields = ("seller",)
    show_full_result_count = False

    @admin.display(description="Price", ordering="price")
    def price_display(self, listing):
        return money(listing.price)

    @admin.display(description="stock", ordering="stock_quantity")
    def stock(self, listing):
        # An empty stock is the artisan's choice (made to order), not a missing number.
        if listing.stock_quantity is None:
            return "Stock not tracked (made to order)"
        return f"{listing.stock_quantity} in stock"


# --- Policy -----------------------------------------------------------------------------


class OnboardingPolicyForm(forms.ModelForm):
    class Meta:
        model = OnboardingPolicy
        fields = ("name", "is_active", *services.BAND_FIELDS)

    def clean(self):
        cleaned = super().clean()
        bands = {name: cleaned.get(name) for name in services.BAND_FIELDS}
        try:
            services.onboarding_bands_validate(bands)
        except ValidationError as exc:
            # Field errors land next to the offending field; nothing is saved.
            for field, errors in exc.message_dict.items():
                self.add_error(field if field in self.fields else None, errors)
        return cleaned


@admin.register(OnboardingPolicy)
class OnboardingPolicyAdmin(admin.ModelAdmin):
    form = OnboardingPolicyForm
    list_display = ("name", "is_active", "high_band", "mid_band", "low_band", "updated_at")
    readonly_fields = ("created_at", "updated_at")
    actions = ["activate_policy"]

    @admin.display(description="high risk")
    def high_band(self, policy):
        return f"{policy.high_min}-{policy.high_max}"

    @admin.display(description="mid risk")
    def mid_band(self, policy):
        return f"{policy.mid_min}-{policy.mid_max}"

    @admin.display(description="low risk")
    def low_band(self, policy):
        return f"{policy.low_min}-{policy.low_max}"

    def has_delete_permission(self, request, obj=None):
        return False  # decisions keep pointing at the policy that routed them

    def save_model(self, request, obj, form, change):
        bands = {name: form.cleaned_data[name] for name in services.BAND_FIELDS}
        services.onboarding_policy_save(
            actor=request.user, name=form.cleaned_data["name"], bands=bands,
            policy=obj if change else None, activate=form.cleaned_data["is_active"],
        )

    @admin.action(description="Make the selected policy the active one", permissions=["change"])
    def activate_policy(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one policy to activate.", level=messages.ERROR)
            return
        policy = services.onboarding_policy_activate(policy=queryset.get(), actor=request.user)
        self.message_user(request, f"{policy} now routes new applications.")


@admin.register(OnboardingDecision)
class OnboardingDecisionAdmin(RelatedAsTextMixin, admin.ModelAdmin):
    list_display = ("created_at", "seller", "score_shown", "tier", "action", "trigger", "policy", "model_version_label")
    list_filter = ("tier", "action", "trigger", "policy")
    list_select_related = ("seller", "policy")
    search_fields = ("seller__name", "=seller__external_id", "seller__email")
    show_full_result_count = False
    fields = ("seller", "created_at", "trigger", "score_shown", "tier", "action", "reason", "reasons_shown", "policy",
              "bands_shown", "model_version", "model_version_label", "case")
    readonly_fields = fields

    @admin.display(description="score", ordering="score")
    def score_shown(self, decision):
        return "Routed without a score" if decision.score is None else decision.score

    @admin.display(description="score reasons")
    def reasons_shown(self, decision):
        return _reasons_html(decision.reasons)

    @admin.display(description="bands at the time")
    def bands_shown(self, decision):
        return _bands_html(decision.bands)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- Workshops --------------------------------------------------------------------------


class WorkshopSessionInline(admin.TabularInline):
    model = WorkshopSession
    extra = 0
    fields = ("starts_at", "format", "location", "capacity", "booked")
    readonly_fields = ("booked",)
    show_change_link = True

    def has_change_permission(self, request, obj=None):
        return False  # capacity changes go through the session page (checked against bookings)


@admin.register(Workshop)
class WorkshopAdmin(admin.ModelAdmin):
    list_display = ("topic", "mandatory_for_high_risk", "created_at")
    search_fields = ("topic",)
    inlines = [WorkshopSessionInline]


class WorkshopSessionForm(forms.ModelForm):
    class Meta:
        model = WorkshopSession
        fields = ("workshop", "starts_at", "format", "location", "capacity")

    def clean_capacity(self):
        capacity = self.cleaned_data["capacity"]
        if self.instance.pk and capacity is not None and capacity < self.instance.booked:
            raise ValidationError(f"Capacity {capacity} is below the {plural(self.instance.booked, 'seat')} already booked.")
        return capacity


class _AssignedByName:
    """Who booked a seat by the name colleagues know them by, not their login."""

    # Ordered by login, as the case list orders its assignees: one person's seats stay together.
    @admin.display(description="assigned by", ordering="assigned_by__username")
    def assigned_by_name(self, assignment):
        # A name, not the user's admin link: no staff role may open user accounts.
        return person_name(assignment.assigned_by) if assignment.assigned_by_id else DASH


class WorkshopAssignmentInline(_AssignedByName, RelatedAsTextMixin, admin.TabularInline):
    model = WorkshopAssignment
    extra = 0
    can_delete = False
    fields = ("seller", "status", "outcome", "assigned_by_name", "assigned_at")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("seller", "assigned_by")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(WorkshopSession)
class WorkshopSessionAdmin(admin.ModelAdmin):
    form = WorkshopSessionForm
    list_display = ("workshop", "starts_at", "format", "capacity", "booked", "seats_left", "attendance_link")
    list_filter = ("format", "workshop")
    list_select_related = ("workshop",)
    date_hierarchy = "starts_at"
    inlines = [WorkshopAssignmentInline]

    @admin.display(description="seats")
    def attendance_link(self, session):
        url = reverse("admin:sellers_workshopassignment_changelist") + f"?session__id__exact={session.pk}"
        return format_html('<a href="{}">Seats and attendance</a>', url)

    def save_model(self, request, obj, form, change):
        if not change:
            super().save_model(request, obj, form, change)
            return
        if "capacity" in form.changed_data:
            # Checked against bookings under a row lock, so no seat is claimed in between.
            services.workshop_session_set_capacity(session=obj, capacity=form.cleaned_data["capacity"], actor=request.user)
        other = [name for name in form.changed_data if name != "capacity"]
        if other:
            # Never write `booked` from a form: it may be stale; assignments own it.
            obj.save(update_fields=other)


class WorkshopAssignmentForm(forms.ModelForm):
    session = SessionChoiceField(queryset=WorkshopSession.objects.none(), empty_label="— choose a session with free seats —")

    class Meta:
        model = WorkshopAssignment
        fields = ("session", "seller")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "session" in self.fields:  # read-only once the seat exists
            self.fields["session"].queryset = workshop_sessions_with_seats()

    def clean(self):
        cleaned = super().clean()
        session = cleaned.get("session")
        if session is not None and session.booked >= session.capacity:
            raise ValidationError({"session": f"{session} is full."})
        return cleaned


class _SeatFieldsReadOnlyOnceBooked(admin.ModelAdmin):
    """A booked seat's fields are read-only; below RelatedAsTextMixin so that staff who may not
    open a related page read it as text instead of a link. The booker is shown by name."""

    def get_readonly_fields(self, request, obj=None):
        return ("session", "seller", "status", "outcome", "assigned_by_name", "assigned_at") if obj else ()


@admin.register(WorkshopAssignment)
class WorkshopAssignmentAdmin(_AssignedByName, RelatedAsTextMixin, _SeatFieldsReadOnlyOnceBooked):
    form = WorkshopAssignmentForm
    list_display = ("seller", "session", "status", "outcome", "assigned_by_name", "assigned_at")
    list_filter = ("status", "outcome", "session__workshop")
    list_select_related = ("seller", "session__workshop", "assigned_by")
    search_fields = ("seller__name", "=seller__external_id", "seller__email")
    autocomplete_fields = ("seller",)
    show_full_result_count = False
    actions = ["mark_passed", "mark_needs_followup", "mark_no_show", "cancel_seats"]

    def save_model(self, request, obj, form, change):
        if change:
            return
        # A new seat goes through the service: capacity claim, email through the outbox, case closed.
        assignment = services.workshop_assign(session=form.cleaned_data["session"], seller=form.cleaned_data["seller"], actor=request.user)
        obj.pk = assignment.pk

    def _attendance(self, request, queryset, *, attended, outcome):
        done = 0
        for assignment in queryset:
            try:
                services.workshop_attendance_record(assignment=assignment, attended=attended, outcome=outcome, actor=request.user)
                done += 1
            except (ValidationError, PermissionDenied) as exc:
                self.message_user(request, f"{assignment}: {'; '.join(getattr(exc, 'messages', [str(exc)]))}", level=messages.ERROR)
        if done:
            self.message_user(request, f"Attendance recorded for {plural(done, 'seat')}.")

    @admin.action(description="Attended: passed", permissions=["change"])
    def mark_passed(self, request, queryset):
        self._attendance(request, queryset, attended=True, outcome=WorkshopOutcome.PASSED)

    @admin.action(description="Attended: needs follow-up", permissions=["change"])
    def mark_needs_followup(self, request, queryset):
        self._attendance(request, queryset, attended=True, outcome=WorkshopOutcome.NEEDS_FOLLOWUP)

    @admin.action(description="Did not attend", permissions=["change"])
    def mark_no_show(self, request, queryset):
        self._attendance(request, queryset, attended=False, outcome="")

    @admin.action(description="Cancel seat (frees it)", permissions=["change"])
    def cancel_seats(self, request, queryset):
        done = 0
        for assignment in queryset.filter(status=AssignmentStatus.ASSIGNED):
            services.workshop_assignment_cancel(assignment=assignment, actor=request.user)
            done += 1
        self.message_user(request, f"Cancelled {plural(done, 'seat')}; the seats are free again.")


# --- Queues -----------------------------------------------------------------------------


class CaseQueueAdmin(CaseWorkbenchMixin, admin.ModelAdmin):
    """The onboarding and inventory queues: score, reasons, SLA, assignee, and the shared case panel."""

    # The workbench's own columns (SLA, assignee) write an empty cell as Kiln's dash; Django's "-" would sit beside it.
    empty_value_display = DASH

    kinds: tuple = ()
    list_display = ("id", "kind", "subject_link", "score", "top_reasons", "status", "assignee_short", "sla_state")
    list_display_links = ("id", "kind")
    list_filter = ("kind", "status", "team")
    list_select_related = ("seller", "buyer", "assignee")
    search_fields = ("=id", "seller__name", "seller__email", "=seller__external_id")
    ordering = ("priority", "due_at")

    def get_queryset(self, request):
        return super().get_queryset(request).filter(kind__in=self.kinds)

    @admin.display(description="score")
    def score(self, case):
        return (case.evidence or {}).get("score")

    @admin.display(description="reasons")
    def top_reasons(self, case):
        return _reasons_html((case.evidence or {}).get("reasons"), limit=3)


@admin.register(OnboardingQueueCase)
class OnboardingQueueCaseAdmin(CaseQueueAdmin):
    kinds = ONBOARDING_KINDS
    actions = [*CaseWorkbenchMixin.bulk_actions, "approve_reviews", "reject_reviews", "request_info", "complete_calls",
               "assign_workshop"]
    change_list_template = "admin/sellers/onboardingqueuecase/change_list.html"

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "kpis": onboarding_kpis()}
        return super().changelist_view(request, extra_context=extra_context)


@admin.register(InventoryAuditCase)
class InventoryAuditCaseAdmin(CaseQueueAdmin):
    kinds = (CaseKind.INVENTORY_AUDIT,)
    list_display = ("id", "subject_link", "flagged", "status", "assignee_short", "sla_state")
    list_display_links = ("id",)
    actions = [*CaseWorkbenchMixin.bulk_actions, "mark_fixed"]

    @admin.display(description="flagged listings")
    def flagged(self, case):
        return (case.evidence or {}).get("flagged_listings")
