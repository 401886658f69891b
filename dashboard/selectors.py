"""Reads behind the dashboard charts and queue counts. Each runs a fixed number of grouped queries."""

from __future__ import annotations

from datetime import date, timedelta

from django.apps import apps
from django.db.models import Count, Exists, Max, OuterRef, Q, Subquery
from django.db.models.functions import TruncMonth
from django.utils import timezone

from casework.models import ACTIVE_STATUSES, Case, Team
from core.roles import visible_teams
from dashboard.kpis import KPIS, Period, band_cutoffs
from dashboard.models import Alert, AlertStatus, ChartSnapshot, KpiSnapshot
from marketplace.models import Order, OrderStatus
from sellers.models import OnboardingStatus, Seller

COHORT_MONTHS = 12
TREND_MONTHS = 12
SCORE_BUCKET = 10


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def months_between(earlier: date, later: date) -> int:
    return (later.year - earlier.year) * 12 + later.month - earlier.month


def _month_period(end: date, months: int) -> Period:
    return Period(start=add_months(month_start(end), -(months - 1)), end=end)


def _as_date(value) -> date:
    return value.date() if hasattr(value, "date") else value


def cohort_retention(*, end: date, months: int = COHORT_MONTHS) -> dict:
    """Monthly acquisition cohorts (month of a buyer's first sold order) × months since that purchase.

    Cell k of a cohort is the share of its buyers with a sold order in month k after the first.
    """
    window = _month_period(end, months)
    sold = Order.objects.exclude(status=OrderStatus.CANCELLED)
    first_order = sold.filter(buyer_id=OuterRef("buyer_id")).order_by("placed_at").values("placed_at")[:1]
    rows = (
        sold.filter(placed_at__gte=window.start_at, placed_at__lt=window.end_before)
        .annotate(first_at=Subquery(first_order))
        .filter(first_at__gte=window.start_at)
        .annotate(cohort=TruncMonth("first_at"), month=TruncMonth("placed_at"))
        .values("cohort", "month")
        .annotate(buyers=Count("buyer_id", distinct=True))
        .order_by()
    )
    cells: dict[date, dict[int, int]] = {}
    for row in rows:
        cohort = _as_date(row["cohort"])
        cells.setdefault(cohort, {})[months_between(cohort, _as_date(row["month"]))] = row["buyers"]
    cohorts = []
    for index in range(months):
        cohort = add_months(window.start, index)
        counts = cells.get(cohort, {})
        size = counts.get(0, 0)
        span = months_between(cohort, month_start(end)) + 1
        cohorts.append({
            "cohort": cohort.strftime("%Y-%m"),
            "size": size,
            "retention": [round(100.0 * counts.get(k, 0) / size, 1) if size else None for k in range(span)],
        })
    return {"months": months, "cohorts": cohorts}


def nps_by_month(*, end: date, months: int = TREND_MONTHS) -> dict:
    try:
        Response = apps.get_model("feedback", "Response")
    except LookupError:
        return {"points": []}
    window = _month_period(end, months)
    rows = (
        Response.objects.filter(nps__isnull=False, submitted_at__gte=window.start_at, submitted_at__lt=window.end_before)
        .exclude(respondent_kind="seller")
        .annotate(month=TruncMonth("submitted_at"))
        .values("month")
        .annotate(n=Count("pk"), promoters=Count("pk", filter=Q(nps__gte=9)), detractors=Count("pk", filter=Q(nps__lte=6)))
        .order_by("month")
    )
    by_month = {_as_date(row["month"]): row for row in rows}
    points = []
    for index in range(months):
        month = add_months(window.start, index)
        row = by_month.get(month)
        nps = round(100.0 * (row["promoters"] - row["detractors"]) / row["n"], 1) if row and row["n"] else None
        points.append({"month": month.strftime("%Y-%m"), "nps": nps, "responses": row["n"] if row else 0})
    return {"points": points}


def score_distribution() -> dict:
    """Artisans per 10-point score bucket, with the onboarding band cut-offs."""
    low, high = band_cutoffs()
    buckets = [{"low": lo, "high": min(lo + SCORE_BUCKET - 1, 100), "sellers": 0} for lo in range(0, 100, SCORE_BUCKET)]
    try:
        SellerScore = apps.get_model("scoring", "SellerScore")
    except LookupError:
        return {"buckets": buckets, "cutoffs": [low, high], "scored": 0}
    rows = SellerScore.objects.filter(score__isnull=False).values("score").annotate(n=Count("pk")).order_by()
    unscored = SellerScore.objects.filter(score__isnull=True).count()
    scored = 0
    for row in rows:
        index = min(row["score"] // SCORE_BUCKET, len(buckets) - 1)
        buckets[index]["sellers"] += row["n"]
        scored += row["n"]
    return {"buckets": buckets, "cutoffs": [low, high], "scored": scored, "unscored": unscored}


FUNNEL_STAGES = [
    ("applied", "Applied"),
    ("routed", "Routed (left 'applied')"),
    ("approved", "Approved"),
    ("onboarded", "Onboarding done"),
    ("first_sale", "First sale"),
]


def onboarding_funnel(*, period: Period, months: int = TREND_MONTHS) -> dict:
    """Artisans who applied in the period, by how far they got; and mean onboarding days by approval month."""
    sold = Order.objects.exclude(status=OrderStatus.CANCELLED).filter(seller_id=OuterRef("pk"))
    stages = Seller.objects.filter(applied_at__gte=period.start_at, applied_at__lt=period.end_before).aggregate(
        applied=Count("pk"),
        routed=Count("pk", filter=~Q(onboarding_status=OnboardingStatus.APPLIED)),
        approved=Count("pk", filter=Q(approved_at__isnull=False)),
        onboarded=Count("pk", filter=Q(onboarded_at__isnull=False)),
        first_sale=Count("pk", filter=Q(Exists(sold))),
        rejected=Count("pk", filter=Q(onboarding_status=OnboardingStatus.REJECTED)),
    )
    window = _month_period(period.end, months)
    timing_rows = (
        Seller.objects.filter(approved_at__gte=window.start_at, approved_at__lt=window.end_before)
        .annotate(month=TruncMonth("approved_at"))
        .values_list("month", "applied_at", "approved_at")
    )
    totals: dict[date, list[float]] = {}
    for month, applied_at, approved_at in timing_rows:
        totals.setdefault(_as_date(month), []).append((approved_at - applied_at).total_seconds() / 86400)
    timing = []
    for index in range(months):
        month = add_months(window.start, index)
        values = totals.get(month, [])
        timing.append({"month": month.strftime("%Y-%m"), "approved": len(values),
                       "avg_days": round(sum(values) / len(values), 1) if values else None})
    return {
        "stages": [{"key": key, "label": label, "sellers": stages[key] or 0} for key, label in FUNNEL_STAGES],
        "rejected": stages["rejected"] or 0,
        "timing": timing,
    }


def theme_frequency(*, end: date, months: int = 6, top: int = 6) -> dict:
    try:
        ResponseTheme = apps.get_model("feedback", "ResponseTheme")
    except LookupError:
        return {"months": [], "themes": []}
    window = _month_period(end, months)
    rows = (
        ResponseTheme.objects.filter(
            response__submitted_at__gte=window.start_at, response__submitted_at__lt=window.end_before
        )
        .annotate(month=TruncMonth("response__submitted_at"))
        .values("theme_id", "theme__name", "theme__slug", "month")
        .annotate(n=Count("response_id", distinct=True))
        .order_by()
    )
    month_keys = [add_months(window.start, i) for i in range(months)]
    themes: dict[int, dict] = {}
    for row in rows:
        theme = themes.setdefault(row["theme_id"], {"id": row["theme_id"], "name": row["theme__name"],
                                                    "slug": row["theme__slug"], "counts": {}, "total": 0})
        theme["counts"][_as_date(row["month"])] = row["n"]
        theme["total"] += row["n"]
    ranked = sorted(themes.values(), key=lambda t: (-t["total"], t["name"]))[:top]
    return {
        "months": [m.strftime("%Y-%m") for m in month_keys],
        "themes": [{**{k: t[k] for k in ("id", "name", "slug", "total")},
                    "counts": [t["counts"].get(m, 0) for m in month_keys]} for t in ranked],
    }


def queue_counts(*, user, now=None) -> list[dict]:
    """Per team the user may see: open cases, overdue cases, and cases assigned to the user. One query."""
    now = now or timezone.now()
    teams = visible_teams(user)
    rows = (
        Case.objects.filter(status__in=ACTIVE_STATUSES, team__in=teams)
        .values("team")
        .annotate(
            open=Count("pk"),
            overdue=Count("pk", filter=Q(due_at__lt=now)),
            due_soon=Count("pk", filter=Q(due_at__gte=now, due_at__lt=now + timedelta(days=1))),
            mine=Count("pk", filter=Q(assignee_id=user.pk)),
            unassigned=Count("pk", filter=Q(assignee__isnull=True)),
        )
        .order_by()
    )
    by_team = {row["team"]: row for row in rows}
    labels = dict(Team.choices)
    return [
        {"team": team, "label": labels[team], **{k: by_team.get(team, {}).get(k, 0) for k in ("open", "overdue", "mine", "unassigned")}}
        for team in teams
    ]


def open_alerts(*, limit: int = 20) -> list[Alert]:
    return list(Alert.objects.filter(status=AlertStatus.OPEN).select_related("threshold").order_by("-opened_at")[:limit])


def kpi_trends(*, end: date, days: int = 90, window_days: int = 30, group_by: str = "all", group: str = "all") -> dict[str, list]:
    """Stored daily values per KPI for sparklines: {kpi: [(date, value), ...]}. One query."""
    rows = KpiSnapshot.objects.filter(
        as_of__gt=end - timedelta(days=days), as_of__lte=end, window_days=window_days, group_by=group_by, group=group
    ).order_by("as_of").values_list("kpi", "as_of", "value")
    trends: dict[str, list] = {key: [] for key in KPIS}
    for kpi, as_of, value in rows:
        if kpi in trends:
            trends[kpi].append((as_of, value))
    return trends


def snapshot_values(*, as_of: date, window_days: int, group_by: str = "all", group: str = "all") -> dict[str, KpiSnapshot]:
    rows = KpiSnapshot.objects.filter(as_of=as_of, window_days=window_days, group_by=group_by, group=group)
    return {row.kpi: row for row in rows}


def chart_snapshots(*, as_of: date) -> dict[str, dict]:
    return dict(ChartSnapshot.objects.filter(as_of=as_of).values_list("chart", "data"))


def latest_snapshot_date() -> date | None:
    return KpiSnapshot.objects.aggregate(latest=Max("as_of"))["latest"]



def home_work(*, user, now=None) -> list[dict]:
    """The user's teams' active cases by kind: open, overdue, due within a day, mine, unassigned. One query."""
    now = now or timezone.now()
    teams = visible_teams(user)
    rows = (
        Case.objects.filter(status__in=ACTIVE_STATUSES, team__in=teams)
        .values("team", "kind")
        .annotate(
            open=Count("pk"),
            overdue=Count("pk", filter=Q(due_at__lt=now)),
            due_soon=Count("pk", filter=Q(due_at__gte=now, due_at__lt=now + timedelta(days=1))),
            mine=Count("pk", filter=Q(assignee_id=user.pk)),
            unassigned=Count("pk", filter=Q(assignee__isnull=True)),
        )
        .order_by("team", "-overdue", "-open")
    )
    return list(rows)
