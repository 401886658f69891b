"""Inventory audit: listings whose stock data cannot be right.

Three findings, all computed in one set-based query per call:
  - oversold: units sold (not cancelled) since the last stock update exceed the stock then recorded;
  - stale: a stock-tracked active listing whose stock was not updated for STALE_STOCK_DAYS;
  - out-of-stock cancellations: orders with the listing cancelled for "out of stock" in the last 90 days.
"""

from datetime import datetime, timedelta

import pandas as pd
from django.db import connection
from django.utils import timezone

from casework.models import Case, CaseKind
from casework.services import cases_open_many
from core.formatting import plural
from marketplace.models import Order, OrderLine
from sellers.models import Listing

STALE_STOCK_DAYS = 90
OOS_CANCEL_WINDOW_DAYS = 90
# Artisans per audit task outside the nightly pipeline: one flag query and one bulk case insert each.
AUDIT_CHUNK = 200


def _ts(value: datetime):
    return connection.ops.adapt_datetimefield_value(value)


def inventory_flags(*, as_of: datetime | None = None, seller_ids=None) -> pd.DataFrame:
    """One row per flagged listing: listing_id, seller_id, title, oversold_units, stale, oos_cancellations."""
    as_of = as_of or timezone.now()
    listing, line, order = Listing._meta.db_table, OrderLine._meta.db_table, Order._meta.db_table
    where, inner, ids = "", "", []
    if seller_ids is not None:
        ids = [int(i) for i in seller_ids]
        if not ids:
            return pd.DataFrame(columns=["listing_id", "seller_id", "title", "oversold_units", "stale", "oos_cancellations"])
        # The artisans' id range lets the inner aggregates use the order (seller, placed_at) index.
        where = f" AND l.seller_id IN ({', '.join(['%s'] * len(ids))})"
        inner = f" AND o.seller_id BETWEEN {min(ids)} AND {max(ids)}"
    sql = f"""
        SELECT l.id, l.seller_id, l.title,
               CASE WHEN l.stock_quantity IS NOT NULL AND l.stock_updated_at <= %s AND COALESCE(s.sold, 0) > l.stock_quantity
                    THEN COALESCE(s.sold, 0) - l.stock_quantity ELSE 0 END AS oversold_units,
               CASE WHEN l.stock_quantity IS NOT NULL AND (l.stock_updated_at IS NULL OR l.stock_updated_at < %s)
                    THEN 1 ELSE 0 END AS stale,
               COALESCE(c.n, 0) AS oos_cancellations
        FROM {listing} l
        LEFT JOIN (
            SELECT ol.listing_id, SUM(ol.quantity) AS sold
            FROM {line} ol JOIN {order} o ON o.id = ol.order_id JOIN {listing} l2 ON l2.id = ol.listing_id
            WHERE o.placed_at >= l2.stock_updated_at AND o.placed_at < %s AND (o.cancelled_at IS NULL OR o.cancelled_at >= %s){inner}
            GROUP BY ol.listing_id
        ) s ON s.listing_id = l.id
        LEFT JOIN (
            SELECT ol.listing_id, COUNT(*) AS n
            FROM {line} ol JOIN {order} o ON o.id = ol.order_id
            WHERE o.cancel_reason = 'out_of_stock' AND o.cancelled_at >= %s AND o.cancelled_at < %s{inner}
            GROUP BY ol.listing_id
        ) c ON c.listing_id = l.id
        WHERE l.is_active AND l.created_at < %s{where}
    """
    t = _ts(as_of)
    params = [
        t,
        _ts(as_of - timedelta(days=STALE_STOCK_DAYS)),
        t,
        t,
        _ts(as_of - timedelta(days=OOS_CANCEL_WINDOW_DAYS)),
        t,
        t,
        *ids,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    frame = pd.DataFrame.from_records(rows, columns=["listing_id", "seller_id", "title", "oversold_units", "stale", "oos_cancellations"])
    flagged = (frame["oversold_units"] > 0) | (frame["stale"] > 0) | (frame["oos_cancellations"] > 0)
    return frame[flagged].reset_index(drop=True)


def inventory_issue_counts(*, as_of: datetime, seller_ids=None) -> pd.DataFrame:
    """Per artisan: number of listings with any inventory finding (index seller_id)."""
    flags = inventory_flags(as_of=as_of, seller_ids=seller_ids)
    counts = flags.groupby("seller_id").size().rename("inventory_issues").to_frame()
    counts.index = counts.index.astype("int64")
    counts.index.name = "seller_id"
    return counts


def _describe(rows: pd.DataFrame) -> tuple[str, list[dict]]:
    findings = []
    for row in rows.itertuples(index=False):
        problems = []
        if row.oversold_units:
            problems.append(f"{int(row.oversold_units)} more sold than in stock")
        if row.stale:
            problems.append(f"stock not updated for over {STALE_STOCK_DAYS} days")
        if row.oos_cancellations:
            problems.append(f"{plural(int(row.oos_cancellations), 'cancellation')} citing out of stock")
        findings.append({"listing_id": int(row.listing_id), "title": row.title, "problems": problems})
    summary = f"{plural(len(findings), 'listing')} with inconsistent stock data"
    return summary, findings


def inventory_audit_sellers(*, as_of: datetime | None = None) -> list[int]:
    """Artisans with findings who have no inventory-audit case open yet."""
    flags = inventory_flags(as_of=as_of)
    flagged = set(int(i) for i in flags["seller_id"].unique())
    already = set(
        Case.objects.active().filter(kind=CaseKind.INVENTORY_AUDIT, seller_id__in=flagged).values_list("seller_id", flat=True)
    ) if flagged else set()
    return sorted(flagged - already)


def inventory_audit_open_cases(*, seller_ids: list[int], as_of: datetime | None = None) -> int:
    """Open one seller-support case per artisan with findings; returns how many were new."""
    as_of = as_of or timezone.now()
    flags = inventory_flags(as_of=as_of, seller_ids=seller_ids)
    openings = []
    for seller_id, rows in flags.groupby("seller_id"):
        summary, findings = _describe(rows)
        evidence = {"audited_at": as_of.isoformat(), "listings": findings[:50], "flagged_listings": len(findings)}
        openings.append((int(seller_id), f"Inventory audit: {summary}.", evidence))
    cases = cases_open_many(kind=CaseKind.INVENTORY_AUDIT, subject="seller", openings=openings)
    opened = sum(int(created) for _case, created in cases.values())
    return opened
