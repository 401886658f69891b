from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from buyers import admin_lifetime  # noqa: F401 - registers LifetimeFit
from casework.evidence import evidence_html
from casework.models import case_kind_label
from retention import audiences, impact
from buyers import retention_display
from buyers.retention_display import churn_label, clv_label, p_alive_label
from buyers.models import (
    UpliftTargeting,
    Buyer,
    BuyerRetention,
    BuyerSegmentChange,
    CampaignAudience,
    InterventionAssignment,
    RetentionSettings,
    SellerDormancy,
)
from core import formatting
from core.admin import EmptyStateMixin, Profile360Mixin, ReadOnlyAdmin, RelatedAsTextMixin, SingletonAdmin
from core.roles import is_marketplace_admin


@admin.register(Buyer)
class BuyerAdmin(Profile360Mixin, admin.ModelAdmin):
    list_display = ("name_360", "external_id", "email", "joined_at")
    list_display_links = None
    search_fields = ("=id", "name", "email", "=external_id")
    show_full_result_count = False
    readonly_fields = ("created_at", "updated_at")
    exclude = ("synthetic_cadence_days", "synthetic_churned_at")
    profile_template = "admin/buyers/buyer/profile_360.html"


@admin.register(BuyerRetention)
class BuyerRetentionAdmin(ReadOnlyAdmin):
    list_display = (
        "buyer_link", "segment", "churn_band", churn_label, p_alive_label, clv_label, "cadence_state", "days_since", "computed_at",
    )
    list_filter = ("segment", "churn_band", "cadence_state")
    list_select_related = ("buyer", "top_seller")
    search_fields = ("=buyer__id", "buyer__name", "buyer__email", "=buyer__external_id")
    show_full_result_count = False
    ordering = ("-churn_probability",)

    @admin.display(description="buyer", ordering="buyer__name")
    def buyer_link(self, row):
        return format_html('<a href="{}">{}</a>', reverse("admin:buyers_buyer_360", args=[row.buyer_id]), row.buyer.name)

    @admin.display(description="days since last order", ordering="days_since_last_order")
    def days_since(self, row):
        return formatting.decimal(row.days_since_last_order, 0)

    fieldsets = (
        (None, {"fields": ("buyer", "segment", "segment_since", "churn_band", "computed_at", "reasons_list")}),
        ("Orders", {"fields": ("order_count", "frequency", "first_order_at", "last_order_at", "total_spend_shown",
                               "average_order_value_shown", "recency", "age", "days_since_shown")}),
        ("Outlook", {"fields": ("p_alive_shown", "churn_shown", "expected_purchases", "expected_order_value_shown",
                                "clv_shown", "lifetime_model", "churn_model_version")}),
        ("Cadence", {"fields": ("cadence_state", "cadence", "cadence_is_estimated", "next_purchase_from", "next_purchase_to")}),
        ("Recommendations", {"fields": ("top_seller", "recommended_artisans", "recommended_listings")}),
    )

    @admin.display(description="why")
    def reasons_list(self, row):
        return retention_display.reasons_html(row.reasons)

    @admin.display(description="total spend")
    def total_spend_shown(self, row):
        return formatting.money(row.total_spend)

    @admin.display(description="average order value")
    def average_order_value_shown(self, row):
        return formatting.money(row.average_order_value)

    @admin.display(description="expected order value")
    def expected_order_value_shown(self, row):
        return formatting.money(row.expected_order_value)

    @admin.display(description="12-month CLV")
    def clv_shown(self, row):
        return clv_label(row)

    @admin.display(description="P(alive)")
    def p_alive_shown(self, row):
        return p_alive_label(row)

    @admin.display(description="churn probability")
    def churn_shown(self, row):
        return churn_label(row)

    @admin.display(description="expected purchases in 90 days")
    def expected_purchases(self, row):
        return formatting.decimal(row.expected_purchases_90d, 1)

    @admin.display(description="first to last purchase")
    def recency(self, row):
        return formatting.days(row.recency_days)

    @admin.display(description="since first purchase")
    def age(self, row):
        return formatting.days(row.age_days)

    @admin.display(description="since last order")
    def days_since_shown(self, row):
        return formatting.days(row.days_since_last_order)

    @admin.display(description="typical days between purchases")
    def cadence(self, row):
        return formatting.days(row.cadence_days)

    @admin.display(description="recommended artisans")
    def recommended_artisans(self, row):
        return retention_display.recommended_artisans_html(row)

    @admin.display(description="recommended listings")
    def recommended_listings(self, row):
        return retention_display.recommended_listings_html(row)


@admin.register(BuyerSegmentChange)
class BuyerSegmentChangeAdmin(ReadOnlyAdmin):
    list_display = ("buyer", "from_segment", "to_segment", "changed_at")
    list_filter = ("to_segment", "from_segment")
    list_select_related = ("buyer",)
    search_fields = ("=buyer__id", "buyer__name", "buyer__email", "=buyer__external_id")
    show_full_result_count = False


@admin.register(SellerDormancy)
class SellerDormancyAdmin(ReadOnlyAdmin):
    list_display = ("seller", "is_flagged", "in_off_season", "explanation", "computed_at")
    list_filter = ("is_flagged", "in_off_season")
    list_select_related = ("seller",)
    search_fields = ("=seller__id", "seller__name", "seller__email", "=seller__external_id")
    fields = ("seller", "is_flagged", "in_off_season", "explanation", "signals_shown", "computed_at")

    @admin.display(description="signals")
    def signals_shown(self, row):
        return retention_display.dormancy_signals_html(row.signals)


@admin.register(RetentionSettings)
class RetentionSettingsAdmin(SingletonAdmin):
    list_display = ("__str__", "holdout_share", "churn_band_medium_from", "churn_band_high_from", "updated_at")

    def has_change_permission(self, request, obj=None):
        return is_marketplace_admin(request.user)


@admin.register(CampaignAudience)
class CampaignAudienceAdmin(EmptyStateMixin, RelatedAsTextMixin, admin.ModelAdmin):
    empty_state = ("A campaign audience is a saved group of buyers to contact, chosen by segment, churn band, "
                   "purchase cadence or expiring points, and exported as CSV for a campaign. Marketplace admins add them.")

    list_display = ("name", "segments", "churn_bands", "cadence_states", "points_expiring_within_days", "created_by", "created_at")
    list_select_related = ("created_by",)
    search_fields = ("name",)
    readonly_fields = ("created_by", "created_at", "updated_at")
    actions = ["export_csv"]

    def has_add_permission(self, request):
        return is_marketplace_admin(request.user)

    def has_change_permission(self, request, obj=None):
        return is_marketplace_admin(request.user)

    def has_delete_permission(self, request, obj=None):
        return is_marketplace_admin(request.user)

    def save_model(self, request, obj, form, change):
        audiences.audience_save(
            actor=request.user,
            name=obj.name,
            filters=audiences.audience_filters_of(obj),
            audience=obj,
        )

    @admin.action(description="Export the selected audience as CSV", permissions=["view"])
    def export_csv(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one audience to export.", level=messages.WARNING)
            return None
        audience = queryset.get()
        response = StreamingHttpResponse(
            audiences.audience_csv_lines(filters=audiences.audience_filters_of(audience)), content_type="text/csv"
        )
        response["Content-Disposition"] = f'attachment; filename="audience-{audience.pk}-{timezone.now():%Y%m%d}.csv"'
        return response


class PlayFilter(admin.SimpleListFilter):
    """The stored kind is a case-kind code; staff pick the play by the name its cases carry."""

    title = "play"
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        kinds = model_admin.get_queryset(request).order_by("kind").values_list("kind", flat=True).distinct()
        return [(kind, case_kind_label(kind)) for kind in kinds]

    def queryset(self, request, queryset):
        return queryset.filter(kind=self.value()) if self.value() else queryset


@admin.register(InterventionAssignment)
class InterventionAssignmentAdmin(ReadOnlyAdmin):
    list_display = ("play", "arm", "buyer", "seller", "flagged_at", "window_ends_at", "case_link")
    list_filter = (PlayFilter, "arm")
    # The case column names the case by number and kind only: its subject is already in this row.
    list_select_related = ("buyer", "seller", "case")
    search_fields = ("=buyer__id", "buyer__name", "buyer__email", "=seller__id", "seller__name", "seller__email")
    show_full_result_count = False
    list_per_page = 50
    change_list_template = "admin/buyers/interventionassignment/change_list.html"
    fields = ("play", "arm", "buyer", "seller", "flagged_at", "window_ends_at", "case_link", "evidence_shown")
    readonly_fields = fields

    @admin.display(description="play", ordering="kind")
    def play(self, assignment):
        return case_kind_label(assignment.kind)

    @admin.display(description="evidence")
    def evidence_shown(self, assignment):
        # The same evidence the case was opened with, so it reads as it does on the case page.
        return evidence_html(assignment.evidence)

    @admin.display(description="case", ordering="case")
    def case_link(self, assignment):
        if assignment.case_id is None:
            return "—"
        url = reverse("admin:casework_case_change", args=[assignment.case_id])
        return format_html('<a href="{}">#{} {}</a>', url, assignment.case_id, assignment.case.get_kind_display())

    def get_urls(self):
        custom = [path("impact/", self.admin_site.admin_view(self.impact_view), name="buyers_intervention_impact")]
        return custom + super().get_urls()

    def impact_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "title": "Intervention impact: retention of treated vs held-out subjects",
            "rows": impact.intervention_report_shown(impact.intervention_report(include_open=request.GET.get("include_open") == "1")),
            "include_open": request.GET.get("include_open") == "1",
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/buyers/interventionassignment/impact.html", context)


@admin.register(UpliftTargeting)
class UpliftTargetingAdmin(admin.ModelAdmin):
    """Admins switch a case kind's queue to uplift order; the service checks the role and the model."""

    list_display = ("kind", "order_by", "updated_by", "updated_at")
    fields = ("kind", "order_by")

    def save_model(self, request, obj, form, change):
        from django.core.exceptions import PermissionDenied, ValidationError

        from retention.uplift import uplift_targeting_set

        try:
            saved = uplift_targeting_set(case_kind=obj.kind, order_by=obj.order_by, actor=request.user)
        except (PermissionDenied, ValidationError) as exc:
            messages.error(request, "; ".join(getattr(exc, "messages", [str(exc)])))
            return
        obj.pk, obj.updated_by = saved.pk, saved.updated_by
