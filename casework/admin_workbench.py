"""The one way a case is worked in the admin, shared by the Case admin and every queue admin.

Each page that shows a case gets the same panel (assign, unassign, resolve, dismiss,
comment, plus the kind's own actions) and the same bulk actions on its list. The admin
collects input and shows the words ``casework.workbench`` returns; nothing else.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models as db
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from casework import ordering, selectors, services, workbench
from casework.evidence import evidence_html
from casework.kinds import outcome_choices, policy_for
from casework.models import ACTIVE_STATUSES, Case, CaseEvent, CaseKind, Team
from core.admin import OwnHistoryMixin
from core.formatting import person_name, plural
from core.roles import can_work_team, is_marketplace_admin, visible_teams


# The bulk actions that work one kind of case; a role is offered only those of kinds its team works.
KIND_BULK_ACTIONS = {
    "approve_reviews": CaseKind.ONBOARDING_REVIEW,
    "reject_reviews": CaseKind.ONBOARDING_REVIEW,
    "request_info": CaseKind.ONBOARDING_REVIEW,
    "complete_calls": CaseKind.ONBOARDING_CALL,
    "assign_workshop": CaseKind.WORKSHOP_ASSIGNMENT,
    "mark_fixed": CaseKind.INVENTORY_AUDIT,
}


def _session_queryset():
    source = workbench.SESSIONS.get("queryset")
    return source() if source else Case.objects.none()


class SessionChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, session):
        return workbench.SESSIONS["label"](session)


class OutcomeField(forms.ChoiceField):
    """Offers the outcomes Resolve does, but lets through any outcome of the kinds.

    An outcome only a kind's own button records is not offered; a request naming one still
    reaches the workbench, which refuses it saying which button to use.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.accepted: set[str] = set()

    def valid_value(self, value):
        return value in self.accepted or super().valid_value(value)


class CaseWorkForm(forms.Form):
    """Input for any action; which fields matter depends on the action."""

    outcome = OutcomeField(required=False)
    note = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2, "cols": 50}))
    session = SessionChoiceField(queryset=Case.objects.none(), required=False, empty_label="— choose a session —")

    def __init__(self, *args, kinds=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["outcome"].choices = [("", "— choose an outcome —"), *workbench.resolve_choices(kinds)]
        self.fields["outcome"].accepted = {value for value, _ in outcome_choices(kinds)}
        self.fields["session"].queryset = _session_queryset()


class CaseEventInline(admin.TabularInline):
    model = CaseEvent
    extra = 0
    can_delete = False
    fields = ("at", "actor_name", "action", "field", "from_shown", "to_shown", "note")
    readonly_fields = fields
    ordering = ("at", "pk")
    verbose_name_plural = "history"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="actor")
    def actor_name(self, event):
        # A name, not the user's admin link: no staff role may open user accounts.
        return person_name(event.actor) if event.actor_id else "Kiln"

    def _names(self, event) -> dict[str, str]:
        # One lookup per case page: inline instances live for one request.
        cache = self.__dict__.setdefault("_history_names", {})
        if event.case_id not in cache:
            cache[event.case_id] = selectors.case_history_names(case_id=event.case_id)
        return cache[event.case_id]

    @admin.display(description="from")
    def from_shown(self, event):
        return selectors.case_event_value(event.field, event.from_value, names=self._names(event))

    @admin.display(description="to")
    def to_shown(self, event):
        return selectors.case_event_value(event.field, event.to_value, names=self._names(event))


class CaseWorkbenchMixin(OwnHistoryMixin):
    """Mix into a ModelAdmin of Case (or a proxy of it)."""

    change_form_template = "admin/casework/case/change_form.html"
    change_list_template = "admin/casework/case/change_list.html"
    inlines = [CaseEventInline]
    # Cases change through the workbench, never the admin form: "History" is the case's own events.
    own_history_inline = CaseEventInline
    list_per_page = 50
    show_full_result_count = False
    bulk_actions = ("assign_to_me", "unassign_selected", "resolve_selected", "dismiss_selected")
    fieldsets = (
        (None, {"fields": ("kind", "team", "subject_link", "status", "priority", "assignee_name", "due_at", "reason")}),
        ("Evidence", {"fields": ("evidence_display",)}),
        ("Outcome", {"fields": ("outcome", "resolution_note", "closed_at")}),
        ("Dates", {"classes": ("collapse",), "fields": ("created_at", "updated_at")}),
    )
    readonly_fields = (
        "kind", "team", "subject_link", "status", "priority", "assignee_name", "due_at", "reason", "evidence_display",
        "outcome", "resolution_note", "closed_at", "created_at", "updated_at",
    )

    # --- permissions and rows ----------------------------------------------------------
    def has_add_permission(self, request):
        # Cases are opened by Kiln's services, never typed in by hand.
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if not is_marketplace_admin(request.user):
            queryset = queryset.filter(team__in=visible_teams(request.user))
        ranking = getattr(request, "kiln_queue_ranking", None)
        if ranking is not None and ranking.scores:
            # The registered orderer's score of each open case; closed cases have none and go last.
            whens = [db.When(pk=pk, then=db.Value(score)) for pk, score in ranking.scores.items()]
            queryset = queryset.annotate(queue_score=db.Case(*whens, default=None, output_field=db.FloatField()))
        return queryset

    # --- the queue's order -------------------------------------------------------------
    def _queue_kind(self, request) -> str | None:
        """The one case kind this list shows, if it shows one: a queue's own kind or the kind filter."""
        kinds = tuple(getattr(self, "kinds", ()) or ())
        if len(kinds) == 1:
            return kinds[0]
        return request.GET.get("kind__exact") or None

    def get_ordering(self, request):
        ranking = getattr(request, "kiln_queue_ranking", None)
        if ranking is not None and ranking.scores:
            return [db.F("queue_score").desc(nulls_last=True), *super().get_ordering(request)]
        return [ordering.OPEN_FIRST, *super().get_ordering(request)]

    def get_actions(self, request):
        actions = super().get_actions(request)
        for name, kind in KIND_BULK_ACTIONS.items():
            if name in actions and not can_work_team(request.user, policy_for(kind).team):
                del actions[name]
        return actions

    def get_list_display(self, request):
        columns = list(super().get_list_display(request))
        ranking = getattr(request, "kiln_queue_ranking", None)
        if ranking is not None and ranking.scores:
            shown = ranking.shown

            @admin.display(description=ranking.column or "score", ordering="queue_score")
            def queue_score(case):
                return shown.get(case.pk, "—")

            columns.insert(min(3, len(columns)), queue_score)
        return columns

    def changelist_view(self, request, extra_context=None):
        kind = self._queue_kind(request)
        orderer = ordering.queue_orderer(kind)
        context = dict(extra_context or {})
        if orderer is not None:
            open_cases = self.get_queryset(request).filter(kind=kind, status__in=ACTIVE_STATUSES)
            ranking = orderer.rank(list(open_cases))
            request.kiln_queue_ranking = ranking
            context["queue_order"] = {
                "kind": kind,
                "kind_label": CaseKind(kind).label if kind in CaseKind.values else kind,
                "ranking": ranking,
                "can_switch": orderer.can_switch(request.user),
                "choices": [(value, label) for value, label in orderer.choices() if value != ranking.order],
                "switch_url": reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_queue_order", args=[kind]),
            }
        return super().changelist_view(request, extra_context=context)

    def queue_order_view(self, request, kind: str):
        """An admin switches the kind's queue order; the registered orderer checks the role."""
        back = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")
        if len(tuple(getattr(self, "kinds", ()) or ())) != 1:
            back += f"?kind__exact={kind}"
        if request.method != "POST":
            return HttpResponseRedirect(back)
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            ordering.queue_order_switch(kind=kind, order_by=request.POST.get("order_by", ""), actor=request.user)
        except ValidationError as exc:
            self.message_user(request, workbench.error_text(exc), level=messages.ERROR)
        else:
            ranking = ordering.queue_ranking(kind, [])
            self.message_user(request, f"The queue is now ordered: {ranking.label.lower()}.", level=messages.SUCCESS)
        # PermissionDenied propagates: only admins switch a queue's order.
        return HttpResponseRedirect(back)

    # --- columns and fields ------------------------------------------------------------
    @admin.display(description="subject")
    def subject_link(self, case):
        if case.seller_id:
            return format_html('<a href="{}">{}</a>', reverse("admin:sellers_seller_360", args=[case.seller_id]), case.seller.name)
        return format_html('<a href="{}">{}</a>', reverse("admin:buyers_buyer_360", args=[case.buyer_id]), case.buyer.name)

    @admin.display(description="evidence")
    def evidence_display(self, case):
        return evidence_html(case.evidence)

    @admin.display(description="SLA", ordering="due_at")
    def sla_state(self, case):
        if case.status not in ACTIVE_STATUSES:
            return "—"
        hours = int((case.due_at - timezone.now()).total_seconds() // 3600)
        if hours < 0:
            return format_html('<span class="kiln-overdue">overdue {}h</span>', -hours)
        return f"{hours}h left"

    @admin.display(description="assignee", ordering="assignee__username")
    def assignee_short(self, case):
        return person_name(case.assignee) if case.assignee_id else "—"

    @admin.display(description="assignee")
    def assignee_name(self, case):
        # A name, not the user's admin link: no staff role may open user accounts.
        return person_name(case.assignee) if case.assignee_id else "Unassigned"

    # --- one case, from its page -------------------------------------------------------
    def _act_url_name(self):
        return f"{self.opts.app_label}_{self.opts.model_name}_act"

    def get_urls(self):
        custom = [
            path("<int:case_id>/act/<str:verb>/", self.admin_site.admin_view(self.case_act_view), name=self._act_url_name()),
            path("queue-order/<str:kind>/", self.admin_site.admin_view(self.queue_order_view),
                 name=f"{self.opts.app_label}_{self.opts.model_name}_queue_order"),
        ]
        return custom + super().get_urls()

    def _change_url(self, case_id):
        return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[case_id])

    def case_act_view(self, request, case_id: int, verb: str):
        case = get_object_or_404(Case, pk=case_id)
        if request.method != "POST":
            return HttpResponseRedirect(self._change_url(case.pk))
        if not self.has_view_permission(request):
            raise PermissionDenied
        session = None
        if request.POST.get("session", "").isdigit():
            session = workbench.SESSIONS["get"](request.POST["session"])
        try:
            message = workbench.case_work(
                case=case, verb=verb, actor=request.user, outcome=request.POST.get("outcome", ""),
                note=request.POST.get("note", ""), session=session,
            )
            self.message_user(request, message, level=messages.SUCCESS)
        except ValidationError as exc:
            self.message_user(request, workbench.error_text(exc), level=messages.ERROR)
        # PermissionDenied propagates: the 403 page says whose case it is.
        return HttpResponseRedirect(self._change_url(case.pk))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        case = self.get_object(request, object_id)
        if case is None and str(object_id).isdigit():
            elsewhere = Case.objects.filter(pk=object_id).first()
            if elsewhere is not None:
                if not can_work_team(request.user, elsewhere.team):
                    raise PermissionDenied(services.case_owner_message(elsewhere))
                # The user's own case, just not in this queue: show it on the case page.
                return HttpResponseRedirect(reverse("admin:casework_case_change", args=[elsewhere.pk]))
        extra_context = {**(extra_context or {}), **(self._panel_context(request, case) if case else {})}
        if case is not None:
            # Everything on the page is read-only, so "Change case" would promise what it does not offer.
            extra_context["title"] = f"Case #{case.pk}: {case.get_kind_display()}"
        return super().change_view(request, object_id, form_url, extra_context)

    def _panel_context(self, request, case) -> dict:
        user = request.user
        verbs = list(workbench.kind_verbs(case.kind))
        if not can_work_team(user, Team.SELLER_SUPPORT):
            # Seating an artisan is seller support's job; customer success approves and hands over.
            verbs = [verb for verb in verbs if verb.name != "approve_and_seat"]
        form = CaseWorkForm(kinds=[case.kind])
        needs_session = any(verb.needs_session for verb in verbs)
        return {
            "work": {
                "can_work": can_work_team(user, case.team),
                "active": case.is_active,
                "mine": case.assignee_id == user.pk,
                "assignee": person_name(case.assignee) if case.assignee_id else "",
                "act_url": self._act_url_name(),
                "form": form,
                "resolve_offered": len(form.fields["outcome"].choices) > 1,
                "kind_verbs": verbs,
                # Labelled as the bulk picker labels them (the registered session label).
                "sessions": [(session.pk, form.fields["session"].label_from_instance(session))
                             for session in form.fields["session"].queryset[:30]] if needs_session else [],
                "session_field": form["session"] if needs_session else None,
                "listings": case.evidence.get("listings", []) if case.kind == CaseKind.INVENTORY_AUDIT and isinstance(case.evidence, dict) else [],
                "subject_url": reverse("admin:sellers_seller_360", args=[case.seller_id]) if case.seller_id else reverse("admin:buyers_buyer_360", args=[case.buyer_id]),
            },
        }

    # --- many cases, from a queue ------------------------------------------------------
    def _report(self, request, verb_past: str, done: int, problems: list[str]):
        self.message_user(request, f"{verb_past} {plural(done, 'case')}.", level=messages.SUCCESS if done else messages.WARNING)
        for problem in problems[:20]:
            self.message_user(request, problem, level=messages.WARNING)
        if len(problems) > 20:
            self.message_user(request, f"…and {len(problems) - 20} more were skipped.", level=messages.WARNING)

    @admin.action(description="Assign to me", permissions=["change"])
    def assign_to_me(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True))
        count = services.case_assign_many(case_ids=ids, assignee=request.user, actor=request.user)
        skipped = len(ids) - count
        self.message_user(request, f"Assigned {plural(count, 'case')} to you."
                          + (f" Skipped {skipped}: closed or another team's." if skipped else ""))

    @admin.action(description="Unassign (back to the team queue)", permissions=["change"])
    def unassign_selected(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True))
        count = services.case_assign_many(case_ids=ids, assignee=None, actor=request.user)
        self.message_user(request, f"Unassigned {plural(count, 'case')}.")

    def _bulk_form(self, request, queryset, *, verb: str, title: str, button: str, fields: tuple, verb_past: str,
                   kinds=None, required: tuple = ()):
        """Ask for the input a bulk action needs, then run it on every selected case."""
        cases = queryset.select_related("seller", "buyer")
        if kinds is not None:
            cases = cases.filter(kind__in=kinds, status__in=ACTIVE_STATUSES)
            if not cases.exists():
                self.message_user(request, f"None of the selected cases can be worked with “{title}”.", level=messages.WARNING)
                return None
        case_kinds = set(cases.values_list("kind", flat=True))
        form = CaseWorkForm(request.POST if "apply" in request.POST else None, kinds=case_kinds)
        if "outcome" in fields and not form.is_bound and not workbench.resolve_choices(case_kinds):
            self.message_user(request, "No outcome fits all the selected cases. Onboarding cases close with their own "
                              "actions; resolve other cases kind by kind, or dismiss them with a reason.",
                              level=messages.WARNING)
            return None
        missing = [name for name in required if form.is_bound and form.is_valid() and not form.cleaned_data.get(name)]
        for name in missing:
            form.add_error(name, {"outcome": "Choose an outcome.", "note": "Say why.", "session": "Choose a session."}[name])
        if form.is_bound and form.is_valid():
            done, problems = workbench.cases_work(
                cases=list(cases), verb=verb, actor=request.user, outcome=form.cleaned_data.get("outcome", ""),
                note=form.cleaned_data.get("note", ""), session=form.cleaned_data.get("session"),
            )
            self._report(request, verb_past, done, problems)
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "cases": cases,
            "form": form,
            "fields": [form[name] for name in fields],
            "button": button,
            "action": request.POST.get("action"),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/casework/case/bulk_form.html", context)

    @admin.action(description="Resolve with an outcome…", permissions=["change"])
    def resolve_selected(self, request, queryset):
        return self._bulk_form(request, queryset, verb="resolve", title="Resolve cases", button="Resolve",
                               fields=("outcome", "note"), verb_past="Resolved", required=("outcome",))

    @admin.action(description="Dismiss with a reason…", permissions=["change"])
    def dismiss_selected(self, request, queryset):
        return self._bulk_form(request, queryset, verb="dismiss", title="Dismiss cases", button="Dismiss",
                               fields=("note",), verb_past="Dismissed", required=("note",))

    def _bulk(self, request, queryset, *, verb: str, kinds, verb_past: str):
        cases = list(queryset.filter(kind__in=kinds).select_related("seller", "buyer"))
        skipped = queryset.exclude(kind__in=kinds).count()
        done, problems = workbench.cases_work(cases=cases, verb=verb, actor=request.user)
        if skipped:
            problems.append(f"Skipped {plural(skipped, 'case')} of another kind.")
        self._report(request, verb_past, done, problems)

    @admin.action(description="Manual review: approve", permissions=["change"])
    def approve_reviews(self, request, queryset):
        self._bulk(request, queryset, verb="approve", kinds=[CaseKind.ONBOARDING_REVIEW], verb_past="Approved")

    @admin.action(description="Manual review: reject", permissions=["change"])
    def reject_reviews(self, request, queryset):
        self._bulk(request, queryset, verb="reject", kinds=[CaseKind.ONBOARDING_REVIEW], verb_past="Rejected")

    @admin.action(description="Manual review: request information…", permissions=["change"])
    def request_info(self, request, queryset):
        return self._bulk_form(request, queryset, verb="request_info", title="Request information", button="Send request",
                               fields=("note",), verb_past="Asked for information on", kinds=[CaseKind.ONBOARDING_REVIEW],
                               required=("note",))

    @admin.action(description="Onboarding call held: complete onboarding", permissions=["change"])
    def complete_calls(self, request, queryset):
        self._bulk(request, queryset, verb="complete_call", kinds=[CaseKind.ONBOARDING_CALL], verb_past="Completed")

    @admin.action(description="Assign to a workshop session…", permissions=["change"])
    def assign_workshop(self, request, queryset):
        return self._bulk_form(request, queryset, verb="seat", title="Assign to a workshop session", button="Assign seats",
                               fields=("session",), verb_past="Seated",
                               kinds=[CaseKind.WORKSHOP_ASSIGNMENT, CaseKind.SELLER_LATE_SHIPMENTS], required=("session",))

    @admin.action(description="Inventory audit: listings fixed", permissions=["change"])
    def mark_fixed(self, request, queryset):
        self._bulk(request, queryset, verb="fixed", kinds=[CaseKind.INVENTORY_AUDIT], verb_past="Resolved as fixed")
