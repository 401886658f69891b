from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from casework import services
from casework.kinds import outcome_choices
from casework.models import ACTIVE_STATUSES, Case, CaseEvent, Outcome
from core.roles import is_marketplace_admin, visible_teams


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


class CaseEventInline(admin.TabularInline):
    model = CaseEvent
    extra = 0
    can_delete = False
    fields = ("at", "actor", "action", "field", "from_value", "to_value", "note")
    readonly_fields = fields
    ordering = ("at", "pk")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class CloseForm(forms.Form):
    outcome = forms.ChoiceField(choices=Outcome.choices)
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)

    def __init__(self, *args, kinds=(), **kwargs):
        super().__init__(*args, **kwargs)
        # No preselected outcome: staff choose one that fits the kind of case they are closing.
        self.fields["outcome"].choices = [("", "— choose an outcome —"), *outcome_choices(kinds)]


class CommentForm(forms.Form):
    note = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "kind",
        "subject_link",
        "priority",
        "status",
        "assignee",
        "sla_state",
        "score",
        "short_reason",
        "created_at",
    )
    list_display_links = ("id", "kind")
    list_filter = (QueueFilter, "kind", "team", "status", "priority", SubjectTypeFilter)
    list_select_related = ("seller", "buyer", "assignee")
    search_fields = (
        "=id",
        "seller__name",
        "seller__email",
        "seller__external_id",
        "buyer__name",
        "buyer__email",
        "buyer__external_id",
    )
    ordering = ("priority", "due_at")
    list_per_page = 50
    show_full_result_count = False
    inlines = [CaseEventInline]
    actions = ["assign_to_me", "resolve_selected", "dismiss_selected"]
    readonly_fields = (
        "kind",
        "team",
        "seller",
        "buyer",
        "status",
        "priority",
        "assignee",
        "due_at",
        "reason",
        "evidence",
        "outcome",
        "resolution_note",
        "created_at",
        "updated_at",
        "closed_at",
    )
    change_form_template = "admin/casework/case/change_form.html"

    def has_add_permission(self, request):
        # Cases are opened by Kiln's services, never typed in by hand.
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if is_marketplace_admin(request.user):
            return queryset
        return queryset.filter(team__in=visible_teams(request.user))

    @admin.display(description="subject")
    def subject_link(self, case):
        if case.seller_id:
            url = reverse("admin:sellers_seller_change", args=[case.seller_id])
            return format_html('<a href="{}">{}</a>', url, case.seller.name)
        url = reverse("admin:buyers_buyer_change", args=[case.buyer_id])
        return format_html('<a href="{}">{}</a>', url, case.buyer.name)

    @admin.display(description="SLA", ordering="due_at")
    def sla_state(self, case):
        if case.status not in ACTIVE_STATUSES:
            return "—"
        remaining = case.due_at - timezone.now()
        hours = int(remaining.total_seconds() // 3600)
        if hours < 0:
            return format_html('<span style="color:#b00;font-weight:bold">overdue {}h</span>', -hours)
        return f"{hours}h left"

    @admin.display(description="score")
    def score(self, case):
        # Scoring services put the score and its top reasons in the evidence when they open a case.
        value = case.evidence.get("score") if isinstance(case.evidence, dict) else None
        return "—" if value is None else value

    @admin.display(description="reason")
    def short_reason(self, case):
        text = case.reason if len(case.reason) <= 120 else case.reason[:117] + "…"
        reasons = case.evidence.get("reasons") if isinstance(case.evidence, dict) else None
        top = ""
        if reasons:
            parts = [str(r.get("text", r)) if isinstance(r, dict) else str(r) for r in reasons[:2]]
            top = " ".join(part if part.endswith((".", "!", "?")) else part + "." for part in parts)
        return format_html('<div style="min-width:22em;max-width:40em;white-space:normal">{}<br><small>{}</small></div>', text, top)

    @admin.action(description="Assign to me", permissions=["change"])
    def assign_to_me(self, request, queryset):
        count = services.case_assign_many(case_ids=list(queryset.values_list("pk", flat=True)), assignee=request.user, actor=request.user)
        skipped = queryset.count() - count
        self.message_user(request, f"Assigned {count} case(s) to you." + (f" Skipped {skipped} closed or other-team case(s)." if skipped else ""))

    def _close_selected(self, request, queryset, *, dismiss: bool):
        kinds = list(queryset.values_list("kind", flat=True).distinct())
        form = CloseForm(request.POST if "apply" in request.POST else None, kinds=kinds)
        if dismiss:
            form.fields["outcome"].required = False
            form.fields["note"].required = True
        if form.is_bound and form.is_valid():
            done, errors = 0, []
            for case in queryset.select_related("seller", "buyer"):
                try:
                    if dismiss:
                        services.case_dismiss(case=case, note=form.cleaned_data["note"], actor=request.user)
                    else:
                        services.case_resolve(
                            case=case, outcome=form.cleaned_data["outcome"], note=form.cleaned_data["note"], actor=request.user
                        )
                    done += 1
                except (ValidationError, PermissionDenied) as exc:
                    errors.append(f"#{case.pk}: {'; '.join(getattr(exc, 'messages', [str(exc)]))}")
            verb = "Dismissed" if dismiss else "Resolved"
            self.message_user(request, f"{verb} {done} case(s).")
            for error in errors:
                self.message_user(request, error, level=messages.WARNING)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Dismiss cases" if dismiss else "Resolve cases",
            "cases": queryset.select_related("seller", "buyer"),
            "form": form,
            "action": request.POST.get("action"),
            "opts": self.model._meta,
            "dismiss": dismiss,
        }
        return TemplateResponse(request, "admin/casework/case/close_selected.html", context)

    @admin.action(description="Resolve selected with an outcome…", permissions=["change"])
    def resolve_selected(self, request, queryset):
        return self._close_selected(request, queryset, dismiss=False)

    @admin.action(description="Dismiss selected…", permissions=["change"])
    def dismiss_selected(self, request, queryset):
        return self._close_selected(request, queryset, dismiss=True)

    # --- one-case actions from the case page -------------------------------
    def get_urls(self):
        custom = [
            path("<int:case_id>/act/<str:verb>/", self.admin_site.admin_view(self.case_act_view), name="casework_case_act"),
        ]
        return custom + super().get_urls()

    def case_act_view(self, request, case_id: int, verb: str):
        case = get_object_or_404(self.get_queryset(request), pk=case_id)
        if request.method != "POST" or not self.has_change_permission(request, case):
            raise PermissionDenied
        try:
            if verb == "assign_me":
                services.case_assign(case=case, assignee=request.user, actor=request.user)
            elif verb == "resolve":
                form = CloseForm(request.POST, kinds=[case.kind])
                if not form.is_valid():
                    raise ValidationError(form.errors.as_text())
                services.case_resolve(case=case, outcome=form.cleaned_data["outcome"], note=form.cleaned_data["note"], actor=request.user)
            elif verb == "dismiss":
                services.case_dismiss(case=case, note=request.POST.get("note", ""), actor=request.user)
            elif verb == "comment":
                services.case_comment(case=case, note=request.POST.get("note", ""), actor=request.user)
            else:
                raise PermissionDenied
            self.message_user(request, f"Case #{case.pk}: {verb.replace('_', ' ')} done.")
        except ValidationError as exc:
            self.message_user(request, "; ".join(exc.messages), level=messages.ERROR)
        return HttpResponseRedirect(reverse("admin:casework_case_change", args=[case.pk]))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        case = self.get_object(request, object_id)
        kinds = [case.kind] if case else []
        extra_context = {**(extra_context or {}), "close_form": CloseForm(kinds=kinds), "comment_form": CommentForm()}
        return super().change_view(request, object_id, form_url, extra_context)
