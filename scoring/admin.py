from django.contrib import admin, messages
from django.template.loader import render_to_string
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from core.admin import OwnHistoryMixin, RelatedAsTextMixin, labelled_values_filter
from core.formatting import DASH, decimal, percent
from core.roles import is_marketplace_admin
from scoring import registry
from scoring.drift import PSI_ALERT, seller_model_drift
from scoring.training import COLD_START_KIND, KIND
from scoring.models import ModelVersion, ModelVersionEvent, ScoreRun, SellerScore, SellerScoreHistory
from sellers.models import category_label

# A version without a category is its kind's model for every category.
GLOBAL_SLOT = "Global (all categories)"


class ModelVersionEventInline(admin.TabularInline):
    model = ModelVersionEvent
    extra = 0
    can_delete = False
    fields = ("at", "action", "actor", "note")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ModelVersion)
class ModelVersionAdmin(OwnHistoryMixin, RelatedAsTextMixin, admin.ModelAdmin):
    list_display = ("kind_display", "slot", "version", "status", "roc_auc_display", "baseline_display", "gate_display", "brier_display", "trained_at", "window_start", "window_end")
    list_filter = (("kind", labelled_values_filter(registry.model_kind_label)), "status",
                   ("category", labelled_values_filter(category_label, empty_label=GLOBAL_SLOT)))
    ordering = ("kind", "category", "-version")
    exclude = ("artifact",)
    readonly_fields = (
        "kind_display", "slot", "version", "status", "trained_at", "window_start", "window_end", "seed",
        "model_card", "artifact_format", "artifact_sha256", "trusted_types_shown", "activated_at", "activated_by",
        "retired_at", "notes",
    )
    fields = readonly_fields
    inlines = [ModelVersionEventInline]
    # Versions change through the registry's actions, never the admin form: "History" is their own events.
    own_history_inline = ModelVersionEventInline
    actions = ["activate_selected", "force_activate_selected", "roll_back_slot"]

    def get_queryset(self, request):
        return super().get_queryset(request).defer("artifact")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        # Viewing is for everyone with view permission; activation and roll-back are admin-only.
        return is_marketplace_admin(request.user) and super().has_change_permission(request, obj)

    @admin.display(description="trusted types")
    def trusted_types_shown(self, version):
        types = version.trusted_types or []
        return format_html_join(mark_safe("<br>"), "{}", ((name,) for name in types)) if types else "None: the artifact loads no custom types."

    @admin.display(description="kind", ordering="kind")
    def kind_display(self, version):
        return registry.model_kind_label(version.kind)

    @admin.display(description="slot", ordering="category")
    def slot(self, version):
        return category_label(version.category) if version.category else GLOBAL_SLOT

    @admin.display(description="ROC AUC")
    def roc_auc_display(self, version):
        return version.roc_auc

    @admin.display(description="best baseline AUC")
    def baseline_display(self, version):
        name = (version.baseline_metrics or {}).get("name")
        auc = version.baseline_roc_auc
        return "—" if auc is None else f"{auc:.3f} ({name})" if name else f"{auc:.3f}"

    @admin.display(description="gate", boolean=True)
    def gate_display(self, version):
        return ((version.metrics or {}).get("gate") or {}).get("passed")

    @admin.display(description="Brier")
    def brier_display(self, version):
        return (version.metrics or {}).get("brier")

    @admin.display(description="model card")
    def model_card(self, version):
        metrics = version.metrics or {}
        evaluation = metrics.get("evaluation") or {}
        calibration = [
            {**row, "predicted_pct": round(row["mean_predicted"] * 100), "observed_pct": round(row["observed_rate"] * 100)}
            for row in metrics.get("calibration") or []
        ]
        drift = seller_model_drift(version) if version.kind in (KIND, COLD_START_KIND) else None
        return render_to_string(
            "admin/scoring/modelversion/model_card.html",
            {
                "version": version,
                "metrics": metrics,
                "evaluation": evaluation,
                # Older versions record their held-out rows as metrics["n"], newer ones in the evaluation;
                # a version with neither must still show its card.
                "held_out_rows": evaluation.get("n_holdout") or metrics.get("n"),
                "gate": metrics.get("gate") or {},
                "features": metrics.get("feature_table") or [],
                "dropped": metrics.get("dropped_features") or [],
                "calibration": calibration,
                "drift": drift,
                "psi_alert": PSI_ALERT,
            },
        )

    def _one(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version.", level=messages.ERROR)
            return None
        return queryset.get()

    def _activate(self, request, queryset, force):
        version = self._one(request, queryset)
        if version is None:
            return
        try:
            registry.model_version_activate(version=version, actor=request.user, force=force)
            self.message_user(request, f"{self.kind_display(version)}, {self.slot(version).lower()}: v{version.version} is now active.")
        except (ValidationError, PermissionDenied) as exc:
            self.message_user(request, "Not activated: " + " ".join(getattr(exc, "messages", [str(exc)])), level=messages.ERROR)

    @admin.action(description="Activate (must have passed the gate against the active version)", permissions=["change"])
    def activate_selected(self, request, queryset):
        self._activate(request, queryset, force=False)

    @admin.action(description="Force activate (admin override, recorded)", permissions=["change"])
    def force_activate_selected(self, request, queryset):
        self._activate(request, queryset, force=True)

    @admin.action(description="Roll back this slot to its previous version", permissions=["change"])
    def roll_back_slot(self, request, queryset):
        version = self._one(request, queryset)
        if version is None:
            return
        try:
            restored = registry.model_version_rollback(kind=version.kind, category=version.category, actor=request.user)
            self.message_user(request, f"Rolled back: v{restored.version} is active again.")
        except (ValidationError, PermissionDenied) as exc:
            self.message_user(request, "Not rolled back: " + " ".join(getattr(exc, "messages", [str(exc)])), level=messages.ERROR)


def _moment_label(text: str) -> str:
    moment = parse_datetime(text or "")
    if moment is None:
        return text or DASH
    return date_format(timezone.localtime(moment) if timezone.is_aware(moment) else moment, "j M Y H:i")


# Run keys are written by scoring.services and scoring.pipeline as "<origin>:<as_of or run id>".
RUN_KEY_ORIGINS = {"nightly": "Nightly run", "single": "Single rescore"}


def run_key_label(run_key: str) -> str:
    """A history row's run key as staff read it: "Nightly run, 3 Dec 2026 14:41", "Score run #12"."""
    origin, _, rest = (run_key or "").partition(":")
    if not rest:
        return run_key or DASH
    if origin == "run" and rest.isdigit():
        return f"Score run #{rest}"
    label = RUN_KEY_ORIGINS.get(origin, origin.replace("_", " ").capitalize())
    return f"{label}, {_moment_label(rest)}"


def _figure(value) -> str:
    if value is None:
        return DASH
    return f"{value:.3g}" if isinstance(value, (int, float)) else str(value)


def _pair(values: dict, shown) -> str:
    return ", ".join(f"{name} {shown(value)}" for name, value in (values or {}).items()) or DASH


def population_html(population: dict):
    """The population figures a run compares each artisan with, as labelled fields."""
    if not population:
        return "Not stored: this run compared artisans with a recent run's figures."
    known = {"as_of", "priors", "season_share", "order_level"}
    rows = [
        ("As of", _moment_label(population.get("as_of"))),
        ("Share of a year's orders in the last 90 days", _pair(population.get("season_share"), percent)),
        ("Mean log yearly orders", _pair(population.get("order_level"), lambda v: decimal(v, 2))),
    ]
    rows += [(key.replace("_", " ").capitalize(), str(value)) for key, value in population.items() if key not in known]
    fields = format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows)
    priors = population.get("priors") or {}
    names = sorted({name for figures in priors.values() for name in figures})
    if not names:
        return format_html("<table>{}</table>", fields)
    head = format_html_join("", "<th>{}</th>", ((name.replace("_", " "),) for name in names))
    body = format_html_join(
        "", "<tr><td>{}</td>{}</tr>",
        (("all categories" if category == "__all__" else category,
          format_html_join("", "<td style='text-align:right'>{}</td>",
                           ((_figure(figures.get(name)),) for name in names)))
         for category, figures in priors.items()),
    )
    return format_html("<table>{}</table><p>Category averages:</p><table><tr><th>category</th>{}</tr>{}</table>",
                       fields, head, body)


def _points(reason) -> int:
    return int(round(float(reason.get("contribution") or 0)))


def _reasons_table(reasons, reference=None):
    """Reasons with their signed points; the reference row first, so the column adds up to the score."""
    rows = format_html_join(
        "", "<tr><td>{}</td><td style='text-align:right'>{}</td></tr>",
        ((r["text"], f"{int(r['contribution']):+d}") for r in (reasons or [])),
    )
    start = format_html("<tr><td>an average artisan (reference)</td><td style='text-align:right'>{}</td></tr>", f"{reference:.0f}") if reference is not None else ""
    if not rows and not start:
        return "No reasons recorded."
    return format_html("<table><tr><th>factor</th><th>points</th></tr>{}{}</table>", start, rows)


@admin.register(SellerScore)
class SellerScoreAdmin(RelatedAsTextMixin, admin.ModelAdmin):
    list_display = ("seller", "score", "basis", "reasons_short", "model_version", "cold_start", "computed_at")
    list_filter = ("basis", "cold_start", "model_version")
    list_select_related = ("seller", "model_version")
    search_fields = ("seller__name", "=seller__external_id", "seller__email")
    show_full_result_count = False
    readonly_fields = (
        "seller", "score", "basis", "probability_display", "reasons_display", "model_version", "cold_start",
        "features_display", "computed_at", "run",
    )
    fields = readonly_fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="probability of staying active and in good standing")
    def probability_display(self, score):
        return "—" if score.probability is None else f"{score.probability:.1%}"

    @admin.display(description="reasons")
    def reasons_display(self, score):
        reference = ((score.model_version.metrics or {}).get("reference_score") if score.model_version else None)
        return _reasons_table(score.reasons, reference)

    @admin.display(description="features at scoring time")
    def features_display(self, score):
        return format_html(
            "<table>{}</table>",
            format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", ((k.replace("_", " "), f"{v:.3g}") for k, v in (score.features or {}).items())),
        )

    @admin.display(description="top reasons")
    def reasons_short(self, score):
        # A reason worth no points (why there is no score) moves nothing: "+0" would read as a factor,
        # so it follows the signed factors as a plain note.
        reasons = score.reasons or []
        factors = [f"{r['text']} ({_points(r):+d})" for r in reasons if _points(r)]
        notes = [r["text"] for r in reasons if not _points(r)]
        return "; ".join((factors + notes)[:2])


@admin.register(SellerScoreHistory)
class SellerScoreHistoryAdmin(RelatedAsTextMixin, admin.ModelAdmin):
    list_display = ("seller", "score_shown", "computed_at", "model_version", "run_shown")
    list_select_related = ("seller", "model_version")
    search_fields = ("seller__name", "=seller__external_id")
    show_full_result_count = False
    fields = ("seller", "score_shown", "basis", "probability_shown", "reasons_shown", "model_version", "computed_at", "run_shown")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("seller", "model_version")

    @admin.display(description="score", ordering="score")
    def score_shown(self, row):
        return f"Not scored ({row.get_basis_display().lower()})" if row.score is None else row.score

    @admin.display(description="probability of staying active and in good standing")
    def probability_shown(self, row):
        return percent(row.probability, 1)

    @admin.display(description="reasons")
    def reasons_shown(self, row):
        return _reasons_table(row.reasons)

    @admin.display(description="run", ordering="run_key")
    def run_shown(self, row):
        return run_key_label(row.run_key)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ScoreRun)
class ScoreRunAdmin(admin.ModelAdmin):
    list_display = ("pk", "as_of", "trigger", "status", "chunks_done", "chunks_total", "sellers_scored", "started_at", "finished_at")
    list_filter = ("status", "trigger")
    fields = ("as_of", "trigger", "status", "chunks_done", "chunks_total", "sellers_scored", "started_at", "finished_at",
              "population_shown")
    readonly_fields = fields

    @admin.display(description="population")
    def population_shown(self, run):
        return population_html(run.population)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
