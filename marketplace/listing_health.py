"""Underperforming listings (seed 001: ArtisanHub cut "underperforming seller listings" by 40%).

Definition (docs/kpis.md, "Underperforming listings"). Every active listing at least
MIN_AGE_DAYS old is judged nightly; it is underperforming when at least one of these holds:

* slow sales: its sales rate (units per 30 days listed, over the last SALES_WINDOW_DAYS or its
  age if shorter) is below SLOW_SHARE of the norm, the median rate of the listings of the same
  category and age band (60-179, 180-364, 365+ days). A band with fewer than MIN_PEERS
  listings uses the whole category, and a category with too few, the marketplace;
* stale stock: it has stock, nobody touched the stock for STALE_DAYS, and it has not sold in
  that time either;
* high returns: of its at least MIN_ORDERS_FOR_RETURNS sold orders in the window, at least
  RETURN_SHARE came back.

Set-based: one aggregate query over order lines, one over listings, a pandas groupby for the
norms, then one bulk rewrite of ListingHealth in a single transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
from django.db import transaction
from django.db.models import Count, Max, Q, Sum
from django.utils import timezone

from sellers.models import Listing, ListingHealth

MIN_AGE_DAYS = 60
SALES_WINDOW_DAYS = 180
SLOW_SHARE = 0.25
MIN_PEERS = 5
STALE_DAYS = 120
MIN_ORDERS_FOR_RETURNS = 3
RETURN_SHARE = 0.25
AGE_BANDS = [(60, 180, "60-179 days"), (180, 365, "180-364 days"), (365, 10**6, "365+ days")]


def _band(age: int) -> str:
    return next(label for lo, hi, label in AGE_BANDS if lo <= age < hi)


def listing_health_frame(*, as_of: datetime) -> pd.DataFrame:
    from marketplace.models import OrderLine, OrderStatus

    window_start = as_of - timedelta(days=SALES_WINDOW_DAYS)
    listings = pd.DataFrame.from_records(
        Listing.objects.filter(is_active=True, created_at__lte=as_of - timedelta(days=MIN_AGE_DAYS)).values(
            "id", "seller_id", "category", "created_at", "stock_quantity", "stock_updated_at"
        ),
        columns=["id", "seller_id", "category", "created_at", "stock_quantity", "stock_updated_at"],
    )
    if listings.empty:
        return listings
    sold = [OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.RETURNED]
    sales = pd.DataFrame.from_records(
        OrderLine.objects.filter(order__status__in=sold, order__placed_at__lt=as_of)
        .values("listing_id")
        .annotate(
            units=Sum("quantity", filter=Q(order__placed_at__gte=window_start)),
            orders=Count("order", filter=Q(order__placed_at__gte=window_start), distinct=True),
            returned=Count("order", filter=Q(order__placed_at__gte=window_start, order__status=OrderStatus.RETURNED), distinct=True),
            last_sale_at=Max("order__placed_at"),
        )
        .order_by(),
        columns=["listing_id", "units", "orders", "returned", "last_sale_at"],
    )
    frame = listings.merge(sales, how="left", left_on="id", right_on="listing_id")
    for column in ("units", "orders", "returned"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").fillna(0).astype(int)
    frame["age_days"] = ((as_of - pd.to_datetime(frame["created_at"], utc=True)).dt.total_seconds() // 86400).astype(int)
    exposure = frame["age_days"].clip(upper=SALES_WINDOW_DAYS)
    frame["monthly_rate"] = frame["units"] / exposure * 30
    frame["band"] = frame["age_days"].map(_band)
    # The norm: the peers' median, widening from (category, band) to category to everyone when peers are few.
    group = frame.groupby(["category", "band"])["monthly_rate"]
    by_band, band_size = group.transform("median"), group.transform("size")
    by_category = frame.groupby("category")["monthly_rate"].transform("median")
    category_size = frame.groupby("category")["monthly_rate"].transform("size")
    overall = frame["monthly_rate"].median()
    frame["category_norm"] = by_band.where(band_size >= MIN_PEERS, by_category.where(category_size >= MIN_PEERS, overall))
    return frame


def listing_health_recompute(*, as_of: datetime | None = None) -> int:
    """Judge every eligible listing and rewrite ListingHealth (one transaction). Returns how many are underperforming."""
    as_of = as_of or timezone.now()
    frame = listing_health_frame(as_of=as_of)
    stale_before = as_of - timedelta(days=STALE_DAYS)
    rows = []
    flagged = 0
    for r in frame.itertuples(index=False) if not frame.empty else []:
        reasons = []
        if r.category_norm > 0 and r.monthly_rate < SLOW_SHARE * r.category_norm:
            reasons.append(
                f"Sells {r.monthly_rate:.2f} a month against a norm of {r.category_norm:.2f} for {r.category.replace('_', ' ')} "
                f"listings aged {r.band}."
            )
        touched = r.stock_updated_at if pd.notna(r.stock_updated_at) else r.created_at
        last_sale = r.last_sale_at if pd.notna(r.last_sale_at) else None
        if (r.stock_quantity or 0) > 0 and touched < stale_before and (last_sale is None or last_sale < stale_before):
            reasons.append(f"{int(r.stock_quantity)} in stock, untouched and unsold for over {STALE_DAYS} days.")
        share = r.returned / r.orders if r.orders else None
        if r.orders >= MIN_ORDERS_FOR_RETURNS and share >= RETURN_SHARE:
            reasons.append(f"{r.returned} of {r.orders} orders in the last {SALES_WINDOW_DAYS} days were returned.")
        flagged += bool(reasons)
        rows.append(
            ListingHealth(
                listing_id=r.id, seller_id=r.seller_id, category=r.category, computed_at=as_of, age_days=r.age_days,
                units_sold=r.units, monthly_rate=round(float(r.monthly_rate), 4), category_norm=round(float(r.category_norm), 4),
                return_share=None if share is None else round(share, 4), last_sale_at=last_sale,
                is_underperforming=bool(reasons), reasons=reasons,
            )
        )
    with transaction.atomic():
        # Listings that stopped qualifying (deactivated) drop out with the rest of yesterday's verdicts.
        ListingHealth.objects.all().delete()
        ListingHealth.objects.bulk_create(rows, batch_size=2000)
    return flagged


def underperforming_listings(*, seller_id: int | None = None, limit: int = 50) -> list[dict]:
    """The listing-level list (for the seller's page and the admin): slowest sellers first."""
    qs = ListingHealth.objects.filter(is_underperforming=True).select_related("listing")
    if seller_id is not None:
        qs = qs.filter(seller_id=seller_id)
    return [
        {
            "listing_id": h.listing_id, "title": h.listing.title, "category": h.category, "age_days": h.age_days,
            "monthly_rate": h.monthly_rate, "category_norm": h.category_norm, "return_share": h.return_share,
            "reasons": h.reasons, "computed_at": h.computed_at,
        }
        for h in qs.order_by("monthly_rate", "-age_days", "listing_id")[:limit]
    ]


def underperforming_share(*, category: str | None = None) -> tuple[int, int]:
    """(underperforming, judged) from the latest nightly verdicts."""
    qs = ListingHealth.objects.all()
    if category:
        qs = qs.filter(category=category)
    agg = qs.aggregate(n=Count("pk"), bad=Count("pk", filter=Q(is_underperforming=True)))
    return agg["bad"], agg["n"]
