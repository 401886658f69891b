from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError

from core.admin import ReadOnlyAdmin
from core.roles import is_marketplace_admin
from dashboard import services
from dashboard.models import Alert, AlertStatus, AlertThreshold, KpiSnapshot


@admin.register(AlertThreshold)
class AlertThresholdAdmin(admin.ModelAdmin):
    list_display = ("kpi", "condition", "value", "window_days", "min_volume", "team", "is_active", "updated_at", "updated_by")
    list_editable = ("value", "is_active")
    list_filter = ("team", "is_active")
    list_select_related = ("updated_by",)
    readonly_fields = ("updated_at", "updated_by")

    def has_add_permission(self, request):
        return is_marketplace_admin(request.user) and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None):
        return is_marketplace_admin(request.user) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return is_marketplace_admin(request.user) and super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)


class CloseAlertForm(forms.Form):
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}))


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = ("opened_at", "kpi", "status", "value", "baseline", "threshold_value", "period_start", "period_end",
                    "cases_opened", "last_seen_at")
    list_filter = ("status", "kpi")
    list_select_related = ("threshold",)
    date_hierarchy = "opened_at"
    show_full_result_count = False
    actions = ["close_selected"]
    readonly_fields = [f.name for f in Alert._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Close selected alerts (cause understood)", permissions=["change"])
    def close_selected(self, request, queryset):
        note = "Closed from the alert list."
        closed = 0
        for alert_id in queryset.filter(status=AlertStatus.OPEN).values_list("pk", flat=True)[:100]:
            try:
                closed += services.alert_resolve(alert_id=alert_id, actor=request.user, note=note)
            except (PermissionDenied, ValidationError) as exc:
                self.message_user(request, str(exc), level=messages.ERROR)
                return
        self.message_user(request, f"Closed {closed} alert(s).")


@admin.register(KpiSnapshot)
class KpiSnapshotAdmin(ReadOnlyAdmin):
    list_display = ("as_of", "kpi", "group_by", "group", "value", "numerator", "denominator", "window_days")
    list_filter = ("kpi", "group_by", "window_days")
    date_hierarchy = "as_of"
    show_full_result_count = False


from sellers.models import ListingHealth  # noqa: E402 - the listing-level list behind the underperforming-listings KPI


@admin.register(ListingHealth)
class ListingHealthAdmin(ReadOnlyAdmin):
    """Beside the KPI it explains: each judged listing, and why it underperforms (docs/kpis.md)."""

    list_display = ("listing", "seller", "category", "age_days", "monthly_rate", "category_norm", "return_share", "is_underperforming", "computed_at")
    list_filter = ("is_underperforming", "category")
    list_select_related = ("listing", "seller")
    search_fields = ("listing__title", "seller__name", "=seller__external_id")
    show_full_result_count = False
    readonly_fields = ("reasons",)
