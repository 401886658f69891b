import csv
from datetime import timedelta

from django.contrib import admin
from django.http import Http404, HttpResponse
from django.template.response import TemplateResponse

from core import formatting
from dashboard import charts
from dashboard.forms import DashboardFilterForm, default_period
from dashboard.kpis import EVERYONE, Period
from dashboard.report import admin_url, dashboard_report, funnel_links
from dashboard.selectors import add_months


def _filters(request):
    """The validated filters, or the defaults plus the messages explaining what was wrong."""
    form = DashboardFilterForm(request.GET if request.GET else None)
    if form.is_bound and form.is_valid():
        data = form.cleaned_data
        return form, data["period"], data["segment"], data["breakdown"], []
    errors = form.error_messages_list() if form.is_bound else []
    return form, default_period(), EVERYONE, "category", errors


def _render_charts(report, *, user) -> dict:
    # Links only to lists the user may open: a chart bar should not lead to a 403.
    data, period = report.charts, report.period
    cohorts = data["cohort_retention"]["cohorts"]

    def cohort_link(cohort):
        year, month = (int(part) for part in cohort["cohort"].split("-"))
        first = period.end.replace(year=year, month=month, day=1)
        month = Period(start=first, end=add_months(first, 1) - timedelta(days=1))
        return admin_url("buyers_buyer_changelist", user=user, joined_at__gte=month.start_at.isoformat(),
                         joined_at__lt=month.end_before.isoformat())

    nps_points = data["nps_by_month"]["points"]
    scores = data["score_distribution"]
    low, high = scores["cutoffs"]
    score_bars = [{
        "label": f'{b["low"]}', "value": b["sellers"],
        "color": "#c0392b" if b["high"] < low else ("#27ae60" if b["low"] >= high else "#e1a100"),
        "href": admin_url("scoring_sellerscore_changelist", user=user, score__gte=b["low"], score__lte=b["high"])
        or admin_url("sellers_seller_changelist", user=user),
    } for b in scores["buckets"]]
    funnel_data = data["onboarding_funnel"]
    links = funnel_links(period, user=user)
    timing = funnel_data["timing"]
    themes = data["theme_frequency"]
    return {
        "cohort": charts.heatmap(cohorts, link_for=cohort_link),
        "nps": charts.line_chart([{"name": "NPS", "values": [p["nps"] for p in nps_points]}],
                                 [p["month"][2:] for p in nps_points], y_min=-100, y_max=100),
        "scores": charts.bar_chart(score_bars, markers=[(low, f"review < {low}"), (high, f"instant ≥ {high}")],
                                   x_domain=(0, 100)),
        "funnel": charts.funnel([{**s, "href": links.get(s["key"])} for s in funnel_data["stages"]]),
        "onboarding_time": charts.line_chart([{"name": "Average days", "values": [t["avg_days"] for t in timing]}],
                                             [t["month"][2:] for t in timing], y_min=0, unit="d"),
        "themes": charts.line_chart([{"name": t["name"], "values": t["counts"]} for t in themes["themes"]],
                                    [m[2:] for m in themes["months"]], y_min=0),
        "theme_legend": [{"name": t["name"], "color": charts.PALETTE[i % len(charts.PALETTE)],
                          "href": admin_url("feedback_response_changelist", user=user, theme_codes__theme__id__exact=t["id"])}
                         for i, t in enumerate(themes["themes"])],
    }


def dashboard_view(request):
    form, period, segment, breakdown, errors = _filters(request)
    report = dashboard_report(period=period, segment=segment, breakdown=breakdown, user=request.user)
    for tile in report.tiles:
        tile["sparkline"] = charts.sparkline(tile["trend"])
    query = request.GET.urlencode() if not errors else ""
    context = {
        **admin.site.each_context(request),
        "title": "Operations dashboard",
        "form": form if form.is_bound and not errors else DashboardFilterForm(
            initial={"start": period.start, "end": period.end, "breakdown": breakdown}),
        "is_nav_sidebar_enabled": False,
        "errors": errors,
        "report": report,
        "charts": _render_charts(report, user=request.user),
        "query": query,
        "previous_end": period.start - timedelta(days=1),
        "case_list": admin_url("casework_case_changelist"),
        "thresholds_url": admin_url("dashboard_alertthreshold_changelist", user=request.user),
        "alerts_url": admin_url("dashboard_alert_changelist", user=request.user, status__exact="open"),
        "tables": report.tables,
    }
    return TemplateResponse(request, "dashboard/dashboard.html", context, status=400 if errors else 200)


def export_view(request, table: str):
    form, period, segment, breakdown, errors = _filters(request)
    if errors:
        return HttpResponse("\n".join(errors) + "\n", status=400, content_type="text/plain; charset=utf-8")
    report = dashboard_report(period=period, segment=segment, breakdown=breakdown, user=request.user)
    if table not in report.tables:
        raise Http404(f"No table {table!r}; tables: {', '.join(report.tables)}.")
    # Plain values, not as the page shows them, under headers that name their units.
    chosen = report.tables[table]
    return _csv_download(chosen, filename=f"kiln-{table}-{period.start}-{period.end}.csv", headers=chosen.csv_headers)


# Four decimals keep every KPI's own precision (cents, a tenth of a percent, 0.0001 of an AUC)
# and drop the binary noise of sums such as 208997.829999999.
CSV_DECIMALS = 4


def _csv_cell(cell):
    if cell is None:
        return ""  # an empty cell, not "None"
    if isinstance(cell, float):
        return round(cell, CSV_DECIMALS)
    return cell


def _csv_download(table, *, filename: str, headers: list[str] | None = None) -> HttpResponse:
    """One report table as a CSV attachment of plain numbers."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(table.headers if headers is None else headers)
    writer.writerows([[_csv_cell(cell) for cell in row] for row in table.rows])
    return response


def _review_params(request):
    """Week (any day of it, ISO) and team from the query string; errors name the parameter."""
    from datetime import date

    from casework.models import Team

    errors = []
    week = None
    if request.GET.get("week"):
        try:
            week = date.fromisoformat(request.GET["week"])
        except ValueError:
            errors.append(f"week: {request.GET['week']!r} is not a date (YYYY-MM-DD).")
    team = request.GET.get("team") or None
    if team and team not in Team.values:
        errors.append(f"team: unknown team {team!r}; use one of {', '.join(Team.values)}.")
        team = None
    return week, team, errors


def churn_review_view(request):
    from casework.models import Team
    from dashboard.churn_review import churn_review

    week, team, errors = _review_params(request)
    review = churn_review(week_start=week, team=team)
    query = f"week={review.week_start.isoformat()}" + (f"&team={team}" if team else "")
    context = {
        **admin.site.each_context(request),
        "title": f"Weekly churn review: {formatting.day_range(review.week_start, review.week_end)}",
        "review": review,
        "errors": errors,
        "team": team,
        "teams": Team.choices,
        "query": query,
        "previous_week": review.week_start - timedelta(days=7),
        "next_week": review.week_start + timedelta(days=7),
        "is_nav_sidebar_enabled": False,
    }
    return TemplateResponse(request, "dashboard/churn_review.html", context, status=400 if errors else 200)


def churn_review_export_view(request, table: str):
    from dashboard.churn_review import SECTIONS, churn_review

    week, team, errors = _review_params(request)
    if errors:
        return HttpResponse("\n".join(errors) + "\n", status=400, content_type="text/plain; charset=utf-8")
    if table not in SECTIONS:
        raise Http404(f"No table {table!r}; tables: {', '.join(SECTIONS)}.")
    review = churn_review(week_start=week, team=team)
    return _csv_download(review.tables[table], filename=f"kiln-churn-review-{table}-{review.week_start}.csv")
