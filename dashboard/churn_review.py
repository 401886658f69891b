"""The weekly churn review (seed 000: "weekly churn review meetings involving data scientists,
product owners, and support teams"): what that meeting looks at, for one week.

Sections, each also a CSV:
  risk       - buyers and artisans who moved into high risk in the week, and why: every
               intervention flag raised in the week (buyer churn risk, artisan dormancy, late
               shipments), treated or held out, with the reason the case or flag recorded;
  cases      - per team and kind: opened, worked (any staff action), resolved, with outcomes;
  interventions - treated vs held-out retention so far, per play (open windows included);
  kpis       - each active alert threshold: the KPI over its window ending on the week's last day,
               the window before, the change, and whether it breaches.
Emailed to each team (its own cases only) every Monday by beat; the page is printable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Count
from django.utils import timezone

from core import formatting

SECTIONS = ("risk", "cases", "interventions", "kpis")
RISK_KINDS = ("buyer_churn_risk", "seller_dormant", "seller_late_shipments")


@dataclass
class Table:
    """``rows`` keep raw values for the CSV download; ``shown_rows`` are the same cells as the page
    and the email read them (names, not codes; values in their unit)."""

    headers: list[str]
    rows: list[list] = field(default_factory=list)
    shown_rows: list[list] = field(default_factory=list)


@dataclass
class ChurnReview:
    week_start: date
    week_end: date
    tables: dict[str, Table]
    summary: dict


def week_of(day: date) -> tuple[date, date]:
    """The Monday-to-Sunday week before the one containing ``day`` (the week just finished)."""
    this_monday = day - timedelta(days=day.weekday())
    start = this_monday - timedelta(days=7)
    return start, start + timedelta(days=6)


def _bounds(start: date, end: date) -> tuple[datetime, datetime]:
    tz = timezone.get_current_timezone()
    return datetime.combine(start, time.min, tzinfo=tz), datetime.combine(end + timedelta(days=1), time.min, tzinfo=tz)


def _play_name(kind: str) -> str:
    """A play is named after the case kind it opens: "Buyer at churn risk", not "buyer_churn_risk"."""
    from casework.models import case_kind_label

    return case_kind_label(kind)


def _risk(start_at, end_at, team: str | None) -> Table:
    from buyers.models import InterventionArm, InterventionAssignment
    from casework.kinds import policy_for

    table = Table(["subject", "id", "name", "play", "arm", "flagged", "case", "why"])
    rows = (
        InterventionAssignment.objects.filter(kind__in=RISK_KINDS, flagged_at__gte=start_at, flagged_at__lt=end_at)
        .select_related("buyer", "seller", "case")
        .order_by("kind", "flagged_at", "pk")
    )
    for a in rows:
        if team and policy_for(a.kind).team != team:
            continue
        subject = a.buyer or a.seller
        why = a.case.reason if a.case else "; ".join(str(r) for r in (a.evidence.get("reasons") or [])) or _evidence_text(a.evidence)
        subject_kind = "buyer" if a.buyer_id else "artisan"
        table.rows.append([subject_kind, subject.pk, subject.name, a.kind, a.arm, f"{a.flagged_at:%Y-%m-%d}", a.case_id or "", why])
        table.shown_rows.append([
            subject_kind, subject.pk, subject.name, _play_name(a.kind), dict(InterventionArm.choices).get(a.arm, a.arm),
            formatting.day(a.flagged_at), f"#{a.case_id}" if a.case_id else formatting.DASH, why,
        ])
    return table


def _evidence_text(evidence: dict) -> str:
    keys = ("churn_probability", "rate", "late", "orders", "days_since_last_order", "explanation")
    return ", ".join(f"{k}={evidence[k]}" for k in keys if k in evidence)


def _cases(start_at, end_at, team: str | None) -> Table:
    from casework.models import Case, CaseEvent, CaseKind, Team

    cases = Case.objects.all() if not team else Case.objects.filter(team=team)
    opened = {
        (r["team"], r["kind"]): r["n"]
        for r in cases.filter(created_at__gte=start_at, created_at__lt=end_at).values("team", "kind").annotate(n=Count("pk")).order_by()
    }
    worked = {
        (r["case__team"], r["case__kind"]): r["n"]
        for r in CaseEvent.objects.filter(at__gte=start_at, at__lt=end_at, case__in=cases)
        .exclude(action="opened")
        .values("case__team", "case__kind")
        .annotate(n=Count("case", distinct=True))
        .order_by()
    }
    resolved: dict[tuple, dict[str, int]] = {}
    for r in (
        cases.filter(closed_at__gte=start_at, closed_at__lt=end_at).values("team", "kind", "outcome").annotate(n=Count("pk")).order_by()
    ):
        resolved.setdefault((r["team"], r["kind"]), {})[r["outcome"] or "dismissed"] = r["n"]
    still_open = {
        (r["team"], r["kind"]): r["n"] for r in cases.active().values("team", "kind").annotate(n=Count("pk")).order_by()
    }
    table = Table(["team", "kind", "opened", "worked", "resolved", "outcomes", "open now"])
    teams, kinds = dict(Team.choices), dict(CaseKind.choices)
    for key in sorted(set(opened) | set(worked) | set(resolved)):
        outcomes = resolved.get(key, {})
        table.rows.append([
            teams.get(key[0], key[0]), kinds.get(key[1], key[1]), opened.get(key, 0), worked.get(key, 0), sum(outcomes.values()),
            ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items())), still_open.get(key, 0),
        ])
    table.shown_rows = [list(row) for row in table.rows]
    return table


def _interventions(as_of: datetime) -> Table:
    from retention.impact import intervention_report

    table = Table(["play", "treated", "treated retained %", "held out", "held-out retained %", "lift (points)", "lift 95% CI"])

    def pct(x):
        return None if x is None else round(100 * x, 1)

    for r in intervention_report(as_of=as_of, include_open=True):
        ci = r["lift_ci95"]
        table.rows.append([
            r["kind"], r["treated"], pct(r["treated_rate"]), r["held_out"], pct(r["held_out_rate"]), pct(r["lift"]),
            f"{pct(ci[0])} to {pct(ci[1])}" if ci else "",
        ])
        table.shown_rows.append([
            _play_name(r["kind"]), r["treated"], formatting.percent(r["treated_rate"], 1), r["held_out"],
            formatting.percent(r["held_out_rate"], 1), formatting.point_difference(r["lift"]),
            formatting.point_difference_interval(*ci) if ci else formatting.DASH,
        ])
    return table


def _change_display(kpi: str, change) -> str:
    """A KPI's move between windows in its own unit, signed: "+$4.06", "-0.2 pts", "+0.3 d"."""
    from dashboard.kpis import KPIS, kpi_value_display

    if change is None:
        return formatting.DASH
    sign = "+" if change > 0 else "-" if change < 0 else ""
    if KPIS[kpi].unit == "pct":
        return f"{sign}{abs(change):.1f} pts"
    return f"{sign}{kpi_value_display(kpi, abs(change))}"


def _kpis(end: date, team: str | None) -> Table:
    from dashboard.kpis import KPIS, Period, kpi_compute, kpi_value_display
    from dashboard.models import AlertThreshold, threshold_display
    from dashboard.services import _breach

    table = Table(["kpi", "window days", "this window", "previous window", "change", "threshold", "breached", "team"])
    thresholds = AlertThreshold.objects.filter(is_active=True).order_by("kpi", "condition")
    if team:
        thresholds = thresholds.filter(team=team)
    cache: dict[tuple, tuple] = {}
    for t in thresholds:
        key = (t.kpi, t.window_days)
        if key not in cache:
            period = Period.trailing(end=end, days=t.window_days)
            current = kpi_compute(key=t.kpi, period=period)["all"]
            previous = kpi_compute(key=t.kpi, period=period.previous())["all"]
            cache[key] = (current, previous)
        current, previous = cache[key]
        breached, _ = _breach(t, current, previous)
        change = (
            round(current.value - previous.value, 2) if current.value is not None and previous.value is not None else None
        )
        table.rows.append([
            KPIS[t.kpi].label, t.window_days, None if current.value is None else round(current.value, 2),
            None if previous.value is None else round(previous.value, 2), change,
            threshold_display(t.kpi, t.condition, t.value), "yes" if breached else "no", t.get_team_display(),
        ])
        table.shown_rows.append([
            KPIS[t.kpi].label, t.window_days, kpi_value_display(t.kpi, current.value), kpi_value_display(t.kpi, previous.value),
            _change_display(t.kpi, change), threshold_display(t.kpi, t.condition, t.value), "yes" if breached else "no",
            t.get_team_display(),
        ])
    return table


def churn_review(*, week_start: date | None = None, team: str | None = None, now: datetime | None = None) -> ChurnReview:
    """The review for the week starting ``week_start`` (a Monday; default: last week)."""
    now = now or timezone.now()
    if week_start is None:
        week_start, week_end = week_of(timezone.localdate(now))
    else:
        week_start = week_start - timedelta(days=week_start.weekday())
        week_end = week_start + timedelta(days=6)
    start_at, end_at = _bounds(week_start, week_end)
    tables = {
        "risk": _risk(start_at, end_at, team),
        "cases": _cases(start_at, end_at, team),
        "interventions": _interventions(min(end_at, now)),
        "kpis": _kpis(week_end, team),
    }
    summary = {
        "new_high_risk_buyers": sum(1 for r in tables["risk"].rows if r[0] == "buyer"),
        "new_high_risk_artisans": sum(1 for r in tables["risk"].rows if r[0] == "artisan"),
        "cases_opened": sum(r[2] for r in tables["cases"].rows),
        "cases_resolved": sum(r[4] for r in tables["cases"].rows),
        "kpis_breached": sum(1 for r in tables["kpis"].rows if r[6] == "yes"),
    }
    return ChurnReview(week_start=week_start, week_end=week_end, tables=tables, summary=summary)


def churn_review_text(review: ChurnReview, *, link: str) -> str:
    """The plain-text email version: the summary, the top rows, and the link to the full page."""
    s = review.summary
    lines = [
        f"Weekly churn review, {formatting.day_range(review.week_start, review.week_end)}",
        "",
        f"New high-risk buyers: {s['new_high_risk_buyers']}; artisans: {s['new_high_risk_artisans']}.",
        f"Cases opened: {s['cases_opened']}; resolved: {s['cases_resolved']}. KPIs breaching: {s['kpis_breached']}.",
        "",
        "Moved into high risk (first 10):",
    ]
    for row in review.tables["risk"].shown_rows[:10]:
        lines.append(f"  - {row[0]} {row[2]} ({row[3]}, {row[4]}): {row[7][:160]}")
    lines += ["", "Cases by kind:"]
    for row in review.tables["cases"].rows:
        lines.append(f"  - {row[1]}: opened {row[2]}, worked {row[3]}, resolved {row[4]} ({row[5] or 'no outcomes'})")
    lines += ["", "Interventions so far (treated vs held out, retained %):"]
    for row in review.tables["interventions"].shown_rows:
        lines.append(f"  - {row[0]}: {row[2]} of {row[1]} vs {row[4]} of {row[3]}; lift {row[5]}")
    lines += ["", "KPIs against thresholds:"]
    for row in review.tables["kpis"].shown_rows:
        flag = "BREACH " if row[6] == "yes" else ""
        lines.append(f"  - {flag}{row[0]}: {row[2]} (was {row[3]}); threshold {row[5]}")
    lines += ["", f"Full review, printable, with CSV downloads: {link}"]
    return "\n".join(lines)


def churn_review_send(*, now: datetime | None = None) -> int:
    """Queue last week's review to each team's inbox (staff mail, exempt from recipient caps). Idempotent per week."""
    from django.conf import settings
    from django.urls import reverse

    from core.outbox import outbox_enqueue, team_address

    now = now or timezone.now()
    week_start, _ = week_of(timezone.localdate(now))
    base = getattr(settings, "KILN_PUBLIC_URL", "http://localhost:8000").rstrip("/")
    queued = 0
    for team in settings.TEAM_EMAILS:
        scope = None if team == "marketplace_admin" else team
        review = churn_review(week_start=week_start, team=scope, now=now)
        link = f"{base}{reverse('dashboard:churn-review')}?week={week_start.isoformat()}" + (f"&team={scope}" if scope else "")
        _, created = outbox_enqueue(
            dedupe_key=f"dashboard:churn-review:{week_start.isoformat()}:{team}",
            to=team_address(team),
            category="churn_review_digest",
            subject=f"Weekly churn review: week of {formatting.day(week_start)}",
            body=churn_review_text(review, link=link),
        )
        queued += int(created)
    return queued

