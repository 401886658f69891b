"""Reads for onboarding: KPIs for the onboarding admin page."""

from datetime import datetime, timedelta
from statistics import median

from django.db.models import Count, F, Min
from django.db.models.functions import TruncWeek
from django.utils import timezone
from django.utils.formats import date_format

from core.formatting import DAY_AND_TIME_FORMAT
from sellers.models import Seller, WorkshopSession

KPI_WINDOW_DAYS = 90
THROUGHPUT_WEEKS = 12


def _days(delta: timedelta) -> float:
    return delta.total_seconds() / 86400.0


def _summary(values: list[float]) -> dict:
    if not values:
        return {"count": 0, "average_days": None, "median_days": None}
    return {"count": len(values), "average_days": round(sum(values) / len(values), 1), "median_days": round(median(values), 1)}


def onboarding_kpis(*, now: datetime | None = None, window_days: int = KPI_WINDOW_DAYS) -> dict:
    """Onboarding time (applied → onboarded), weekly throughput and time to first sale.

    Three queries whatever the number of artisans: one for onboarding times, one grouped
    by week, one with the first order date annotated.
    """
    now = now or timezone.now()
    since = now - timedelta(days=window_days)
    onboarded = Seller.objects.filter(onboarded_at__gte=since, onboarded_at__lte=now)
    times = [_days(done - applied) for applied, done in onboarded.values_list("applied_at", "onboarded_at")]
    weekly = (
        Seller.objects.filter(onboarded_at__gte=now - timedelta(weeks=THROUGHPUT_WEEKS), onboarded_at__lte=now)
        .annotate(week=TruncWeek("onboarded_at"))
        .values("week")
        .annotate(onboarded=Count("pk"))
        .order_by("week")
    )
    first_sales = onboarded.annotate(first_order_at=Min("orders__placed_at")).values_list("onboarded_at", "first_order_at")
    to_first_sale = [max(_days(first - done), 0.0) for done, first in first_sales if first is not None]
    sale_summary = _summary(to_first_sale)
    sale_summary["without_sale_yet"] = len(times) - len(to_first_sale)
    throughput = [{"week": row["week"].date(), "onboarded": row["onboarded"]} for row in weekly]
    return {
        "window_days": window_days,
        "onboarding_time": _summary(times),
        "throughput_per_week": throughput,
        "average_weekly_throughput": round(sum(r["onboarded"] for r in throughput) / THROUGHPUT_WEEKS, 1),
        "time_to_first_sale": sale_summary,
    }


def workshop_sessions_with_seats(*, now: datetime | None = None):
    """Upcoming workshop sessions that still have a free seat, soonest first."""
    return (
        WorkshopSession.objects.select_related("workshop")
        .filter(starts_at__gte=now or timezone.now(), booked__lt=F("capacity"))
        .order_by("starts_at")
    )


def workshop_session_label(session) -> str:
    """A session as staff pick it: topic, when, format and free seats."""
    when = date_format(timezone.localtime(session.starts_at), f"D {DAY_AND_TIME_FORMAT}")
    return (f"{session.workshop.topic} · {when} · {session.get_format_display().lower()} · "
            f"{session.seats_left} of {session.capacity} seats free")
