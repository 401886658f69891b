"""Reads for the Seller 360 page: score, onboarding, KPIs against the category, feedback, listings and cases."""

from datetime import timedelta

from django.db.models import Avg, Count, F, Min, Q
from django.utils import timezone

from casework.models import Case, CaseKind
from feedback.models import ResponseTheme
from marketplace.models import Order
from sellers.models import Listing, Seller

KPI_WINDOW_DAYS = 90


def _order_kpis(orders) -> dict:
    row = orders.aggregate(
        orders=Count("pk"),
        cancelled=Count("pk", filter=Q(cancelled_at__isnull=False)),
        returned=Count("pk", filter=Q(returned_at__isnull=False)),
        late=Count("pk", filter=Q(shipped_at__gt=F("ship_by"))),
        aov=Avg("total_amount"),
    )
    n = row["orders"] or 0
    return {
        "orders": n,
        "cancellation_rate": row["cancelled"] / n if n else None,
        "return_rate": row["returned"] / n if n else None,
        "late_rate": row["late"] / n if n else None,
        "aov": row["aov"],
    }


def _days(delta) -> float | None:
    return None if delta is None else delta.total_seconds() / 86400.0


def seller_kpis_against_category(*, seller: Seller, now=None) -> dict:
    """The artisan's order KPIs over the last 90 days beside their craft category's."""
    since = (now or timezone.now()) - timedelta(days=KPI_WINDOW_DAYS)
    mine = _order_kpis(Order.objects.filter(seller=seller, placed_at__gte=since))
    category = _order_kpis(Order.objects.filter(seller__craft_category=seller.craft_category, placed_at__gte=since))
    first_sale = Order.objects.filter(seller=seller).aggregate(first=Min("placed_at"))["first"]
    start = seller.onboarded_at or seller.approved_at
    rows = [
        ("Cancellation rate", "percent", mine["cancellation_rate"], category["cancellation_rate"]),
        ("Return rate", "percent", mine["return_rate"], category["return_rate"]),
        ("Late shipment rate", "percent", mine["late_rate"], category["late_rate"]),
        ("Average order value", "money", mine["aov"], category["aov"]),
        ("Orders (90 days)", "count", mine["orders"], category["orders"]),
    ]
    return {
        "rows": [{"label": label, "format": fmt, "seller": a, "category": b} for label, fmt, a, b in rows],
        "first_sale_at": first_sale,
        "time_to_first_sale_days": _days(first_sale - start) if first_sale and start and first_sale >= start else None,
        "window_days": KPI_WINDOW_DAYS,
    }


def _score_chart(history) -> dict | None:
    """Points for an inline SVG line of the score history (oldest left), 0-100 on the y axis.

    Runs where no validated model could score the artisan have no score; they are left out
    rather than drawn as zero, which would read as a collapse.
    """
    points = [row for row in reversed(history) if row.score is not None]
    if len(points) < 2:
        return None
    width, height = 360, 80
    step = width / (len(points) - 1)
    coords = " ".join(f"{i * step:.1f},{height - row.score * height / 100:.1f}" for i, row in enumerate(points))
    return {"width": width, "height": height, "points": coords, "first": points[0], "last": points[-1]}


def seller_360_get(*, seller: Seller) -> dict:
    from scoring.selectors import seller_score_trend

    try:
        score = seller.score
    except Seller.score.RelatedObjectDoesNotExist:
        score = None
    try:
        dormancy = seller.dormancy
    except Exception:  # noqa: BLE001 - no dormancy row yet is the usual case for new artisans
        dormancy = None
    if score is not None and score.score is None:
        # An empty score means "not scored yet" (the basis says why); the page says so instead of "None / 100".
        score = None
    history = seller_score_trend(seller=seller, limit=30)
    cases = list(Case.objects.filter(seller=seller).select_related("assignee").order_by("-created_at")[:20])
    audit = next((c for c in cases if c.kind == CaseKind.INVENTORY_AUDIT and c.is_active), None)
    return {
        "seller": seller,
        "score": score,
        # Only scored runs: the page counts them beside the chart as "N scores".
        "history": [row for row in history if row.score is not None],
        "chart": _score_chart(history),
        "decisions": list(seller.onboarding_decisions.select_related("policy").order_by("-created_at")[:10]),
        "workshops": list(seller.workshop_assignments.select_related("session__workshop").order_by("-assigned_at")[:10]),
        "kpis": seller_kpis_against_category(seller=seller),
        "themes": list(
            ResponseTheme.objects.filter(response__seller=seller)
            .values("theme__name").annotate(n=Count("pk")).order_by("-n")[:8]
        ),
        "dormancy": dormancy,
        "listings": list(Listing.objects.filter(seller=seller).order_by("-stock_updated_at")[:10]),
        "listing_count": Listing.objects.filter(seller=seller).count(),
        "inventory_issues": (audit.evidence or {}).get("listings", []) if audit else [],
        "cases": cases,
    }
