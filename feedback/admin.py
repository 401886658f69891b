import csv
import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from core.admin import ReadOnlyAdmin, RelatedAsTextMixin
from core.roles import is_marketplace_admin
from feedback.models import (
    WEBHOOK_KINDS,
    Answer,
    ExternalQuestion,
    FeedbackSource,
    MatchStatus,
    Question,
    Response,
    ResponseTheme,
    SourceKind,
    Survey,
    SurveyInvitation,
    SyncRun,
    Theme,
    ThemeClassifier,
)
from feedback.parsing import ItemError
from feedback.response_display import identity_html, sentiment_label
from feedback.services import response_match, responses_rematch
from feedback.themes import classifier_activate, classifier_train, response_theme_staff_save, response_themes_correct
from feedback.uploads import upload_ingest, upload_preview, upload_rows_parse


class QuestionInline(admin.TabularInline):
    model = Question
    extra = 0
    fields = ("position", "key", "text", "kind", "choices", "scale_min", "scale_max", "required")


@admin.register(Survey)
class SurveyAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "moment", "is_active", "delay_days", "min_gap_days")
    list_filter = ("moment", "is_active")
    search_fields = ("name", "slug")
    prepopulated_fields = {"slug": ("name",)}
    inlines = [QuestionInline]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}


class ExternalQuestionInline(admin.TabularInline):
    model = ExternalQuestion
    extra = 1
    autocomplete_fields = ()
    raw_id_fields = ("question",)


class FeedbackSourceForm(forms.ModelForm):
    # Write-only: the stored secret is never rendered back into the page.
    secret = forms.CharField(
        required=False, widget=forms.PasswordInput(render_value=False),
        help_text="Typeform: the webhook secret. Delighted: the project's API key. Leave blank to keep the current one.",
    )

    api_base_url = forms.URLField(required=False, assume_scheme="https", help_text=FeedbackSource._meta.get_field("api_base_url").help_text)
    api_token = forms.CharField(
        required=False, widget=forms.PasswordInput(render_value=False),
        help_text=(
            "Qualtrics, SurveyMonkey, Zigpoll: the API token used to fetch responses. Leave blank to keep the "
            "current one, or to read FEEDBACK_<SLUG>_API_TOKEN from the environment."
        ),
    )

    class Meta:
        model = FeedbackSource
        fields = ("name", "slug", "kind", "survey", "secret", "api_base_url", "api_token", "client_id",
                  "external_account", "column_mapping", "is_active")

    def _kept(self, name: str) -> str:
        value = self.cleaned_data.get(name)
        return value if value else (getattr(self.instance, name) if self.instance.pk else "")

    def clean_secret(self):
        return self._kept("secret")

    def clean_api_token(self):
        return self._kept("api_token")


class UploadForm(forms.Form):
    export = forms.FileField(help_text="A CSV or JSON export from the survey tool.")
    format = forms.ChoiceField(choices=[("csv", "CSV"), ("json", "JSON")])
    column_mapping = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 6}),
        help_text='JSON, e.g. {"Response ID": "external_id", "NPS": "q:nps"}. Blank uses the source\'s mapping.',
    )
    dry_run = forms.BooleanField(required=False, initial=True, help_text="Preview only; nothing is stored.")

    def clean_column_mapping(self):
        raw = self.cleaned_data["column_mapping"].strip()
        if not raw:
            return None
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc}") from None


@admin.register(FeedbackSource)
class FeedbackSourceAdmin(admin.ModelAdmin):
    form = FeedbackSourceForm
    list_display = ("name", "slug", "kind", "survey", "is_active", "has_secret", "last_sync", "links")
    list_filter = ("kind", "is_active")
    list_select_related = ("survey",)
    search_fields = ("name", "slug")
    inlines = [ExternalQuestionInline]

    @admin.display(boolean=True, description="secret set")
    def has_secret(self, obj):
        return bool(obj.secret)

    @admin.display(description="last sync")
    def last_sync(self, obj):
        run = obj.sync_runs.first()
        if run is None:
            return "-"
        return f"{run.get_status_display()} {run.started_at:%Y-%m-%d %H:%M}" + (f": {run.error[:80]}" if run.error else "")

    @admin.display(description="")
    def links(self, obj):
        if obj.kind in WEBHOOK_KINDS:
            return format_html("<code>{}</code>", reverse("feedback-webhook", kwargs={"slug": obj.slug}))
        return format_html('<a href="{}">Upload export</a>', reverse("admin:feedback_feedbacksource_upload", args=[obj.pk]))

    def get_urls(self):
        return [
            path("<int:pk>/upload/", self.admin_site.admin_view(self.upload_view), name="feedback_feedbacksource_upload"),
        ] + super().get_urls()

    def upload_view(self, request, pk):
        source = get_object_or_404(FeedbackSource, pk=pk)
        if not is_marketplace_admin(request.user) and not request.user.has_perm("feedback.change_response"):
            raise PermissionDenied
        outcome = None
        form = UploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                content = form.cleaned_data["export"].read().decode("utf-8-sig")
                rows = upload_rows_parse(content=content, fmt=form.cleaned_data["format"])
                run = upload_preview if form.cleaned_data["dry_run"] else upload_ingest
                with transaction.atomic():
                    outcome = run(source=source, rows=rows, column_mapping=form.cleaned_data["column_mapping"])
            except UnicodeDecodeError:
                form.add_error("export", "The file is not UTF-8 text.")
            except ItemError as exc:
                for field, problems in exc.errors.items():
                    form.add_error(None, f"{field}: {' '.join(problems)}")
            if outcome and not outcome["dry_run"]:
                self.message_user(request, f"Upload stored: {outcome['summary']}", messages.SUCCESS)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Upload an export into {source}",
            "source": source,
            "form": form,
            "outcome": outcome,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/feedback/upload.html", context)


class AnswerInline(admin.TabularInline):
    model = Answer
    extra = 0
    can_delete = False
    fields = ("question", "number", "text", "choices")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


class MatchFilter(admin.SimpleListFilter):
    title = "needs matching"
    parameter_name = "needs_match"

    def lookups(self, request, model_admin):
        return [("yes", "Unmatched: waiting for staff")]

    def queryset(self, request, queryset):
        return queryset.unmatched() if self.value() == "yes" else queryset


class DetractorFilter(admin.SimpleListFilter):
    title = "NPS group"
    parameter_name = "nps_group"

    def lookups(self, request, model_admin):
        return [("detractor", "Detractors (0-6)"), ("passive", "Passives (7-8)"), ("promoter", "Promoters (9-10)")]

    def queryset(self, request, queryset):
        ranges = {"detractor": (0, 6), "passive": (7, 8), "promoter": (9, 10)}
        if self.value() in ranges:
            low, high = ranges[self.value()]
            return queryset.filter(nps__gte=low, nps__lte=high)
        return queryset


class ResponseAdminForm(forms.ModelForm):
    themes = forms.ModelMultipleChoiceField(
        queryset=Theme.objects.filter(is_active=True), required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Correct the themes; your choice replaces rule and model codes and trains the next classifier.",
    )

    class Meta:
        model = Response
        fields = ("buyer", "seller")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["themes"].initial = list(self.instance.theme_codes.values_list("theme_id", flat=True))


@admin.register(Response)
class ResponseAdmin(RelatedAsTextMixin, admin.ModelAdmin):
    form = ResponseAdminForm
    list_display = ("external_id", "source", "survey", "submitted_at", "match_status", "respondent", "nps", "csat",
                    "sentiment_shown", "is_flagged", "theme_list")
    # The dashboard's theme legend links here filtered by theme.
    list_filter = (MatchFilter, DetractorFilter, "is_flagged", "respondent_kind", "source", "survey", "theme_codes__theme")
    list_select_related = ("source", "survey", "buyer", "seller")
    search_fields = ("=external_id", "buyer__email", "=buyer__external_id", "seller__email", "=seller__external_id",
                     "=order__external_id", "text")
    raw_id_fields = ("buyer", "seller")
    show_full_result_count = False
    inlines = [AnswerInline]
    actions = ["rematch"]
    readonly_fields = ("source", "external_id", "survey", "submitted_at", "received_at", "identity_shown", "match_status",
                       "matched_by", "respondent_kind", "order", "nps", "csat", "text", "extras", "sentiment_shown",
                       "is_flagged", "revision", "staff_coded_at")
    fieldsets = (
        (None, {"fields": ("source", "external_id", "survey", "submitted_at", "received_at", "revision")}),
        ("Respondent", {"fields": ("identity_shown", "match_status", "respondent_kind", "buyer", "seller", "order", "matched_by")}),
        ("Content", {"fields": ("nps", "csat", "text", "extras", "sentiment_shown", "is_flagged")}),
        ("Themes", {"fields": ("themes", "staff_coded_at")}),
    )

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None and not self.has_change_permission(request, obj):
            # The themes picker is a form field: a reader sees the codes themselves.
            fieldsets = [
                (title, {**options, "fields": tuple("theme_list" if f == "themes" else f for f in options["fields"])})
                for title, options in fieldsets
            ]
        if obj is None or obj.match_status != MatchStatus.UNMATCHED:
            return fieldsets
        # Only an unmatched response asks staff to pick its respondent.
        return [
            (title, {**options, "description": "Unmatched: pick the buyer or artisan who wrote this and save to match it."})
            if title == "Respondent" else (title, options)
            for title, options in fieldsets
        ]

    @admin.display(description="identity (the keys the survey tool sent)")
    def identity_shown(self, obj):
        return identity_html(obj.identity)

    @admin.display(description="sentiment", ordering="sentiment")
    def sentiment_shown(self, obj):
        return sentiment_label(obj.sentiment)

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("theme_codes__theme")

    @admin.display(description="respondent")
    def respondent(self, obj):
        return obj.buyer or obj.seller or obj.identity.get("email") or "—"

    @admin.display(description="themes")
    def theme_list(self, obj):
        return ", ".join(f"{c.theme.name} ({c.get_origin_display()})" for c in obj.theme_codes.all()) or "No themes coded yet"

    def has_add_permission(self, request):
        return False  # responses arrive from survey tools, never typed in

    def save_model(self, request, obj, form, change):
        if {"buyer", "seller"} & set(form.changed_data) and (obj.buyer or obj.seller):
            response_match(response=obj, buyer=obj.buyer, seller=obj.seller, actor=request.user)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if "themes" in form.changed_data:
            response_themes_correct(
                response=form.instance, theme_ids=[t.pk for t in form.cleaned_data["themes"]], actor=request.user
            )

    @admin.action(description="Retry matching with the keys the tool sent")
    def rematch(self, request, queryset):
        matched = responses_rematch(response_ids=list(queryset.filter(match_status=MatchStatus.UNMATCHED).values_list("pk", flat=True)))
        self.message_user(request, f"{matched} response(s) matched.")


@admin.register(Theme)
class ThemeAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "is_urgent", "is_active", "keyword_count")
    list_filter = ("is_urgent", "is_active")
    search_fields = ("name", "slug", "keywords")
    prepopulated_fields = {"slug": ("name",)}
    actions = ["train_classifier"]

    @admin.display(description="keywords")
    def keyword_count(self, obj):
        return len(obj.keyword_list)

    @admin.action(description="Train the theme classifier on staff-coded responses")
    def train_classifier(self, request, queryset):
        if not is_marketplace_admin(request.user):
            raise PermissionDenied
        try:
            classifier = classifier_train(actor=request.user)
        except ValidationError as exc:
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
            return
        gate = classifier.metrics["gate"]
        if classifier.is_active:
            self.message_user(request, f"Trained and activated {classifier}: {gate['detail']}.")
        else:
            self.message_user(request, f"Trained {classifier} but kept the active coding: {gate['detail']}.", messages.WARNING)


@admin.register(ThemeClassifier)
class ThemeClassifierAdmin(RelatedAsTextMixin, admin.ModelAdmin):
    list_display = ("__str__", "is_active", "training_size", "holdout_size", "trained_by")
    list_select_related = ("trained_by",)
    readonly_fields = ("trained_at", "trained_by", "training_size", "holdout_size", "is_active", "gate_decision",
                       "metrics_table", "top_terms_table")
    exclude = ("metrics", "parameters")
    actions = ["activate"]

    def has_add_permission(self, request):
        return False

    @admin.display(description="gate: rules + classifier against the strongest simple coding (micro F1, 95% bootstrap CI)")
    def gate_decision(self, obj):
        gate = (obj.metrics or {}).get("gate")
        if not gate:
            return "Trained before the gate existed: no held-out comparison recorded."
        ci = lambda pair: f"{pair[0]:.2f}–{pair[1]:.2f}" if pair else "—"  # noqa: E731
        rows = [("keyword rules + classifier", f"{gate['micro_f1']['with_classifier']:.2f}", ci(gate["micro_f1"]["ci"]))]
        rows += [(name, f"{b['value']:.2f}", ci(b["ci"])) for name, b in gate.get("baselines", {}).items()]
        rows.append((f"gain over {gate.get('best_baseline', 'keyword rules')}", f"{gate['difference']:+.2f}", ci(gate["difference_ci"])))
        return format_html(
            "<strong>{}</strong><table><tr><th>coding</th><th>micro F1</th><th>95% CI</th></tr>{}</table>",
            ("Passed: " if gate["passed"] else "Refused: ") + gate["detail"],
            format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", rows),
        )

    @admin.display(description="terms that weigh most for each theme (fitted coefficients)")
    def top_terms_table(self, obj):
        rows = [(values.get("name", slug), ", ".join(f"{t['term']} ({t['weight']:+.2f})" for t in values.get("top_terms", [])) or "—")
                for slug, values in (obj.metrics or {}).get("themes", {}).items()]
        body = format_html_join("", "<tr><td>{}</td><td>{}</td></tr>", rows)
        return format_html("<table><tr><th>theme</th><th>top terms</th></tr>{}</table>", body)

    @admin.display(description="held-out precision and recall per theme (keyword rules as the baseline)")
    def metrics_table(self, obj):
        rows = (obj.metrics or {}).get("themes", {})
        body = format_html_join(
            "", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    values.get("name", slug), values.get("support", "—"), values.get("precision", values.get("skipped", "—")),
                    values.get("recall", "—"), values.get("keyword_precision", "—"), values.get("keyword_recall", "—"),
                )
                for slug, values in rows.items()
            ),
        )
        return format_html(
            "<table><tr><th>theme</th><th>held-out positives</th><th>precision</th><th>recall</th>"
            "<th>keyword precision</th><th>keyword recall</th></tr>{}</table>", body
        )

    @admin.action(description="Make this the active classifier")
    def activate(self, request, queryset):
        if not is_marketplace_admin(request.user) or queryset.count() != 1:
            self.message_user(request, "Pick exactly one classifier (Marketplace Admins only).", messages.ERROR)
            return
        classifier_activate(classifier=queryset.get())
        self.message_user(request, "Activated.")


@admin.register(SurveyInvitation)
class SurveyInvitationAdmin(RelatedAsTextMixin, admin.ModelAdmin):
    list_display = ("survey", "buyer", "seller", "order", "period", "invited_at")
    list_filter = ("survey", "period")
    list_select_related = ("survey", "buyer", "seller", "order")
    search_fields = ("=buyer__external_id", "buyer__email", "=seller__external_id", "seller__email")
    raw_id_fields = ("buyer", "seller", "order")
    show_full_result_count = False
    actions = ["export_csv"]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Export selected invitations as CSV (for sending from the survey tool)")
    def export_csv(self, request, queryset):
        response = HttpResponse(content_type="text/csv")
        response["Content-Disposition"] = 'attachment; filename="survey-invitations.csv"'
        writer = csv.writer(response)
        writer.writerow(["survey", "email", "buyer_id", "seller_id", "order_id", "period", "invited_at"])
        for inv in queryset.select_related("survey", "buyer", "seller", "order"):
            person = inv.buyer or inv.seller
            writer.writerow([
                inv.survey.slug, person.email, inv.buyer.external_id if inv.buyer else "",
                inv.seller.external_id if inv.seller else "", inv.order.external_id if inv.order else "",
                inv.period, inv.invited_at.isoformat(),
            ])
        return response


@admin.register(ResponseTheme)
class ResponseThemeAdmin(RelatedAsTextMixin, admin.ModelAdmin):
    """Staff code a theme by hand; who coded it, how and when are recorded, never typed in."""

    list_display = ("response", "theme", "origin", "confidence", "coded_by", "created_at")
    list_filter = ("origin", "theme")
    raw_id_fields = ("response",)
    list_select_related = ("theme", "response__source", "coded_by")
    show_full_result_count = False
    fields = ("response", "theme", "origin", "confidence", "coded_by", "created_at")
    readonly_fields = ("origin", "confidence", "coded_by", "created_at")

    def save_model(self, request, obj, form, change):
        response_theme_staff_save(code=obj, actor=request.user)


@admin.register(SyncRun)
class SyncRunAdmin(ReadOnlyAdmin):
    """Every import with its counts and rejection reasons; runs are written by the connectors only."""

    list_display = ("source", "kind", "status", "started_at", "fetched", "created", "duplicate", "rejected", "short_error")
    list_filter = ("status", "kind", "source")
    list_select_related = ("source",)
    date_hierarchy = "started_at"
    readonly_fields = ("source", "kind", "status", "started_at", "finished_at", "fetched", "created", "duplicate",
                       "rejected", "rejections", "error", "cursor_before", "cursor_after")

    @admin.display(description="error")
    def short_error(self, obj):
        return obj.error[:120]
