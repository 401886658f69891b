from django.contrib import admin
from django.utils.html import format_html

from casework.admin_workbench import CaseWorkbenchMixin
from casework.models import Case
from casework.ordering import WORKBENCH_ORDERING
from core.roles import visible_teams


class QueueFilter(admin.SimpleListFilter):
    title = "queue"
    parameter_name = "queue"

    def lookups(self, request, model_admin):
        return [
            ("mine", "My cases"),
            ("unassigned", "Unassigned for my team"),
            ("overdue", "Overdue"),
            ("active", "All open"),
        ]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "mine":
            return queryset.active().assigned_to(request.user)
        if value == "unassigned":
            return queryset.active().unassigned().filter(team__in=visible_teams(request.user))
        if value == "overdue":
            return queryset.overdue()
        if value == "active":
            return queryset.active()
        return queryset


class SubjectTypeFilter(admin.SimpleListFilter):
    title = "subject"
    parameter_name = "subject"

    def lookups(self, request, model_admin):
        return [("seller", "Sellers"), ("buyer", "Buyers")]

    def queryset(self, request, queryset):
        if self.value() == "seller":
            return queryset.filter(seller__isnull=False)
        if self.value() == "buyer":
            return queryset.filter(buyer__isnull=False)
        return queryset


@admin.register(Case)
class CaseAdmin(CaseWorkbenchMixin, admin.ModelAdmin):
    # Six narrow columns and a wrapped reason: the table fits a 1366 px screen.
    list_display = ("id", "kind_and_priority", "subject_link", "status_and_assignee", "sla_state", "short_reason")
    list_display_links = ("id", "kind_and_priority")
    list_filter = (QueueFilter, "kind", "team", "status", "priority", SubjectTypeFilter)
    list_select_related = ("seller", "buyer", "assignee")
    search_fields = (
        "=id",
        "seller__name",
        "seller__email",
        "=seller__external_id",
        "buyer__name",
        "buyer__email",
        "=buyer__external_id",
    )
    ordering = WORKBENCH_ORDERING
    actions = [*CaseWorkbenchMixin.bulk_actions, "approve_reviews", "reject_reviews", "request_info", "complete_calls",
               "assign_workshop", "mark_fixed"]

    @admin.display(description="case", ordering="kind")
    def kind_and_priority(self, case):
        return format_html("{}<br><small class='quiet'>{} priority · opened {}</small>",
                           case.get_kind_display(), case.get_priority_display().lower(), f"{case.created_at:%d %b}")

    @admin.display(description="status", ordering="status")
    def status_and_assignee(self, case):
        who = case.assignee.get_username() if case.assignee_id else "unassigned"
        return format_html("{}<br><small class='quiet'>{}</small>", case.get_status_display(), who)

    @admin.display(description="reason")
    def short_reason(self, case):
        text = case.reason if len(case.reason) <= 110 else case.reason[:107] + "…"
        evidence = case.evidence if isinstance(case.evidence, dict) else {}
        reasons = evidence.get("reasons")
        top = ""
        if reasons:
            parts = [str(r.get("text", r)) if isinstance(r, dict) else str(r) for r in reasons[:2]]
            top = " ".join(part if part.endswith((".", "!", "?")) else part + "." for part in parts)
        score = evidence.get("score")
        prefix = f"Score {score}. " if score is not None and not text.lower().startswith("score") else ""
        return format_html('<div class="kiln-reason">{}{}<br><small>{}</small></div>', prefix, text, top)
