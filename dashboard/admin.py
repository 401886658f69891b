from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

from core.admin import OwnHistoryMixin, ReadOnlyAdmin, labelled_values_filter
from core.formatting import DASH, day_and_time, day_range, decimal, percent, person_name, quantity
from core.roles import is_marketplace_admin
from dashboard import services
from dashboard.alert_evidence import alert_evidence_fields, dashboard_link
from dashboard.kpis import kpi_group_label, kpi_numerator_display, kpi_value_display
from dashboard.models import Alert, AlertStatus, AlertThreshold, KpiSnapshot, threshold_display


@admin.register(AlertThreshold)
class AlertThresholdAdmin(admin.ModelAdmin):
    list_display = ("kpi", "alert_when", "value", "window_days", "min_volume", "team", "is_active", "updated_at", "updated_by")
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

    @admin.display(description="alert when the KPI", ordering="condition")
    def alert_when(self, threshold):
        return threshold_display(threshold.kpi, threshold.condition, threshold.value)

    def save_model(self, request, obj, form, change):
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)


class CloseAlertForm(forms.Form):
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}), label="Why close these alerts?",
        error_messages={"required": "Say why the alerts are closed; the note is kept in each alert's history."},
    )


@admin.register(Alert)
class AlertAdmin(OwnHistoryMixin, admin.ModelAdmin):
    list_display = ("opened_at", "kpi", "status", "value_display", "baseline_display", "threshold_display",
                    "period_display", "cases_opened", "last_seen_at")
    list_filter = ("status", "kpi")
    list_select_related = ("threshold",)
    date_hierarchy = "opened_at"
    show_full_result_count = False
    actions = ["close_selected"]
    change_form_template = "admin/dashboard/alert/change_form.html"
    # Alerts change through their page's buttons, never the admin form: "History" is the page's own section.
    own_history_anchor = "alert-history"
    # The stored JSON is never shown: the page template shows the evidence as labelled fields.
    fields = ("status_display",)
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="Value", ordering="value")
    def value_display(self, alert):
        return kpi_value_display(alert.kpi, alert.value)

    @admin.display(description="Previous period", ordering="baseline")
    def baseline_display(self, alert):
        return DASH if alert.baseline is None else kpi_value_display(alert.kpi, alert.baseline)

    @admin.display(description="Threshold", ordering="threshold_value")
    def threshold_display(self, alert):
        return threshold_display(alert.kpi, alert.threshold.condition, alert.threshold_value)

    @admin.display(description="Period", ordering="period_start")
    def period_display(self, alert):
        return day_range(alert.period_start, alert.period_end)

    @admin.display(description="Status")
    def status_display(self, alert):
        if alert.status == AlertStatus.OPEN:
            return "Open"
        by = f" by {person_name(alert.resolved_by)}" if alert.resolved_by_id else ""
        note = f": {alert.resolution_note}" if alert.resolution_note else ""
        return f"Closed{by} on {day_and_time(alert.resolved_at)}{note}"

    # --- one alert, from its page ----------------------------------------------------------
    def get_urls(self):
        custom = [path("<int:alert_id>/act/<str:verb>/", self.admin_site.admin_view(self.alert_act_view),
                       name="dashboard_alert_act")]
        return custom + super().get_urls()

    def alert_act_view(self, request, alert_id: int, verb: str):
        alert = get_object_or_404(Alert, pk=alert_id)
        change_url = reverse("admin:dashboard_alert_change", args=[alert.pk])
        if request.method != "POST":
            return HttpResponseRedirect(change_url)
        if not self.has_change_permission(request, alert):
            raise PermissionDenied("Only marketplace admins acknowledge or close KPI alerts; you can read this one.")
        try:
            self.message_user(request, services.alert_act(alert_id=alert.pk, verb=verb, actor=request.user,
                                                          note=request.POST.get("note", "")), level=messages.SUCCESS)
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), level=messages.ERROR)
        return HttpResponseRedirect(change_url)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        alert = self.get_object(request, object_id)
        if alert is not None:
            extra_context = {
                **(extra_context or {}),
                "alert_panel": {
                    "can_change": self.has_change_permission(request, alert),
                    "is_open": alert.status == AlertStatus.OPEN,
                    # The evidence links only to pages this viewer may open.
                    "evidence": alert_evidence_fields(alert, user=request.user),
                    "history": list(alert.events.select_related("actor")),
                    "dashboard_url": dashboard_link(alert),
                },
            }
        return super().change_view(request, object_id, form_url, extra_context)

    # --- many alerts, from the list ----------------------------------------------------------
    @admin.action(description="Close selected alerts (cause understood)…", permissions=["change"])
    def close_selected(self, request, queryset):
        alerts = list(queryset.filter(status=AlertStatus.OPEN).select_related("threshold")[:100])
        if not alerts:
            self.message_user(request, "None of the selected alerts is open; nothing was changed.", level=messages.WARNING)
            return None
        form = CloseAlertForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return TemplateResponse(request, "admin/dashboard/alert/close_form.html", {
                **self.admin_site.each_context(request), "title": "Close KPI alerts", "opts": self.opts,
                "alerts": alerts, "form": form, "action": "close_selected",
            })
        closed = 0
        for alert in alerts:
            try:
                closed += services.alert_resolve(alert_id=alert.pk, actor=request.user, note=form.cleaned_data["note"])
            except (PermissionDenied, ValidationError) as exc:
                self.message_user(request, " ".join(getattr(exc, "messages", [str(exc)])), level=messages.ERROR)
                return None
        skipped = len(alerts) - closed
        self.message_user(request, f"Closed {closed} alert(s)." + (f" {skipped} had closed meanwhile." if skipped else ""))
        return None


@admin.register(KpiSnapshot)
class KpiSnapshotAdmin(ReadOnlyAdmin):
    list_display = ("as_of", "kpi", "group_by", "group_display", "value_display", "numerator_display", "denominator_display",
                    "window_days")
    list_filter = ("kpi", "group_by", "window_days")
    date_hierarchy = "as_of"
    show_full_result_count = False
    fields = ("as_of", "kpi", "group_by", "group_display", "value_display", "numerator_display", "denominator_display",
              "window_days", "computed_at")
    readonly_fields = fields

    @admin.display(description="Group", ordering="group")
    def group_display(self, snapshot):
        return kpi_group_label(snapshot.group)

    @admin.display(description="Value", ordering="value")
    def value_display(self, snapshot):
        return kpi_value_display(snapshot.kpi, snapshot.value)

    @admin.display(description="Numerator", ordering="numerator")
    def numerator_display(self, snapshot):
        return kpi_numerator_display(snapshot.kpi, snapshot.numerator)

    @admin.display(description="Denominator", ordering="denominator")
    def denominator_display(self, snapshot):
        return quantity(snapshot.denominator)


from sellers.models import ListingHealth, category_label  # noqa: E402 - the listing-level list behind the underperforming-listings KPI


@admin.register(ListingHealth)
class ListingHealthAdmin(ReadOnlyAdmin):
    """Beside the KPI it explains: each judged listing, and why it underperforms (docs/kpis.md)."""

    list_display = (
        "listing", "seller", "category_display", "age_days", "sales_rate", "category_rate", "returned", "is_underperforming", "computed_at"
    )
    list_filter = ("is_underperforming", ("category", labelled_values_filter(category_label)))
    list_select_related = ("listing", "seller")
    search_fields = ("listing__title", "seller__name", "=seller__external_id")
    show_full_result_count = False
    exclude = ("reasons", "monthly_rate", "category_norm", "return_share", "category")
    readonly_fields = ("category_display", "sales_rate", "category_rate", "returned", "why")

    @admin.display(description="category", ordering="category")
    def category_display(self, obj):
        return category_label(obj.category)

    @admin.display(description="sales per month", ordering="monthly_rate")
    def sales_rate(self, obj):
        return f"{decimal(obj.monthly_rate, 2)} units"

    @admin.display(description="category norm per month", ordering="category_norm")
    def category_rate(self, obj):
        return f"{decimal(obj.category_norm, 2)} units"

    @admin.display(description="returned", ordering="return_share")
    def returned(self, obj):
        return percent(obj.return_share)

    @admin.display(description="why it underperforms")
    def why(self, obj):
        if not obj.reasons:
            return "Nothing: the listing sells at or above its category's norm."
        return format_html_join(mark_safe("<br>"), "{}", ((reason,) for reason in obj.reasons))
