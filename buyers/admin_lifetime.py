"""Read-only admin for lifetime fits: the model card of the purchase and spend models.

Shows the parameters, every candidate's held-out errors (in total, by frequency bucket and for
regular buyers), which model was chosen and why, and CLV against realised holdout spend by decile
as simple HTML bars. Nothing here is editable: fits are written by the retention recompute.
"""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from buyers import lifetime
from buyers.models import FitKind, LifetimeFit
from core.admin import ReadOnlyAdmin, labelled_values_filter
from core.formatting import DASH, dates_as_days

TABLE = '<table style="border-collapse:collapse;margin:4px 0">{}</table>'
CELL = '<td style="padding:2px 10px;border-bottom:1px solid #ddd;text-align:right">{}</td>'
HEAD = '<th style="padding:2px 10px;text-align:right">{}</th>'


def _number(value, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, (int, float)):
        return f"{value:,.{digits}f}" if isinstance(value, float) else f"{value:,}"
    return str(value)


def _table(header: list[str], rows: list[list]) -> str:
    head = "<tr>" + "".join(format_html(HEAD, h) for h in header) + "</tr>"
    body = "".join("<tr>" + "".join(format_html(CELL, c) for c in row) + "</tr>" for row in rows)
    return format_html(TABLE, mark_safe(head + body))


def _stored_day(value) -> str:
    # The evaluation keeps its dates as ISO text ("2026-12-03"); staff read "3 Dec 2026".
    return dates_as_days(str(value)) if value else DASH


def _fit_label(fit: LifetimeFit) -> str:
    if fit.kind == FitKind.GAMMA_GAMMA:
        return "Gamma-Gamma"
    if fit.model == "rule" or not fit.params:
        return lifetime.fit_model_label(fit.model)
    return lifetime.model_label(fit.params)


@admin.register(LifetimeFit)
class LifetimeFitAdmin(ReadOnlyAdmin):
    list_display = ("kind", "model_label", "status", "outcome", "n_buyers", "held_out_rmse", "clv_error", "observation_end", "created_at")
    list_filter = ("kind", "status", ("model", labelled_values_filter(lifetime.fit_model_label)))
    fields = (
        "kind", "model_label", "status", "outcome", "optimiser_message", "observation_end", "buyers_shown", "log_likelihood_shown",
        "parameters", "model_choice", "frequency_buckets", "clv_deciles",
    )
    readonly_fields = fields

    @admin.display(description="model")
    def model_label(self, fit: LifetimeFit) -> str:
        return _fit_label(fit)

    @admin.display(description="buyers", ordering="n_buyers")
    def buyers_shown(self, fit: LifetimeFit) -> str:
        return _number(fit.n_buyers)

    @admin.display(description="log likelihood", ordering="log_likelihood")
    def log_likelihood_shown(self, fit: LifetimeFit) -> str:
        return _number(fit.log_likelihood, 2)

    @admin.display(description="held-out RMSE (chosen)")
    def held_out_rmse(self, fit: LifetimeFit) -> str:
        chosen = (fit.evaluation or {}).get("chosen")
        return _number(((fit.evaluation or {}).get("models") or {}).get(chosen, {}).get("rmse")) if chosen else "—"

    @admin.display(description="CLV vs realised spend")
    def clv_error(self, fit: LifetimeFit) -> str:
        clv = (fit.evaluation or {}).get("clv")
        return f"{clv['error_pct']:+.1f} %" if clv and clv.get("error_pct") is not None else "—"

    @admin.display(description="outcome")
    def outcome(self, fit: LifetimeFit) -> str:
        return fit.outcome

    @admin.display(description="optimiser's message (as reported)")
    def optimiser_message(self, fit: LifetimeFit) -> str:
        return fit.message or DASH

    @admin.display(description="parameters")
    def parameters(self, fit: LifetimeFit) -> str:
        params = {k: v for k, v in (fit.params or {}).items() if k not in ("model", "unit")}
        if not params:
            return "—"
        return _table(["parameter", "value"], [[name, _number(value, 4)] for name, value in params.items()])

    @admin.display(description="model choice (held-out repeat purchases)")
    def model_choice(self, fit: LifetimeFit):
        evaluation = fit.evaluation or {}
        if evaluation.get("skipped"):
            return f"No holdout: {evaluation['skipped']}. MBG/NBD was used."
        models = evaluation.get("models") or {}
        if not models:
            return "—"
        rows = []
        for name, entry in models.items():
            regular = entry.get("regular") or {}
            rows.append(
                [
                    entry.get("label", name) + (" ✔ chosen" if name == evaluation.get("chosen") else ""),
                    _number(entry.get("rmse")),
                    _number(entry.get("mae")),
                    _number(entry.get("total_predicted"), 0),
                    _number(entry.get("total_actual"), 0),
                    f"{entry['total_error_pct']:+.1f} %" if entry.get("total_error_pct") is not None else entry.get("message", "—"),
                    _number(regular.get("rmse")),
                ]
            )
        intro = format_html(
            "<p>Calibration until {}, holdout until {} ({} weeks), {} buyers ({} regular). "
            "The model with the lowest per-buyer RMSE is chosen.</p>",
            _stored_day(evaluation.get("calibration_end")), _stored_day(evaluation.get("observation_end")), evaluation.get("holdout_weeks"),
            evaluation.get("n_buyers"), evaluation.get("n_regular"),
        )
        return intro + _table(["model", "RMSE", "MAE", "predicted", "actual", "total error", "RMSE, regular buyers"], rows)

    @admin.display(description="by calibration frequency (mean repeat purchases in the holdout)")
    def frequency_buckets(self, fit: LifetimeFit):
        models = (fit.evaluation or {}).get("models") or {}
        usable = {name: entry for name, entry in models.items() if entry.get("buckets")}
        if not usable:
            return "—"
        first = next(iter(usable.values()))
        header = ["repeat purchases in calibration", "buyers", "actual"] + [entry["label"] for entry in usable.values()]
        rows = []
        for i, bucket in enumerate(first["buckets"]):
            rows.append(
                [bucket["frequency"], bucket["n"], _number(bucket["actual"])]
                + [_number(entry["buckets"][i]["predicted"]) for entry in usable.values()]
            )
        return _table(header, rows)

    @admin.display(description="CLV against realised holdout spend, by decile of predicted CLV")
    def clv_deciles(self, fit: LifetimeFit):
        clv = (fit.evaluation or {}).get("clv")
        if not clv or not clv.get("deciles"):
            return "—"
        deciles = clv["deciles"]
        top = max(max(d["predicted"], d["actual"]) for d in deciles) or 1.0

        def bar(value, colour):
            return format_html(
                '<div style="background:{};height:8px;width:{}px;margin:1px 0"></div>', colour, int(240 * value / top)
            )

        rows = format_html_join(
            "",
            '<tr><td style="padding:2px 8px">{}</td><td style="padding:2px 8px">{}{}</td>'
            '<td style="padding:2px 8px;text-align:right">{} / {}</td></tr>',
            ((d["decile"], bar(d["predicted"], "#79aec8"), bar(d["actual"], "#417690"), _number(d["predicted"], 2), _number(d["actual"], 2)) for d in deciles),
        )
        summary = format_html(
            "<p>Total predicted {} against realised {}: {}. Light bar: predicted; dark bar: realised (mean per buyer).</p>",
            _number(clv["predicted_total"], 0), _number(clv["actual_total"], 0),
            f"{clv['error_pct']:+.1f} %" if clv.get("error_pct") is not None else "—",
        )
        return summary + format_html(TABLE, rows)
