"""Set-based per-buyer frames read from the storefront tables (a few GROUP BY queries each)."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from django.db import connection
from django.db.models import Avg, Count, F, FloatField, Max, Min, Q, Sum
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast

from marketplace.models import EngagementEvent, EngagementKind, Order, OrderStatus, Return, Review

CHURN_FEATURES = [
    # Recency, frequency, monetary value.
    "days_since_last_order",
    "order_count",
    "frequency",
    "tenure_days",
    "total_spend",
    "average_order_value",
    "orders_last_90d",
    # Own cadence and how overdue the buyer is against it; the lifetime model's P(alive).
    "cadence_days",
    "overdue_ratio",
    "p_alive",
    # Engagement now and its trend against the 90 days before.
    "logins_30d",
    "logins_90d",
    "logins_prev_90d",
    "login_trend",
    "messages_90d",
    "messages_prev_90d",
    "follows",
    "follows_180d",
    "story_shares_90d",
    "reviews_90d",
    "reviews_365d",
    # Sentiment: reviews given and survey answers.
    "mean_rating_given",
    "recent_mean_rating",
    "detractor_reviews_365d",
    "feedback_sentiment",
    "feedback_count",
    # Service failures the buyer lived through.
    "returns",
    "return_share",
    "late_orders_180d",
    "cancelled_orders_180d",
    "returns_180d",
    "days_since_last_bad_order",
]
# Stand-in for "never had a bad order" (longer than any history Kiln keeps).
NO_BAD_ORDER_DAYS = 3650.0
# A buyer who never rated anything is treated like one who is satisfied, the marketplace norm.
NEUTRAL_RATING = 4.0


def _id_range(queryset, field: str, id_range):
    if id_range is None:
        return queryset
    low, high = id_range
    return queryset.filter(**{f"{field}__gte": low, f"{field}__lt": high})


def purchase_orders(*, as_of: datetime, id_range=None):
    """Orders that count as purchases: placed by ``as_of`` and not cancelled."""
    orders = Order.objects.filter(placed_at__lte=as_of).exclude(status=OrderStatus.CANCELLED)
    return _id_range(orders, "buyer_id", id_range)


def order_frame(*, as_of: datetime, id_range=None) -> pd.DataFrame:
    """One row per purchase order: buyer_id, seller_id, placed_at (UTC, naive), amount."""
    # Plain numbers from the database (epoch seconds, float amounts): building millions of
    # aware datetimes and Decimals in Python costs more than the whole aggregation.
    table = Order._meta.db_table
    if connection.vendor == "postgresql":
        epoch = RawSQL(f"EXTRACT(EPOCH FROM {table}.placed_at)::float8", [])
    else:
        # SQLite keeps the time as text, 'YYYY-MM-DD HH:MM:SS[.ffffff]'; strftime('%s') drops the
        # fraction, so the microseconds (characters 21-26) are added back.
        epoch = RawSQL(
            f"CAST(strftime('%%s', {table}.placed_at) AS REAL)"
            f" + COALESCE(CAST(substr({table}.placed_at, 21, 6) AS INTEGER), 0) / 1000000.0",
            [],
        )
    rows = (
        purchase_orders(as_of=as_of, id_range=id_range)
        .order_by()
        .annotate(_epoch=epoch, _amount=Cast("total_amount", FloatField()))
        .values_list("buyer_id", "seller_id", "_epoch", "_amount")
    )
    frame = pd.DataFrame.from_records(list(rows), columns=["buyer_id", "seller_id", "placed_at", "amount"])
    if not frame.empty:
        frame["placed_at"] = pd.to_datetime(frame["placed_at"].astype(float), unit="s")
    if frame.empty:
        return pd.DataFrame(
            {
                "buyer_id": pd.Series(dtype="int64"),
                "seller_id": pd.Series(dtype="int64"),
                "placed_at": pd.Series(dtype="datetime64[ns]"),
                "amount": pd.Series(dtype="float64"),
            }
        )
    frame["amount"] = frame["amount"].astype(float)
    return frame


def _frame(rows, index: str, columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame.from_records(list(rows), columns=[index, *columns]).set_index(index)


def _feedback_sentiment(*, as_of: datetime, buyer_ids, id_range=None) -> pd.DataFrame:
    # Feedback is another area's data; when it is not installed or empty every buyer is neutral.
    try:
        from feedback.selectors import buyer_feedback_sentiment
    except ImportError:  # pragma: no cover - the feedback app ships with Kiln
        return pd.DataFrame({"feedback_sentiment": 0.0, "feedback_count": 0}, index=pd.Index(buyer_ids, name="buyer_id"))
    return buyer_feedback_sentiment(as_of=as_of, buyer_ids=buyer_ids, id_range=id_range)


def _days_before(now: pd.Timestamp, stamps: pd.Series) -> pd.Series:
    return (now - pd.to_datetime(stamps, utc=True, cache=False)).dt.total_seconds() / 86400


def _cadence_frame(*, as_of: datetime, id_range=None) -> pd.DataFrame:
    """Median gap between a buyer's purchase days (NaN with one purchase day)."""
    orders = order_frame(as_of=as_of, id_range=id_range)
    days = orders.assign(day=orders["placed_at"].dt.normalize())[["buyer_id", "day"]].drop_duplicates()
    days = days.sort_values(["buyer_id", "day"])
    gaps = days.groupby("buyer_id")["day"].diff().dt.total_seconds() / 86400
    return pd.DataFrame({"cadence_days": gaps.groupby(days["buyer_id"]).median()})


# Where the chunk's aggregates are read in one statement (see _aggregate_frames).
ONE_STATEMENT_VENDORS = ("postgresql",)


def _aggregate_frames(parts: list[tuple]) -> list[pd.DataFrame]:
    """Per-buyer aggregates as frames indexed by buyer_id, one per (values(buyer).annotate(...)
    queryset, its annotation names) in ``parts``; the first part's buyers are the ones wanted.

    On PostgreSQL the querysets become CTEs of one statement, the later ones LEFT JOINed to the
    first on the buyer: one round trip per chunk instead of one per table, and plain tuples
    instead of a dict per row. A buyer missing from a later part gets NULLs there, as the
    frames' left joins gave before. Elsewhere (SQLite, whose raw rows would need the ORM's
    conversions) each queryset is read on its own.
    """
    if connection.vendor not in ONE_STATEMENT_VENDORS:
        return [
            _frame(queryset, next(iter(queryset.query.values_select)), columns).rename_axis("buyer_id")
            for queryset, columns in parts
        ]
    quote = connection.ops.quote_name
    ctes, params, selects, joins = [], [], [], []
    for i, (queryset, columns) in enumerate(parts):
        sql, part_params = queryset.query.sql_with_params()
        names = ", ".join(quote(c) for c in ["buyer_id", *columns])
        ctes.append(f"p{i} ({names}) AS ({sql})")
        params.extend(part_params)
        selects.extend(f"p{i}.{quote(c)}" for c in columns)
        if i:
            joins.append(f"LEFT JOIN p{i} ON p{i}.buyer_id = p0.buyer_id")
    sql = f"WITH {', '.join(ctes)} SELECT p0.buyer_id, {', '.join(selects)} FROM p0 {' '.join(joins)}"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    every = [column for _, columns in parts for column in columns]
    whole = pd.DataFrame.from_records(rows, columns=["buyer_id", *every]).set_index("buyer_id")
    return [whole[columns] for _, columns in parts]


def churn_feature_frame(
    *, as_of: datetime, id_range=None, p_alive: pd.Series | None = None, cadence: pd.Series | None = None
) -> pd.DataFrame:
    """Behavioural features as of ``as_of`` for every buyer with at least one purchase by then.

    Indexed by buyer_id, columns CHURN_FEATURES. Everything is measured strictly up to
    ``as_of`` so the same function builds a backtest frame for a past date. ``p_alive`` is the
    lifetime model's P(alive) per buyer at ``as_of`` (scoring passes the active fit's; training
    refits the same model at the training date, see retention.churn); missing buyers get 1.
    ``cadence`` is the buyers' median gap between purchase days when the caller has it already
    (the retention chunk's buyer summary computes the same figure from the same orders), which
    saves reading the chunk's orders a second time.
    """
    day = timedelta(days=1)
    # One aggregate over the buyer's orders gives the purchase figures (not cancelled) and the
    # service failures (cancelled ones count there) with filtered aggregates: one scan instead
    # of three queries.
    purchase = ~Q(status=OrderStatus.CANCELLED)
    late = Q(shipped_at__lte=as_of, shipped_at__gt=F("ship_by"))
    orders = (
        _id_range(Order.objects.filter(placed_at__lte=as_of), "buyer_id", id_range)
        .values("buyer_id")
        .annotate(
            order_count=Count("pk", filter=purchase),
            first_at=Min("placed_at", filter=purchase),
            last_at=Max("placed_at", filter=purchase),
            total_spend=Sum("total_amount", filter=purchase),
            orders_last_90d=Count("pk", filter=purchase & Q(placed_at__gt=as_of - 90 * day)),
            purchase_days=Count("placed_at__date", distinct=True, filter=purchase),
            late_orders_180d=Count("pk", filter=Q(placed_at__gt=as_of - 180 * day) & late),
            cancelled_orders_180d=Count("pk", filter=Q(placed_at__gt=as_of - 180 * day, cancelled_at__lte=as_of)),
            returns_180d=Count("pk", filter=Q(returned_at__gt=as_of - 180 * day, returned_at__lte=as_of)),
            last_late=Max("placed_at", filter=late),
            last_cancelled=Max("placed_at", filter=Q(cancelled_at__lte=as_of)),
            last_returned=Max("placed_at", filter=Q(returned_at__lte=as_of)),
        )
        .order_by()
    )
    failure_columns = ["late_orders_180d", "cancelled_orders_180d", "returns_180d", "last_late", "last_cancelled", "last_returned"]
    events = _id_range(
        EngagementEvent.objects.filter(buyer__isnull=False, occurred_at__lte=as_of), "buyer_id", id_range
    ).values("buyer_id").annotate(
        logins_30d=Count("pk", filter=Q(kind=EngagementKind.LOGIN, occurred_at__gt=as_of - 30 * day)),
        logins_90d=Count("pk", filter=Q(kind=EngagementKind.LOGIN, occurred_at__gt=as_of - 90 * day)),
        logins_prev_90d=Count(
            "pk", filter=Q(kind=EngagementKind.LOGIN, occurred_at__gt=as_of - 180 * day, occurred_at__lte=as_of - 90 * day)
        ),
        messages_90d=Count("pk", filter=Q(kind=EngagementKind.MESSAGE, occurred_at__gt=as_of - 90 * day)),
        messages_prev_90d=Count(
            "pk", filter=Q(kind=EngagementKind.MESSAGE, occurred_at__gt=as_of - 180 * day, occurred_at__lte=as_of - 90 * day)
        ),
        follows=Count("pk", filter=Q(kind=EngagementKind.FOLLOW_ARTISAN)),
        follows_180d=Count("pk", filter=Q(kind=EngagementKind.FOLLOW_ARTISAN, occurred_at__gt=as_of - 180 * day)),
        story_shares_90d=Count(
            "pk", filter=Q(kind=EngagementKind.STORY_SHARE, occurred_at__gt=as_of - 90 * day)
        ),
    ).order_by()
    event_columns = [
        "logins_30d", "logins_90d", "logins_prev_90d", "messages_90d", "messages_prev_90d", "follows", "follows_180d", "story_shares_90d",
    ]
    reviews = _id_range(Review.objects.filter(created_at__lte=as_of), "buyer_id", id_range).values("buyer_id").annotate(
        reviews_90d=Count("pk", filter=Q(created_at__gt=as_of - 90 * day)),
        reviews_365d=Count("pk", filter=Q(created_at__gt=as_of - 365 * day)),
        mean_rating_given=Avg("rating"),
        recent_mean_rating=Avg("rating", filter=Q(created_at__gt=as_of - 180 * day)),
        detractor_reviews_365d=Count("pk", filter=Q(created_at__gt=as_of - 365 * day, rating__lte=2)),
    ).order_by()
    review_columns = ["reviews_90d", "reviews_365d", "mean_rating_given", "recent_mean_rating", "detractor_reviews_365d"]
    returns = _id_range(Return.objects.filter(created_at__lte=as_of), "order__buyer_id", id_range).values(
        "order__buyer_id"
    ).annotate(returns=Count("pk")).order_by()
    frame, event_frame, review_frame, return_frame = _aggregate_frames(
        [
            (orders, ["order_count", "first_at", "last_at", "total_spend", "orders_last_90d", "purchase_days", *failure_columns]),
            (events, event_columns),
            (reviews, review_columns),
            (returns, ["returns"]),
        ]
    )
    # Buyers whose every order was cancelled have no purchase: they are not in the frame.
    frame = frame[frame["order_count"] > 0] if not frame.empty else frame
    if frame.empty:
        return pd.DataFrame(columns=CHURN_FEATURES, index=pd.Index([], name="buyer_id"), dtype=float)
    now = pd.Timestamp(as_of)
    out = pd.DataFrame(index=frame.index)
    out["days_since_last_order"] = _days_before(now, frame["last_at"])
    out["order_count"] = frame["order_count"].astype(float)
    out["tenure_days"] = _days_before(now, frame["first_at"])
    out["total_spend"] = frame["total_spend"].astype(float)
    out["average_order_value"] = out["total_spend"] / out["order_count"]
    out["orders_last_90d"] = frame["orders_last_90d"].astype(float)
    out["frequency"] = (frame["purchase_days"] - 1).astype(float)
    if cadence is None:
        out = out.join(_cadence_frame(as_of=as_of, id_range=id_range), how="left")
    else:
        out["cadence_days"] = cadence.reindex(out.index).astype(float)
    # One purchase day: the marketplace's median cadence stands in, as on the retention row.
    known = out["cadence_days"].dropna()
    out["cadence_days"] = out["cadence_days"].fillna(float(known.median()) if len(known) else 60.0).clip(lower=1.0)
    out["overdue_ratio"] = out["days_since_last_order"] / out["cadence_days"]
    out["p_alive"] = 1.0 if p_alive is None else p_alive.reindex(out.index).astype(float).fillna(1.0)

    failure_frame = frame[failure_columns].copy()
    last_bad = failure_frame[["last_late", "last_cancelled", "last_returned"]].apply(pd.to_datetime, utc=True).max(axis=1)
    failure_frame["days_since_last_bad_order"] = _days_before(now, last_bad)
    out = out.join(failure_frame[["late_orders_180d", "cancelled_orders_180d", "returns_180d", "days_since_last_bad_order"]], how="left")

    out = out.join(event_frame, how="left").join(review_frame, how="left").join(return_frame, how="left")

    out = out.join(_feedback_sentiment(as_of=as_of, buyer_ids=list(out.index), id_range=id_range), how="left")
    counted = event_columns + [
        "reviews_90d", "reviews_365d", "detractor_reviews_365d", "returns", "feedback_sentiment", "feedback_count",
        "late_orders_180d", "cancelled_orders_180d", "returns_180d",
    ]
    out[counted] = out[counted].astype(float).fillna(0.0)
    out["mean_rating_given"] = out["mean_rating_given"].astype(float).fillna(NEUTRAL_RATING)
    out["recent_mean_rating"] = out["recent_mean_rating"].astype(float).fillna(out["mean_rating_given"])
    out["days_since_last_bad_order"] = out["days_since_last_bad_order"].astype(float).fillna(NO_BAD_ORDER_DAYS)
    # +1 on both sides: a buyer with no logins in either period has a flat trend of 1.
    out["login_trend"] = (out["logins_90d"] + 1) / (out["logins_prev_90d"] + 1)
    out["return_share"] = out["returns"] / out["order_count"]
    out = out[CHURN_FEATURES].astype(float)
    return out.replace([np.inf, -np.inf], 0.0).fillna(0.0)


def churn_labels(*, buyer_ids, start: datetime, end: datetime) -> pd.Series:
    """1 if the buyer made no purchase in (start, end], else 0."""
    buyer_ids = list(buyer_ids)
    active = set(
        Order.objects.filter(placed_at__gt=start, placed_at__lte=end)
        .exclude(status=OrderStatus.CANCELLED)
        .values_list("buyer_id", flat=True)
        .distinct()
    )
    return pd.Series([0 if b in active else 1 for b in buyer_ids], index=pd.Index(buyer_ids, name="buyer_id"), dtype=int)
