"""Small server-side SVG charts: the dashboard draws without JavaScript or internet access.

Every label is escaped; every chart is a plain <svg> with <title> tooltips and optional links.
"""

from __future__ import annotations

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

PALETTE = ["#417690", "#c0392b", "#27ae60", "#8e44ad", "#d35400", "#2c3e50", "#16a085", "#7f8c8d"]
FONT = 'font-family="-apple-system,Segoe UI,Roboto,sans-serif" font-size="10"'


def _fmt(value, digits=1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _link(href: str | None, inner: str) -> str:
    return f'<a href="{escape(href)}">{inner}</a>' if href else inner


def sparkline(values: list, *, width: int = 140, height: int = 30, color: str = PALETTE[0]) -> SafeString:
    points = [(i, v) for i, v in enumerate(values) if v is not None]
    if len(points) < 2:
        return mark_safe(
            f'<svg class="kiln-chart sparkline empty" width="{width}" height="{height}" role="img">'
            f'<title>No stored trend yet</title><text x="0" y="{height - 10}" {FONT} fill="#999">no trend yet</text></svg>'
        )
    low = min(v for _, v in points)
    high = max(v for _, v in points)
    span = (high - low) or 1.0
    step = (width - 4) / max(len(values) - 1, 1)
    coords = " ".join(f"{2 + i * step:.1f},{height - 3 - (v - low) / span * (height - 6):.1f}" for i, v in points)
    last_x, last_v = points[-1]
    cy = height - 3 - (last_v - low) / span * (height - 6)
    return mark_safe(
        f'<svg class="kiln-chart sparkline" width="{width}" height="{height}" role="img">'
        f"<title>{len(points)} days, from {_fmt(points[0][1])} to {_fmt(last_v)}</title>"
        f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{coords}"/>'
        f'<circle cx="{2 + last_x * step:.1f}" cy="{cy:.1f}" r="2" fill="{color}"/></svg>'
    )


def _heat(pct: float | None) -> str:
    if pct is None:
        return "#f4f4f4"
    level = max(0.0, min(pct, 100.0)) / 100.0
    # White to the admin's blue.
    r, g, b = (int(255 - (255 - c) * (0.15 + 0.85 * level)) for c in (65, 118, 144))
    return f"rgb({r},{g},{b})"


def heatmap(cohorts: list[dict], *, link_for=None) -> SafeString:
    """Rows: acquisition cohorts; columns: months since first purchase; cells: % of the cohort buying."""
    columns = max((len(c["retention"]) for c in cohorts), default=0)
    cell, label_w, top = 34, 90, 22
    width, height = label_w + cell * max(columns, 1) + 10, top + 20 * len(cohorts) + 6
    parts = [f'<svg class="kiln-chart heatmap" width="{width}" height="{height}" role="img">',
             "<title>Cohort retention: % of each monthly cohort buying again k months later</title>"]
    for k in range(columns):
        parts.append(f'<text x="{label_w + k * cell + cell / 2}" y="14" text-anchor="middle" {FONT}>+{k}</text>')
    for row, cohort in enumerate(cohorts):
        y = top + row * 20
        label = f'{escape(cohort["cohort"])} ({cohort["size"]})'
        parts.append(_link(link_for(cohort) if link_for else None,
                           f'<text x="0" y="{y + 13}" {FONT}>{label}</text>'))
        for k, pct in enumerate(cohort["retention"]):
            fill = _heat(pct)
            text_color = "#fff" if pct is not None and pct > 55 else "#333"
            parts.append(
                f'<g class="cell"><rect x="{label_w + k * cell}" y="{y}" width="{cell - 2}" height="18" fill="{fill}">'
                f'<title>{escape(cohort["cohort"])} +{k} months: {_fmt(pct)}%</title></rect>'
                f'<text x="{label_w + k * cell + (cell - 2) / 2}" y="{y + 12}" text-anchor="middle" {FONT} fill="{text_color}">'
                f'{"" if pct is None else int(round(pct))}</text></g>'
            )
    parts.append("</svg>")
    return mark_safe("".join(parts))


def line_chart(series: list[dict], labels: list[str], *, width: int = 460, height: int = 170,
               y_min: float | None = None, y_max: float | None = None, unit: str = "") -> SafeString:
    """series: [{"name": str, "values": [float|None, ...]}] sharing ``labels`` on the x axis."""
    values = [v for s in series for v in s["values"] if v is not None]
    low = y_min if y_min is not None else (min(values) if values else 0)
    high = y_max if y_max is not None else (max(values) if values else 1)
    if high == low:
        high = low + 1
    left, right, top, bottom = 36, 10, 10, 22
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / max(len(labels) - 1, 1)

    def y(v):
        return top + plot_h - (v - low) / (high - low) * plot_h

    parts = [f'<svg class="kiln-chart line" width="{width}" height="{height}" role="img">',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" stroke="#ccc"/>']
    for tick in (low, (low + high) / 2, high):
        parts.append(f'<text x="{left - 4}" y="{y(tick) + 3:.1f}" text-anchor="end" {FONT}>{tick:.0f}{escape(unit)}</text>'
                     f'<line x1="{left}" y1="{y(tick):.1f}" x2="{width - right}" y2="{y(tick):.1f}" stroke="#eee"/>')
    every = max(1, len(labels) // 6)
    for i, label in enumerate(labels):
        if i % every == 0:
            parts.append(f'<text x="{left + i * step:.1f}" y="{height - 6}" text-anchor="middle" {FONT}>{escape(label)}</text>')
    for index, s in enumerate(series):
        color = PALETTE[index % len(PALETTE)]
        points = [(i, v) for i, v in enumerate(s["values"]) if v is not None]
        if len(points) >= 2:
            coords = " ".join(f"{left + i * step:.1f},{y(v):.1f}" for i, v in points)
            parts.append(f'<polyline class="series" fill="none" stroke="{color}" stroke-width="2" points="{coords}"/>')
        for i, v in points:
            parts.append(f'<circle cx="{left + i * step:.1f}" cy="{y(v):.1f}" r="2.5" fill="{color}">'
                         f'<title>{escape(s["name"])} {escape(labels[i])}: {_fmt(v)}{escape(unit)}</title></circle>')
    if not values:
        parts.append(f'<text x="{left + 8}" y="{top + plot_h / 2}" {FONT} fill="#999">No data in this range</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))


def bar_chart(bars: list[dict], *, markers: list[tuple[float, str]] = (), width: int = 460, height: int = 170,
              x_domain: tuple[float, float] | None = None) -> SafeString:
    """bars: [{"label", "value", "href", "x0", "x1"}]; markers: vertical lines at x positions (e.g. band cut-offs)."""
    left, right, top, bottom = 30, 10, 14, 22
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max((b["value"] for b in bars), default=0) or 1
    slot = plot_w / max(len(bars), 1)
    parts = [f'<svg class="kiln-chart bars" width="{width}" height="{height}" role="img">']
    for i, bar in enumerate(bars):
        h = bar["value"] / peak * plot_h
        x = left + i * slot
        rect = (f'<rect class="bar" x="{x + 1:.1f}" y="{top + plot_h - h:.1f}" width="{slot - 2:.1f}" height="{max(h, 0.5):.1f}" '
                f'fill="{bar.get("color", PALETTE[0])}"><title>{escape(bar["label"])}: {bar["value"]}</title></rect>')
        parts.append(_link(bar.get("href"), rect))
        parts.append(f'<text x="{x + slot / 2:.1f}" y="{height - 6}" text-anchor="middle" {FONT}>{escape(bar["label"])}</text>')
    if x_domain:
        lo, hi = x_domain
        for position, name in markers:
            x = left + (position - lo) / (hi - lo) * plot_w
            parts.append(f'<line class="marker" x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{top + plot_h}" stroke="#c0392b" '
                         f'stroke-dasharray="4 3"/><text x="{x + 3:.1f}" y="{top + 4}" {FONT} fill="#c0392b">{escape(name)}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))


def funnel(stages: list[dict], *, width: int = 460) -> SafeString:
    """Horizontal bars, one per stage: [{"label", "sellers", "href"}]."""
    row, label_w = 24, 150
    height = row * len(stages) + 6
    peak = max((s["sellers"] for s in stages), default=0) or 1
    parts = [f'<svg class="kiln-chart funnel" width="{width}" height="{height}" role="img">']
    first = stages[0]["sellers"] if stages else 0
    for i, stage in enumerate(stages):
        w = stage["sellers"] / peak * (width - label_w - 60)
        share = f' ({100 * stage["sellers"] / first:.0f}%)' if first else ""
        y = i * row + 3
        bar = (f'<rect class="bar" x="{label_w}" y="{y}" width="{max(w, 0.5):.1f}" height="{row - 6}" fill="{PALETTE[i % len(PALETTE)]}">'
               f'<title>{escape(stage["label"])}: {stage["sellers"]}</title></rect>')
        parts.append(f'<text x="0" y="{y + 13}" {FONT}>{escape(stage["label"])}</text>')
        parts.append(_link(stage.get("href"), bar))
        parts.append(f'<text x="{label_w + w + 4:.1f}" y="{y + 13}" {FONT}>{stage["sellers"]}{share}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))
