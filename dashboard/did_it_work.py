"""The "Did it work?" page: each intervention against its holdout, from retention.impact."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from retention.impact import OUTCOMES, Lift, impact_report
from core import formatting
from dashboard.charts import FONT, PALETTE

HEADERS = [
    "intervention", "outcome", "treated", "treated rate", "held out", "held-out rate", "lift",
    "95% CI low", "95% CI high", "significant", "cases worked", "more cases needed", "verdict",
]


@dataclass
class Table:
    headers: list
    rows: list


def _label(kind: str) -> str:
    return kind.replace("_", " ").capitalize()


def impact_rows(lifts: list[Lift]) -> list[dict]:
    """Each lift as the page shows it: numbers formatted for people."""
    rows = []
    for lift in lifts:
        ci = lift.lift_ci95
        rows.append({
            "kind": _label(lift.kind),
            "outcome": OUTCOMES.get(lift.outcome, (lift.outcome,))[0],
            "treated": f"{lift.treated:,}",
            "treated_rate": formatting.percent(lift.treated_rate, 1),
            "held_out": f"{lift.held_out:,}",
            "held_out_rate": formatting.percent(lift.held_out_rate, 1),
            "lift": formatting.point_difference(lift.lift),
            "ci": formatting.DASH if ci is None else formatting.point_difference_interval(*ci),
            "significant": lift.significant,
            "cases_worked": f"{lift.cases_worked:,}",
            "more_cases": "—" if lift.more_cases_needed is None else f"{lift.more_cases_needed:,}",
            "verdict": lift.verdict,
        })
    return rows


def impact_table(lifts: list[Lift]) -> Table:
    """The CSV: raw numbers (rates as fractions) so a spreadsheet can compute with them."""
    rows = []
    for lift in lifts:
        ci = lift.lift_ci95 or (None, None)
        rows.append([
            lift.kind, lift.outcome, lift.treated, _round(lift.treated_rate), lift.held_out, _round(lift.held_out_rate),
            _round(lift.lift), _round(ci[0]), _round(ci[1]), "yes" if lift.significant else "no", lift.cases_worked,
            lift.more_cases_needed, lift.verdict,
        ])
    return Table(headers=HEADERS, rows=rows)


def _round(value):
    return None if value is None else round(value, 4)


def lift_chart(lifts: list[Lift], *, width: int = 560) -> SafeString:
    """One row per intervention and outcome: the lift as a dot, its 95% interval as a bar, zero marked."""
    shown = [lift for lift in lifts if lift.lift_ci95 is not None]
    if not shown:
        return mark_safe('<svg class="kiln-chart lift empty" width="10" height="10" role="img"><title>No lifts yet</title></svg>')
    label_w, row_h, top = 210, 22, 18
    plot_w = width - label_w - 20
    low = min(min(lift.lift_ci95[0] for lift in shown), 0.0)
    high = max(max(lift.lift_ci95[1] for lift in shown), 0.0)
    span = (high - low) or 1.0

    def x(value):
        return label_w + (value - low) / span * plot_w

    height = top + row_h * len(shown) + 10
    parts = [f'<svg class="kiln-chart lift" width="{width}" height="{height}" role="img">',
             "<title>Lift over the holdout with its 95% interval; the line marks no effect</title>",
             f'<line x1="{x(0):.1f}" y1="4" x2="{x(0):.1f}" y2="{height - 4}" stroke="#999" stroke-dasharray="3,3"/>',
             f'<text x="{x(0) + 3:.1f}" y="12" {FONT} fill="#666">no effect</text>']
    for i, lift in enumerate(shown):
        y = top + i * row_h + row_h / 2
        lo, hi = lift.lift_ci95
        color = PALETTE[2] if lift.significant and (lift.lift > 0) == lift.higher_is_better else (
            PALETTE[1] if lift.significant else PALETTE[0])
        label = escape(f"{_label(lift.kind)} · {lift.outcome.replace('_', ' ')}")
        tip = escape(f"{lift.lift * 100:+.1f} pts (95% CI {lo * 100:+.1f} to {hi * 100:+.1f})")
        parts.append(
            f'<g><title>{label}: {tip}</title>'
            f'<text x="0" y="{y + 3:.1f}" {FONT}>{label}</text>'
            f'<line x1="{x(lo):.1f}" y1="{y:.1f}" x2="{x(hi):.1f}" y2="{y:.1f}" stroke="{color}" stroke-width="3"/>'
            f'<circle cx="{x(lift.lift):.1f}" cy="{y:.1f}" r="4" fill="{color}"/></g>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts))


def did_it_work(*, include_open: bool = False) -> dict:
    lifts = impact_report(include_open=include_open)
    return {"lifts": lifts, "rows": impact_rows(lifts), "table": impact_table(lifts), "chart": lift_chart(lifts)}
