"""Assembles the dashboard: tiles, charts, tables and drill-down links, from snapshots when they exist.

The page and the CSV export both read ``DashboardReport.tables`` so every table exports exactly as shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.urls import NoReverseMatch, reverse

from core import formatting

from dashboard import selectors
from dashboard.kpis import KPIS, TIERS, Period, Segment, format_value, kpi_compute, kpi_compute_all, kpi_numerator_display, kpi_value_display
from dashboard.models import AlertThreshold, Condition, KpiSnapshot, threshold_display
from dashboard.services import SNAPSHOT_WINDOW_DAYS, chart_data
from sellers.models import CraftCategory, OnboardingStatus

SPARKLINE_DAYS = 90
# Each KPI unit by name, in the tables and their CSV exports; money is in the marketplace currency.
UNIT_NAMES = {"pct": "%", "days": "days", "money": formatting.CURRENCY_SYMBOL, "count": "count", "score": "score",
              "index": "index"}
# Units a CSV column header names; counts, NPS scores and indices read without one.
HEADER_UNITS = {"pct", "days", "money"}


def user_may_open(user, url_name: str) -> bool:
    """Whether the admin page ``<app>_<model>_<page>`` would let the user in (view or change permission).

    Staff should not be sent to a 403: a link is offered only where it opens.
    """
    app_label, _, rest = url_name.partition("_")
    model_name = rest.rsplit("_", 1)[0]
    return user.has_perm(f"{app_label}.view_{model_name}") or user.has_perm(f"{app_label}.change_{model_name}")


def admin_url(name: str, *, user=None, **params) -> str | None:
    """A changelist URL with filters, or None when that admin is not installed (yet) or ``user`` may not open it."""
    if user is not None and not user_may_open(user, name):
        return None
    try:
        url = reverse(f"admin:{name}")
    except NoReverseMatch:
        return None
    params = {k: v for k, v in params.items() if v not in (None, "")}
    return f"{url}?{urlencode(params)}" if params else url


def _range(prefix: str, period: Period) -> dict:
    # Full timestamps with their UTC offset, so the admin filters on aware datetimes.
    return {f"{prefix}__gte": period.start_at.isoformat(), f"{prefix}__lt": period.end_before.isoformat()}


def drill_url(kpi: str, period: Period, segment: Segment, *, user=None) -> str | None:
    """The admin list behind a KPI tile: the orders, sellers or responses it counts (None if ``user`` may not open it)."""
    order_category = {"seller__craft_category__exact": segment.category}
    seller_category = {"craft_category__exact": segment.category}
    orders = lambda **extra: admin_url("marketplace_order_changelist", user=user, **_range("placed_at", period), **order_category, **extra)  # noqa: E731
    sellers = lambda **extra: admin_url("sellers_seller_changelist", user=user, **seller_category, **extra)  # noqa: E731
    return {
        "cancellation_rate": lambda: orders(status__exact="cancelled"),
        "return_rate": lambda: orders(status__exact="returned"),
        "average_order_value": lambda: orders(),
        "repeat_purchase_rate": lambda: orders(),
        "lifetime_value": lambda: orders(),
        "seller_retention_rate": lambda: sellers(onboarding_status__exact="approved"),
        "time_to_first_sale": lambda: sellers(onboarding_status__exact="approved"),
        "onboarding_throughput": lambda: sellers(**_range("approved_at", period)),
        "average_onboarding_time": lambda: sellers(**_range("approved_at", period)),
        "engagement_rate": lambda: admin_url("marketplace_engagementevent_changelist", user=user, **_range("occurred_at", period)),
        "nps": lambda: admin_url("feedback_response_changelist", user=user, **_range("submitted_at", period)),
        "underperforming_listing_share": lambda: admin_url("sellers_listinghealth_changelist", user=user, is_underperforming__exact="1"),
        "seller_score_drift": lambda: admin_url("scoring_modelversion_changelist", user=user, status__exact="active"),
        "seller_score_live_auc": lambda: admin_url("scoring_modelversion_changelist", user=user, status__exact="active"),
    }[kpi]()


@dataclass
class Table:
    """One dashboard table. ``rows`` hold plain values, which the CSV export writes under
    ``export_headers``; ``shown_rows``, where given, are the same cells as the page shows them."""

    key: str
    title: str
    headers: list[str]
    rows: list[list]
    shown_rows: list[list] | None = None
    export_headers: list[str] | None = None

    @property
    def page_rows(self) -> list[list]:
        return self.rows if self.shown_rows is None else self.shown_rows

    @property
    def csv_headers(self) -> list[str]:
        return self.headers if self.export_headers is None else self.export_headers


@dataclass
class DashboardReport:
    period: Period
    segment: Segment
    breakdown: str
    from_snapshot: bool
    tiles: list[dict] = field(default_factory=list)
    charts: dict = field(default_factory=dict)
    queues: list[dict] = field(default_factory=list)
    alerts: list = field(default_factory=list)
    tables: dict[str, Table] = field(default_factory=dict)


def _snapshot_group(segment: Segment) -> tuple[str, str] | None:
    if segment.is_all:
        return "all", "all"
    if segment.category and not segment.tier:
        return "category", segment.category
    if segment.tier and not segment.category:
        return "tier", segment.tier
    return None


def _threshold_state(value, thresholds: list[AlertThreshold], open_kpis: set[str], kpi: str) -> tuple[str, str]:
    rules = [t for t in thresholds if t.kpi == kpi and t.is_active]
    if kpi in open_kpis:
        return "alert", "An alert is open"
    for rule in rules:
        limit = float(rule.value)
        if value is not None and rule.condition == Condition.ABOVE and value > limit:
            return "breach", f"Above {kpi_value_display(kpi, limit)}"
        if value is not None and rule.condition == Condition.BELOW and value < limit:
            return "breach", f"Below {kpi_value_display(kpi, limit)}"
    if rules:
        return "ok", "; ".join(f"alert if it {threshold_display(kpi, r.condition, r.value)}" for r in rules)
    return "none", "No threshold"


def dashboard_report(*, period: Period, segment: Segment, breakdown: str, user, use_snapshots: bool = True) -> DashboardReport:
    group = _snapshot_group(segment)
    snapshot_rows = {}
    if use_snapshots and group and period.days == SNAPSHOT_WINDOW_DAYS:
        snapshot_rows = selectors.snapshot_values(as_of=period.end, window_days=period.days, group_by=group[0], group=group[1])
    report = DashboardReport(period=period, segment=segment, breakdown=breakdown, from_snapshot=bool(snapshot_rows))

    applicable = [key for key, d in KPIS.items() if segment.is_all or d.group_bys]
    if snapshot_rows:
        values = {key: snapshot_rows[key] for key in applicable if key in snapshot_rows}
    else:
        values = kpi_compute_all(period=period, segment=segment)
    trends = selectors.kpi_trends(end=period.end, days=SPARKLINE_DAYS, window_days=SNAPSHOT_WINDOW_DAYS,
                                  group_by=group[0] if group else "all", group=group[1] if group else "all")
    thresholds = list(AlertThreshold.objects.all())
    report.alerts = selectors.open_alerts()
    open_kpis = {alert.kpi for alert in report.alerts}
    for key in applicable:
        definition = KPIS[key]
        result = values.get(key)
        value = result.value if result is not None else None
        state, note = _threshold_state(value, thresholds, open_kpis, key)
        report.tiles.append({
            "key": key, "label": definition.label, "unit": definition.unit, "value": value,
            "display": format_value(value, definition.unit),
            "numerator": getattr(result, "numerator", None), "denominator": getattr(result, "denominator", None),
            "basis": _basis_display(key, result),
            "definition": definition.definition, "state": state, "state_note": note,
            "trend": [v for _, v in trends.get(key, [])], "href": drill_url(key, period, segment, user=user),
        })

    stored_charts = selectors.chart_snapshots(as_of=period.end) if report.from_snapshot else {}
    report.charts = stored_charts if len(stored_charts) == 5 else chart_data(period=period)
    report.queues = selectors.queue_counts(user=user)
    report.tables = _tables(report, snapshot_rows_available=report.from_snapshot and segment.is_all)
    return report


def _basis_display(kpi: str, result) -> str:
    """The tile's "numerator / denominator" line, the numerator in the KPI's terms: "$208,997.83 / 435"."""
    if result is None or not getattr(result, "denominator", None):
        return ""
    return f"{kpi_numerator_display(kpi, result.numerator)} / {formatting.quantity(result.denominator)}"


def _breakdown_table(report: DashboardReport, from_snapshot: bool) -> Table:
    keys = [key for key, d in KPIS.items() if report.breakdown in d.group_bys]
    groups = [value for value, _ in CraftCategory.choices] if report.breakdown == "category" else list(TIERS)
    cells: dict[str, dict[str, float | None]] = {group: {} for group in groups}
    if from_snapshot:
        for row in KpiSnapshot.objects.filter(
            as_of=report.period.end, window_days=report.period.days, group_by=report.breakdown
        ).values("kpi", "group", "value"):
            cells.setdefault(row["group"], {})[row["kpi"]] = row["value"]
    else:
        for key in keys:
            for group, result in kpi_compute(key=key, period=report.period, segment=report.segment,
                                             group_by=report.breakdown).items():
                cells.setdefault(group, {})[key] = result.value
    labels = dict(CraftCategory.choices) | TIERS
    units = [KPIS[key].unit for key in keys]
    rows = [[labels.get(group, group), *[cells[group].get(key) for key in keys]] for group in cells if group in labels]
    return Table(
        "breakdown", f"KPIs by {report.breakdown}", [report.breakdown.title(), *[KPIS[k].label for k in keys]], rows,
        shown_rows=[[row[0], *[format_value(value, unit) for value, unit in zip(row[1:], units)]] for row in rows],
        export_headers=[report.breakdown.title(), *[_with_unit(KPIS[k].label, KPIS[k].unit) for k in keys]],
    )


def _with_unit(label: str, unit: str) -> str:
    """A CSV column header naming its unit: "Average order value ($)"."""
    return f"{label} ({UNIT_NAMES[unit]})" if unit in HEADER_UNITS else label


def _kpi_table(report: DashboardReport) -> Table:
    rows, shown = [], []
    for t in report.tiles:
        unit = UNIT_NAMES[t["unit"]]
        rows.append([t["label"], t["value"], unit, t["numerator"], t["denominator"], t["state"], t["definition"]])
        # A money KPI's numerator is money too (revenue, net spend); its denominator counts orders or buyers.
        numerator = formatting.money(t["numerator"]) if t["unit"] == "money" else t["numerator"]
        shown.append([t["label"], t["display"], unit, numerator, t["denominator"], t["state"], t["definition"]])
    return Table("kpis", "KPIs", ["KPI", "Value", "Unit", "Numerator", "Denominator", "State", "Definition"], rows,
                 shown_rows=shown)


def _tables(report: DashboardReport, *, snapshot_rows_available: bool) -> dict[str, Table]:
    charts = report.charts
    tables = [_kpi_table(report), _breakdown_table(report, snapshot_rows_available)]
    cohorts = charts["cohort_retention"]["cohorts"]
    width = max((len(c["retention"]) for c in cohorts), default=0)
    tables.append(Table("cohort_retention", "Cohort retention (% buying k months after first purchase)",
                        ["Cohort", "Buyers", *[f"+{k}" for k in range(width)]],
                        [[c["cohort"], c["size"], *c["retention"]] for c in cohorts]))
    tables.append(Table("nps_by_month", "NPS by month", ["Month", "NPS", "Responses"],
                        [[p["month"], p["nps"], p["responses"]] for p in charts["nps_by_month"]["points"]]))
    distribution = charts["score_distribution"]
    # Artisans no validated model can score yet are counted, not hidden; snapshots from before
    # unscored artisans existed have no such count.
    tables.append(Table("score_distribution", "Seller score distribution", ["Scores", "Sellers"],
                        [[f'{b["low"]}-{b["high"]}', b["sellers"]] for b in distribution["buckets"]]
                        + [["not scored yet", distribution.get("unscored", 0)]]))
    tables.append(Table("onboarding_funnel", "Onboarding funnel (applied in the period)", ["Stage", "Sellers"],
                        [[s["label"], s["sellers"]] for s in charts["onboarding_funnel"]["stages"]]))
    tables.append(Table("onboarding_time", "Average onboarding time by approval month", ["Month", "Approved", "Average days"],
                        [[t["month"], t["approved"], t["avg_days"]] for t in charts["onboarding_funnel"]["timing"]]))
    themes = charts["theme_frequency"]
    tables.append(Table("theme_frequency", "Feedback themes by month", ["Theme", *themes["months"]],
                        [[t["name"], *t["counts"]] for t in themes["themes"]]))
    tables.append(Table("queues", "Queues", ["Team", "Open", "Overdue", "Mine", "Unassigned"],
                        [[q["label"], q["open"], q["overdue"], q["mine"], q["unassigned"]] for q in report.queues]))
    tables.append(Table("alerts", "Open alerts", ["Opened", "KPI", "Value", "Baseline", "Threshold", "Period"],
                        [[formatting.day_and_time(a.opened_at), a.get_kpi_display(), kpi_value_display(a.kpi, a.value),
                          kpi_value_display(a.kpi, a.baseline) if a.baseline is not None else None,
                          threshold_display(a.kpi, a.threshold.condition, a.threshold_value),
                          formatting.day_range(a.period_start, a.period_end)] for a in report.alerts]))
    return {table.key: table for table in tables}


def funnel_links(period: Period, *, user=None) -> dict[str, str | None]:
    applied = _range("applied_at", period)
    approved = {"onboarding_status__exact": OnboardingStatus.APPROVED, **applied}
    return {
        "applied": admin_url("sellers_seller_changelist", user=user, **applied),
        "routed": admin_url("sellers_seller_changelist", user=user, **applied),
        "approved": admin_url("sellers_seller_changelist", user=user, **approved),
        "onboarded": admin_url("sellers_seller_changelist", user=user, **approved),
        "first_sale": admin_url("sellers_seller_changelist", user=user, **approved),
    }

