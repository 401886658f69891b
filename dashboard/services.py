"""Writes of the dashboard: daily KPI snapshots, alert evaluation and alert resolution."""

from __future__ import annotations

from datetime import date, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from casework.models import CaseKind
from casework.services import case_open
from core import formatting
from core.formatting import person_name
from core.outbox import outbox_enqueue, team_address
from core.roles import is_marketplace_admin
from dashboard import selectors
from dashboard.kpis import ALL, KPIS, Period, kpi_compute, kpi_value_display
from dashboard.models import (
    Alert, AlertAction, AlertEvent, AlertStatus, AlertThreshold, ChartSnapshot, Condition, GroupBy, KpiSnapshot,
    threshold_display,
)
from marketplace.models import Order, OrderStatus
from sellers.models import Seller

SNAPSHOT_WINDOW_DAYS = 30
# Sellers named in one alert; each gets a case, so the number stays small enough to act on.
MAX_SELLERS_PER_ALERT = 20
# A seller "drives" a rate alert only with at least this many bad orders, so one unlucky order is not a case.
MIN_BAD_ORDERS_PER_SELLER = 2
# KPIs whose breach can be traced to individual sellers, and which orders are the "bad" ones.
SELLER_DRIVEN = {
    "return_rate": (Q(delivered_at__isnull=False), Q(returned_at__isnull=False)),
    "cancellation_rate": (Q(), Q(status=OrderStatus.CANCELLED)),
}


def default_as_of() -> date:
    """Yesterday: the last day whose data is complete when the daily jobs run."""
    return timezone.localdate() - timedelta(days=1)


# --- snapshots ----------------------------------------------------------------------------


def snapshot_record(*, as_of: date, window_days: int = SNAPSHOT_WINDOW_DAYS, charts: bool = True) -> int:
    """Store every KPI over the trailing window ending ``as_of``, whole marketplace and per category and tier.

    Idempotent: re-running for the same day overwrites that day's rows.
    """
    period = Period.trailing(end=as_of, days=window_days)
    now = timezone.now()
    rows = []
    for key, definition in KPIS.items():
        for group_by in (None, *definition.group_bys):
            for group, result in kpi_compute(key=key, period=period, group_by=group_by).items():
                rows.append(KpiSnapshot(
                    as_of=as_of, window_days=window_days, kpi=key, group_by=group_by or GroupBy.ALL, group=group or "none",
                    value=result.value, numerator=float(result.numerator or 0), denominator=float(result.denominator or 0),
                    computed_at=now,
                ))
    KpiSnapshot.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["as_of", "window_days", "kpi", "group_by", "group"],
        update_fields=["value", "numerator", "denominator", "computed_at"],
    )
    if charts:
        charts_record(as_of=as_of, window_days=window_days)
    return len(rows)


def charts_record(*, as_of: date, window_days: int = SNAPSHOT_WINDOW_DAYS) -> int:
    """Store the dashboard's charts for the trailing window ending ``as_of`` (idempotent per day).

    On its own so the nightly pipeline can draw them beside the KPI snapshots, on another worker.
    """
    now = timezone.now()
    chart_rows = [
        ChartSnapshot(as_of=as_of, chart=name, data=data, computed_at=now)
        for name, data in chart_data(period=Period.trailing(end=as_of, days=window_days)).items()
    ]
    ChartSnapshot.objects.bulk_create(
        chart_rows, update_conflicts=True, unique_fields=["as_of", "chart"], update_fields=["data", "computed_at"]
    )
    return len(chart_rows)


def snapshot_backfill(*, end: date, days: int, window_days: int = SNAPSHOT_WINDOW_DAYS) -> int:
    """Fill the sparkline history; charts are stored only for the last day (trends come from KPI rows)."""
    written = 0
    for offset in range(days - 1, -1, -1):
        day = end - timedelta(days=offset)
        written += snapshot_record(as_of=day, window_days=window_days, charts=(offset == 0))
    return written


def chart_data(*, period: Period) -> dict[str, dict]:
    """Every chart on the dashboard for a period, computed from source tables."""
    return {
        "cohort_retention": selectors.cohort_retention(end=period.end),
        "nps_by_month": selectors.nps_by_month(end=period.end),
        "score_distribution": selectors.score_distribution(),
        "onboarding_funnel": selectors.onboarding_funnel(period=period),
        "theme_frequency": selectors.theme_frequency(end=period.end),
    }


# --- alerts ----------------------------------------------------------------------------


def _breach(threshold: AlertThreshold, current, previous) -> tuple[bool, float | None]:
    """Whether the threshold is breached, and the previous-period baseline used (for drops)."""
    limit = float(threshold.value)
    if current.value is None or current.denominator < threshold.min_volume:
        return False, None
    if threshold.condition == Condition.ABOVE:
        return current.value > limit, None
    if threshold.condition == Condition.BELOW:
        return current.value < limit, None
    baseline = previous.value if previous is not None else None
    if baseline is None or baseline <= 0 or previous.denominator < threshold.min_volume:
        return False, baseline
    drop_pct = 100.0 * (baseline - current.value) / baseline
    return drop_pct > limit, baseline


def sellers_driving(*, kpi: str, period: Period, limit_pct: float) -> list[dict]:
    """Sellers whose own rate is above the alert limit, worst first, in one grouped query."""
    base_q, bad_q = SELLER_DRIVEN[kpi]
    rows = (
        Order.objects.filter(base_q, placed_at__gte=period.start_at, placed_at__lt=period.end_before)
        .values("seller_id")
        .annotate(total=Count("pk"), bad=Count("pk", filter=bad_q))
        .filter(bad__gte=MIN_BAD_ORDERS_PER_SELLER, bad__gt=F("total") * limit_pct / 100.0)
        .order_by("-bad", "seller_id")[:MAX_SELLERS_PER_ALERT]
    )
    return [
        {"seller_id": row["seller_id"], "bad_orders": row["bad"], "orders": row["total"],
         "rate": round(100.0 * row["bad"] / row["total"], 2)}
        for row in rows
    ]


def _alert_message(alert: Alert, threshold: AlertThreshold) -> tuple[str, str]:
    definition = KPIS[alert.kpi]
    sentence = threshold_display(threshold.kpi, threshold.condition, threshold.value)
    subject = f"KPI alert: {definition.label} {sentence}"
    lines = [
        f"{definition.label} for {formatting.day(alert.period_start)} to {formatting.day(alert.period_end)}: "
        f"{kpi_value_display(alert.kpi, alert.value)}.",
        f"Threshold: {sentence}.",
    ]
    if alert.baseline is not None:
        lines.append(f"Previous period: {kpi_value_display(alert.kpi, alert.baseline)}.")
    evidence = alert.evidence
    detail = (evidence.get("extra") or {}).get("detail")
    if detail:
        lines.append(detail)
    else:
        lines.append(f"Based on {formatting.quantity(evidence.get('numerator'))} of {formatting.quantity(evidence.get('denominator'))}.")
    if alert.cases_opened:
        lines.append(f"{formatting.plural(alert.cases_opened, 'seller case')} opened for the sellers driving it.")
    lines.append(f"Dashboard: {getattr(settings, 'KILN_BASE_URL', '')}/admin/dashboard/")
    return subject, "\n".join(lines)


def alert_evaluate(*, threshold_id: int, as_of: date) -> Alert | None:
    """Check one threshold for the trailing window ending ``as_of``; returns the alert opened, if any.

    An open alert for the threshold is refreshed, never duplicated; it resolves itself once the
    KPI is back within the threshold.
    """
    with transaction.atomic():
        # Locking the threshold row serialises two evaluations of it (a retried beat run and the
        # original), so both cannot see "no open alert" and open two.
        threshold = AlertThreshold.objects.select_for_update().get(pk=threshold_id)
        if not threshold.is_active:
            return None
        period = Period.trailing(end=as_of, days=threshold.window_days)
        current = kpi_compute(key=threshold.kpi, period=period)[ALL]
        previous = None
        if threshold.condition == Condition.DROPS_BY:
            previous = kpi_compute(key=threshold.kpi, period=period.previous())[ALL]
        breached, baseline = _breach(threshold, current, previous)
        now = timezone.now()
        open_alert = Alert.objects.filter(threshold=threshold, status=AlertStatus.OPEN).first()
        if not breached:
            if open_alert is not None and current.value is not None:
                note = f"Recovered: {current.value:.2f} on {as_of}."
                Alert.objects.filter(pk=open_alert.pk).update(status=AlertStatus.RESOLVED, resolved_at=now, resolution_note=note)
                AlertEvent.objects.create(alert=open_alert, action=AlertAction.RECOVERED, note=note, at=now)
            return None
        evidence = {
            "numerator": current.numerator, "denominator": current.denominator, "extra": current.extra,
            "as_of": as_of.isoformat(), "window_days": threshold.window_days,
        }
        if previous is not None:
            evidence["previous"] = {"value": previous.value, "numerator": previous.numerator, "denominator": previous.denominator}
        if open_alert is not None:
            Alert.objects.filter(pk=open_alert.pk).update(
                last_seen_at=now, value=current.value, period_start=period.start, period_end=period.end, evidence=evidence
            )
            return None
        if "category" in KPIS[threshold.kpi].group_bys:
            evidence["by_category"] = {
                group: result.value for group, result in kpi_compute(key=threshold.kpi, period=period, group_by="category").items()
            }
        drivers = []
        if threshold.kpi in SELLER_DRIVEN and threshold.condition == Condition.ABOVE:
            drivers = sellers_driving(kpi=threshold.kpi, period=period, limit_pct=float(threshold.value))
            evidence["sellers"] = drivers
        alert = Alert.objects.create(
            threshold=threshold, kpi=threshold.kpi, period_start=period.start, period_end=period.end,
            value=current.value, baseline=baseline, threshold_value=threshold.value, evidence=evidence,
            opened_at=now, last_seen_at=now,
        )
        alert.cases_opened = _open_seller_cases(alert=alert, drivers=drivers)
        alert.save(update_fields=["cases_opened"])
        subject, body = _alert_message(alert, threshold)
        outbox_enqueue(
            dedupe_key=f"dashboard.alert:{alert.pk}", to=team_address(threshold.team),
            subject=subject, body=body, category="kpi_alert",
        )
        return alert


def _open_seller_cases(*, alert: Alert, drivers: list[dict]) -> int:
    if not drivers:
        return 0
    sellers = Seller.objects.in_bulk([d["seller_id"] for d in drivers])
    label = KPIS[alert.kpi].label.lower()
    opened = 0
    # At most MAX_SELLERS_PER_ALERT calls: case_open owns the one-active-case-per-seller rule.
    for driver in drivers:
        _, created = case_open(
            kind=CaseKind.SELLER_QUALITY_ALERT,
            seller=sellers[driver["seller_id"]],
            reason=(f"Drives the {label} alert: {driver['bad_orders']} of {driver['orders']} orders "
                    f"({driver['rate']}%) between {alert.period_start} and {alert.period_end}."),
            evidence={"alert_id": alert.pk, "kpi": alert.kpi, **driver},
        )
        opened += int(created)
    return opened


def alert_evaluate_all(*, as_of: date | None = None) -> list[Alert]:
    as_of = as_of or default_as_of()
    opened = []
    for threshold_id in AlertThreshold.objects.filter(is_active=True).values_list("pk", flat=True):
        alert = alert_evaluate(threshold_id=threshold_id, as_of=as_of)
        if alert is not None:
            opened.append(alert)
    return opened


def _require_alert_admin(actor, doing: str) -> None:
    if not is_marketplace_admin(actor):
        raise PermissionDenied(f"Only marketplace admins {doing} KPI alerts.")


def _closed_message(alert: Alert) -> str:
    by = f" by {person_name(alert.resolved_by)}" if alert.resolved_by_id else " (the KPI recovered)" if alert.resolved_at else ""
    return f"Alert #{alert.pk} was already closed{by}; nothing was changed."


@transaction.atomic
def alert_resolve(*, alert_id: int, actor, note: str = "") -> int:
    """Close open alerts by hand (e.g. the cause is understood), kept in the alert's history.

    Returns how many were closed: 0 when the alert was closed meanwhile.
    """
    _require_alert_admin(actor, "close")
    note = note.strip()
    if not note:
        raise ValidationError({"note": "Say why the alert is closed."})
    now = timezone.now()
    closed = Alert.objects.filter(pk=alert_id, status=AlertStatus.OPEN).update(
        status=AlertStatus.RESOLVED, resolved_at=now, resolved_by=actor, resolution_note=note
    )
    if closed:
        AlertEvent.objects.create(alert_id=alert_id, action=AlertAction.CLOSED, actor=actor, note=note, at=now)
    return closed


@transaction.atomic
def alert_acknowledge(*, alert_id: int, actor, note: str = "") -> AlertEvent:
    """Say the alert is being looked into; it stays open (the nightly check keeps refreshing it)."""
    _require_alert_admin(actor, "acknowledge")
    # Locked so two admins acknowledging at once record one acknowledgement, not two.
    alert = Alert.objects.select_for_update().get(pk=alert_id)
    if alert.status != AlertStatus.OPEN:
        raise ValidationError(_closed_message(alert))
    earlier = alert.events.filter(action=AlertAction.ACKNOWLEDGED).select_related("actor").last()
    if earlier is not None:
        raise ValidationError(
            f"Alert #{alert.pk} was already acknowledged by {person_name(earlier.actor) if earlier.actor else 'someone'} on "
            f"{formatting.day_and_time(earlier.at)}; nothing was changed."
        )
    return AlertEvent.objects.create(alert=alert, action=AlertAction.ACKNOWLEDGED, actor=actor, note=note.strip())


ALERT_VERBS = ("acknowledge", "close")


def alert_act(*, alert_id: int, verb: str, actor, note: str = "") -> str:
    """One entry point for the alert page's buttons; returns the message to show.

    Raises PermissionDenied for a role that may not change alerts, ValidationError for anything
    that leaves the alert unchanged (missing note, closed meanwhile, unknown verb).
    """
    if verb == "acknowledge":
        alert_acknowledge(alert_id=alert_id, actor=actor, note=note)
        return f"Acknowledged alert #{alert_id}; it stays open until it is closed or the KPI recovers."
    if verb == "close":
        if not alert_resolve(alert_id=alert_id, actor=actor, note=note):
            raise ValidationError(_closed_message(Alert.objects.select_related("resolved_by").get(pk=alert_id)))
        return f"Closed alert #{alert_id}: {note.strip()}"
    raise ValidationError(f"Unknown alert action {verb!r}; use one of: {', '.join(ALERT_VERBS)}.")

