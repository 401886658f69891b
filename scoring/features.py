"""Seller features, computed set-based for any moment ``as_of`` (see docs/scoring.md).

Every feature only uses facts recorded before ``as_of`` (a cancellation counts once
it happened, not because the order was placed), so a past date gives the frame the
model would have seen then. Rates are shrunk towards the artisan's category average
(an empirical-Bayes prior), so an artisan with three orders is not judged on three
orders and a new artisan with none gets exactly the category prior: never a NaN.
"""

import json
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from django.db import connection

from marketplace.models import EngagementEvent, Order, Review
from sellers.models import Listing, Seller

# The features the seller-score model uses, in order. Context columns (category, raw
# counts, category averages) are returned too, for reasons and baselines.
MODEL_FEATURES = [
    "orders_vs_season_peers",
    "repeat_sales_ratio",
    "rating_mean",
    "rating_var",
    "sentiment_mean",
    "sentiment_var",
    "communication_tone",
    "communication_beyond_verdict",
    "late_rate",
    "lead_time_dev_days",
    "lead_time_sd_days",
    "cancel_rate",
    "return_rate",
    "reply_rate",
    "log_response_minutes",
    "seasonal_activity_ratio",
    "log_logins_30",
    "log_logins_90",
    "login_trend",
    "log_listing_updates_90",
    "login_rate_365",
    "listing_update_rate_365",
    "inventory_issues",
    "log_tenure_days",
    "years_experience",
    "has_portfolio",
    "has_history",
    "flagged_feedback_count",
    "buyer_trust",
]
# The way each feature is expected to move the chance of staying active and in good standing
# (+1: more is better, -1: more is worse), from the seed articles' signals (docs/scoring.md).
# Training holds every fit to these; a feature that will not fit its way is dropped.
FEATURE_DIRECTIONS = {
    "orders_vs_season_peers": +1,
    "log_orders_365": +1,
    "repeat_sales_ratio": +1,
    "rating_mean": +1,
    "rating_var": -1,
    "sentiment_mean": +1,
    "sentiment_var": -1,
    "communication_tone": +1,
    "communication_beyond_verdict": +1,
    "late_rate": -1,
    "lead_time_dev_days": -1,
    "lead_time_sd_days": -1,
    "cancel_rate": -1,
    "return_rate": -1,
    "reply_rate": +1,
    "log_response_minutes": -1,
    "seasonal_activity_ratio": +1,
    "log_logins_30": +1,
    "log_logins_90": +1,
    "login_trend": +1,
    "log_listing_updates_90": +1,
    "login_rate_365": +1,
    "listing_update_rate_365": +1,
    "inventory_issues": -1,
    "log_tenure_days": +1,
    "years_experience": +1,
    "has_portfolio": +1,
    "has_history": +1,
    "flagged_feedback_count": -1,
    "buyer_trust": +1,
    "listing_count": +1,
    "log_listing_price": +1,
    "category_late_rate": -1,
    "category_cancel_rate": -1,
    "category_return_rate": -1,
    "category_rating_mean": +1,
}
# The sales-volume signal, one of the single-signal baselines every candidate must beat.
BASELINE_FEATURES = ["log_orders_365", "log_revenue_365"]

# Pseudo-counts of the category prior: how many observations the prior is worth.
PRIOR_STRENGTH = {"orders": 10.0, "reviews": 5.0, "messages": 5.0}
# Reviews that speak of communication are rarer than reviews: a lighter prior.
COMMUNICATION_PRIOR_REVIEWS = 3.0
# A rate over the first weeks of an artisan's life is read as if over at least a month.
MIN_ACTIVE_DAYS = 30.0

# A small review lexicon: sentiment of a review = positive hits - negative hits.
POSITIVE_WORDS = ("beautiful", "excellent", "nicer", "perfect", "love", "fast", "earlier", "quick", "great", "helpful", "amazing", "gorgeous")
# Review phrases about how the artisan answers buyers: the seeds' "artisan response" signal as
# buyers describe it, kept apart from what they say of the piece or the shipping.
COMMUNICATION_POSITIVE = ("answered my questions", "helpful seller", "great communication", "quick to reply", "responsive")
COMMUNICATION_NEGATIVE = ("never replied", "communication was poor", "hard to reach", "no reply", "ignored my")
COMMUNICATION_NEUTRAL = ("communication was fine", "answered eventually", "replies were short")
NEGATIVE_WORDS = ("poor", "broke", "disappoint", "late", "longer than", "never", "hard to reach", "badly", "damaged", "wrong", "slow", "refund")


def _ts(value: datetime):
    return connection.ops.adapt_datetimefield_value(value)


def _days_between(later: str, earlier: str) -> str:
    if connection.vendor == "postgresql":
        return f"(EXTRACT(EPOCH FROM ({later} - {earlier})) / 86400.0)"
    return f"(julianday({later}) - julianday({earlier}))"


def _in_clause(column: str, seller_ids) -> tuple[str, list]:
    if seller_ids is None:
        return "", []
    ids = [int(i) for i in seller_ids]
    if not ids:
        return " AND 1 = 0", []
    # The id range (integers, not user input) lets PostgreSQL walk the (seller, time) indexes.
    return f" AND {column} BETWEEN {min(ids)} AND {max(ids)} AND {column} IN ({', '.join(['%s'] * len(ids))})", ids


def _query(sql: str, params: list, columns: list[str]) -> pd.DataFrame:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    frame = pd.DataFrame.from_records(rows, columns=columns)
    return frame.set_index(columns[0]) if not frame.empty else pd.DataFrame(columns=columns[1:], index=pd.Index([], name=columns[0]))


def _sellers(as_of: datetime, seller_ids) -> pd.DataFrame:
    where, ids = _in_clause("id", seller_ids)
    sql = (
        f"SELECT id, craft_category, is_seasonal, years_experience, has_portfolio, applied_at, approved_at "
        f"FROM {Seller._meta.db_table} WHERE applied_at < %s{where}"
    )
    frame = _query(sql, [_ts(as_of), *ids], ["seller_id", "craft_category", "is_seasonal", "years_experience", "has_portfolio", "applied_at", "approved_at"])
    frame.index = frame.index.astype("int64")
    return frame


def _order_aggregates(as_of: datetime, seller_ids) -> pd.DataFrame:
    t = as_of
    where, ids = _in_clause("o.seller_id", seller_ids)
    lead = _days_between("o.shipped_at", "o.ship_by")
    # One pass over the artisan's orders of the last 455 days (365 + a 90-day season a year back).
    sql = f"""
        SELECT o.seller_id,
          SUM(CASE WHEN o.placed_at >= %s THEN 1 ELSE 0 END),
          SUM(CASE WHEN o.placed_at >= %s THEN o.total_amount ELSE 0 END),
          SUM(CASE WHEN o.placed_at >= %s THEN 1 ELSE 0 END),
          SUM(CASE WHEN o.placed_at >= %s AND o.cancelled_at IS NOT NULL AND o.cancelled_at < %s THEN 1 ELSE 0 END),
          SUM(CASE WHEN o.placed_at >= %s AND o.cancel_reason = 'out_of_stock' AND o.cancelled_at < %s THEN 1 ELSE 0 END),
          SUM(CASE WHEN o.placed_at >= %s AND o.returned_at IS NOT NULL AND o.returned_at < %s THEN 1 ELSE 0 END),
          SUM(CASE WHEN o.placed_at >= %s AND o.ship_by < %s AND (o.cancelled_at IS NULL OR o.cancelled_at >= %s) THEN 1 ELSE 0 END),
          SUM(CASE WHEN o.placed_at >= %s AND o.ship_by < %s AND (o.cancelled_at IS NULL OR o.cancelled_at >= %s)
                    AND (o.shipped_at IS NULL OR o.shipped_at >= %s OR o.shipped_at > o.ship_by) THEN 1 ELSE 0 END),
          SUM(CASE WHEN o.placed_at >= %s AND o.shipped_at < %s THEN 1 ELSE 0 END),
          AVG(CASE WHEN o.placed_at >= %s AND o.shipped_at < %s THEN {lead} END),
          AVG(CASE WHEN o.placed_at >= %s AND o.shipped_at < %s THEN {lead} * {lead} END)
        FROM {Order._meta.db_table} o
        WHERE o.placed_at >= %s AND o.placed_at < %s{where}
        GROUP BY o.seller_id
    """
    t365, t90 = _ts(t - timedelta(days=365)), _ts(t - timedelta(days=90))
    tt = _ts(t)
    params = [t365, t365, t90, t365, tt, t365, tt, t365, tt, t365, tt, tt, t365, tt, tt, tt, t365, tt, t365, tt, t365, tt, t365, tt, *ids]
    columns = ["seller_id", "orders_365", "revenue_365", "orders_90", "cancelled_365", "oos_cancelled_365", "returned_365", "due_365", "late_365", "shipped_365", "lead_time_dev_days_raw", "lead_sq_raw"]
    frame = _query(sql, params, columns)

    # Lifetime count and first order: cheap on the (seller, placed_at) index.
    lifetime = _query(
        f"SELECT o.seller_id, COUNT(*) FROM {Order._meta.db_table} o WHERE o.placed_at < %s{where} GROUP BY o.seller_id",
        [tt, *ids],
        ["seller_id", "orders_all"],
    )
    # Repeat sales: orders from buyers who bought from the same artisan more than once in the year.
    repeat = _query(
        f"""SELECT p.seller_id, SUM(CASE WHEN p.n > 1 THEN p.n ELSE 0 END) FROM (
              SELECT o.seller_id, o.buyer_id, COUNT(*) AS n FROM {Order._meta.db_table} o
              WHERE o.placed_at >= %s AND o.placed_at < %s{where} GROUP BY o.seller_id, o.buyer_id
            ) p GROUP BY p.seller_id""",
        [t365, tt, *ids],
        ["seller_id", "repeat_orders_365"],
    )
    return frame.join(lifetime, how="outer").join(repeat, how="outer")


def _listing_aggregates(as_of: datetime, seller_ids) -> pd.DataFrame:
    """What a new artisan already shows before any sale: how many listings, at what prices."""
    where, ids = _in_clause("l.seller_id", seller_ids)
    return _query(
        f"""SELECT l.seller_id, COUNT(*), AVG(l.price) FROM {Listing._meta.db_table} l
            WHERE l.created_at < %s{where} GROUP BY l.seller_id""",
        [_ts(as_of), *ids],
        ["seller_id", "listing_count", "listing_price_mean"],
    )


def _hits_sql(text: str, words) -> str:
    if connection.vendor == "postgresql":
        hit = "(CASE WHEN strpos({text}, '{word}') > 0 THEN 1 ELSE 0 END)"
    else:
        hit = "(CASE WHEN {text} LIKE '%%{word}%%' THEN 1 ELSE 0 END)"
    return "(" + " + ".join(hit.format(text=text, word=w) for w in words) + ")"


def _sentiment_sql(text: str) -> str:
    return f"({_hits_sql(text, POSITIVE_WORDS)} - {_hits_sql(text, NEGATIVE_WORDS)})"


def _communication_tone_sql(text: str) -> str:
    """+1 / -1 for a review that praises / faults how the artisan communicates, 0 otherwise."""
    return (
        f"(CASE WHEN {_hits_sql(text, COMMUNICATION_POSITIVE)} > 0 THEN 1 "
        f"WHEN {_hits_sql(text, COMMUNICATION_NEGATIVE)} > 0 THEN -1 ELSE 0 END)"
    )


def _communication_beyond_verdict_sql(text: str, rating: str) -> str:
    """For a review that speaks of communication: its level (0 faults, 1 neutral, 2 praises)
    minus the level of the buyer's verdict on the piece (0 for 1-2 stars, 1 for 3, 2 for 4-5).

    Buyers who dislike a piece but praise how the artisan looked after them (or the reverse) say
    something about the artisan that the stars alone do not, and comparing within one review
    cancels the leniency an artisan's reviewers share. NULL when the review is silent on it.
    """
    verdict = f"(CASE WHEN {rating} >= 4 THEN 2 WHEN {rating} >= 3 THEN 1 ELSE 0 END)"
    return (
        f"(CASE WHEN {_hits_sql(text, COMMUNICATION_POSITIVE)} > 0 THEN 2 "
        f"WHEN {_hits_sql(text, COMMUNICATION_NEUTRAL)} > 0 THEN 1 "
        f"WHEN {_hits_sql(text, COMMUNICATION_NEGATIVE)} > 0 THEN 0 END - {verdict})"
    )


def _review_aggregates(as_of: datetime, seller_ids) -> pd.DataFrame:
    where, ids = _in_clause("r.seller_id", seller_ids)
    # MATERIALIZED keeps PostgreSQL from inlining the sentiment expression into every
    # aggregate that uses it (measured: 6x faster); SQLite needs no hint.
    materialized = "MATERIALIZED " if connection.vendor == "postgresql" else ""
    sql = f"""
        WITH lowered AS {materialized}(
            SELECT r.seller_id, r.rating * 1.0 AS rating, LOWER(r.text) AS body
            FROM {Review._meta.db_table} r WHERE r.created_at >= %s AND r.created_at < %s{where}
        ), scored AS {materialized}(
            SELECT seller_id, rating, {_sentiment_sql("body")} * 1.0 AS sent,
                   {_communication_tone_sql("body")} * 1.0 AS comm,
                   {_communication_beyond_verdict_sql("body", "rating")} * 1.0 AS comm_gap FROM lowered
        )
        SELECT seller_id, COUNT(*), AVG(rating), AVG(rating * rating), AVG(sent), AVG(sent * sent), SUM(comm),
               COALESCE(SUM(comm_gap), 0), COUNT(comm_gap)
        FROM scored GROUP BY seller_id
    """
    params = [_ts(as_of - timedelta(days=365)), _ts(as_of), *ids]
    return _query(
        sql, params,
        ["seller_id", "reviews_365", "rating_avg_raw", "rating_sq_raw", "sent_avg_raw", "sent_sq_raw", "comm_sum",
         "comm_gap_sum", "comm_mentions_365"],
    )


def _engagement_aggregates(as_of: datetime, seller_ids) -> pd.DataFrame:
    table = EngagementEvent._meta.db_table
    where_actor, ids = _in_clause("e.seller_id", seller_ids)
    t = as_of
    tt, t30, t90, t365 = _ts(t), _ts(t - timedelta(days=30)), _ts(t - timedelta(days=90)), _ts(t - timedelta(days=365))
    # Replies over a whole year: a reply time is one noisy draw, and the mean of its logarithm
    # over many replies says far more about how the artisan looks after buyers than 90 days do.
    own = _query(
        f"""SELECT e.seller_id,
              SUM(CASE WHEN e.kind = 'login' AND e.occurred_at >= %s THEN 1 ELSE 0 END),
              SUM(CASE WHEN e.kind = 'login' AND e.occurred_at >= %s AND e.occurred_at < %s THEN 1 ELSE 0 END),
              SUM(CASE WHEN e.kind = 'listing_update' AND e.occurred_at >= %s THEN 1 ELSE 0 END),
              SUM(CASE WHEN e.kind = 'login' THEN 1 ELSE 0 END),
              SUM(CASE WHEN e.kind = 'listing_update' THEN 1 ELSE 0 END),
              SUM(CASE WHEN e.kind = 'message_reply' THEN 1 ELSE 0 END),
              AVG(CASE WHEN e.kind = 'message_reply' THEN LN(1.0 + e.response_minutes) END)
            FROM {table} e
            WHERE e.seller_id IS NOT NULL AND e.occurred_at >= %s AND e.occurred_at < %s{where_actor}
            GROUP BY e.seller_id""",
        [t30, t90, t30, t90, t365, tt, *ids],
        ["seller_id", "logins_30", "logins_prev_60", "listing_updates_90", "logins_365", "listing_updates_365", "replies_365",
         "log_response_raw"],
    )
    where_target, ids = _in_clause("e.target_seller_id", seller_ids)
    audience = _query(
        f"""SELECT e.target_seller_id, COUNT(*) FROM {table} e
            WHERE e.kind = 'message' AND e.buyer_id IS NOT NULL AND e.occurred_at >= %s AND e.occurred_at < %s{where_target}
            GROUP BY e.target_seller_id""",
        [t365, tt, *ids],
        ["seller_id", "messages_365"],
    )
    return own.join(audience, how="outer")


def _inventory_issues(as_of: datetime, seller_ids) -> pd.DataFrame:
    """Listings whose stock data looks wrong (see marketplace.inventory for the definitions)."""
    from marketplace.inventory import inventory_issue_counts

    return inventory_issue_counts(as_of=as_of, seller_ids=seller_ids)


def _group_season_share(as_of: datetime) -> dict[bool, float]:
    """Share of a year's orders that fall in the last 90 days, for seasonal and other artisans.

    This is the population's own seasonal curve: in May a seasonal artisan is expected to
    have sold far less of its year than a non-seasonal one, and is compared with that.
    """
    sql = f"""
        SELECT s.is_seasonal, SUM(CASE WHEN o.placed_at >= %s THEN 1 ELSE 0 END), COUNT(*)
        FROM {Order._meta.db_table} o JOIN {Seller._meta.db_table} s ON s.id = o.seller_id
        WHERE o.placed_at >= %s AND o.placed_at < %s GROUP BY s.is_seasonal
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [_ts(as_of - timedelta(days=90)), _ts(as_of - timedelta(days=365)), _ts(as_of)])
        rows = cursor.fetchall()
    shares = {True: 90 / 365, False: 90 / 365}
    for seasonal, recent, total in rows:
        if total and total >= 50:
            shares[bool(seasonal)] = float(recent) / float(total)
    return shares


def population_stats(*, as_of: datetime) -> dict:
    """Category averages and the seasonal curve over every artisan: JSON, to store on a run.

    A chunk or a single-artisan rescore is compared with the whole population, not with
    the artisans it happens to hold; computing this is the expensive part, so a run computes
    it once (see scoring.services.score_run_start) and its chunks reuse it.
    """
    frame = _raw_frame(as_of, None)
    priors = _pool_by_category(frame)
    shares = _group_season_share(as_of)
    levels = _group_order_level(frame)
    return {
        "as_of": as_of.isoformat(),
        "priors": json.loads(priors.to_json(orient="index")),
        "season_share": {"seasonal": shares[True], "other": shares[False]},
        "order_level": {"seasonal": levels[True], "other": levels[False]},
    }


def _group_order_level(frame: pd.DataFrame) -> dict[bool, float]:
    """Mean log yearly orders of selling artisans, seasonal and other.

    A seasonal artisan sells less over a year than an equally good year-round one (its demand
    sleeps for months), so yearly volume is read against artisans of the same kind.
    """
    selling = frame[frame["orders_365"] > 0]
    levels = {True: 0.0, False: 0.0}
    for seasonal, group in selling.groupby(selling["is_seasonal"].astype(bool)):
        if len(group) >= 20:
            levels[bool(seasonal)] = float(np.log1p(group["orders_365"].astype(float)).mean())
    if not levels[True] or not levels[False]:
        both = float(np.log1p(selling["orders_365"].astype(float)).mean()) if len(selling) else 0.0
        levels = {k: (v or both) for k, v in levels.items()}
    return levels


def _population_frames(population: dict) -> tuple[pd.DataFrame, dict[bool, float], dict[bool, float]] | None:
    priors = pd.DataFrame.from_dict(population["priors"], orient="index").astype("float64")
    if not {"lead_time_var", "log_response_minutes", "communication_tone"} <= set(priors.columns) or "order_level" not in population:
        # Stored by a run from before these features: recompute rather than guess the population.
        return None
    shares = {True: float(population["season_share"]["seasonal"]), False: float(population["season_share"]["other"])}
    levels = {True: float(population["order_level"]["seasonal"]), False: float(population["order_level"]["other"])}
    return priors, shares, levels


def _pool_by_category(frame: pd.DataFrame) -> pd.DataFrame:
    sums = frame.groupby("craft_category")[
        ["orders_365", "repeat_orders_365", "cancelled_365", "returned_365", "due_365", "late_365", "reviews_365",
         "rating_sum", "rating_sq_sum", "sent_sum", "sent_sq_sum", "comm_sum", "replies_365", "messages_365", "lead_sum", "lead_sq_sum", "lead_n",
         "response_sum", "response_n"]
    ].sum()
    overall = sums.sum()
    sums.loc["__all__"] = overall

    def ratio(num, den, default):
        return np.where(sums[den] > 0, sums[num] / sums[den].where(sums[den] > 0, 1), default)

    priors = pd.DataFrame(index=sums.index)
    priors["repeat_sales_ratio"] = ratio("repeat_orders_365", "orders_365", 0.2)
    priors["cancel_rate"] = ratio("cancelled_365", "orders_365", 0.03)
    priors["return_rate"] = ratio("returned_365", "orders_365", 0.04)
    priors["late_rate"] = ratio("late_365", "due_365", 0.1)
    priors["rating_mean"] = ratio("rating_sum", "reviews_365", 4.3)
    rating_sq = ratio("rating_sq_sum", "reviews_365", 19.0)
    priors["rating_var"] = np.maximum(rating_sq - priors["rating_mean"] ** 2, 0)
    priors["sent_mean"] = ratio("sent_sum", "reviews_365", 0.5)
    sent_sq = ratio("sent_sq_sum", "reviews_365", 1.0)
    priors["sentiment_var"] = np.maximum(sent_sq - priors["sent_mean"] ** 2, 0)
    priors["communication_tone"] = ratio("comm_sum", "reviews_365", 0.0)
    priors["reply_rate"] = np.clip(ratio("replies_365", "messages_365", 0.8), 0, 1)
    priors["lead_time_dev_days"] = ratio("lead_sum", "lead_n", -1.0)
    lead_sq = ratio("lead_sq_sum", "lead_n", 4.0)
    priors["lead_time_var"] = np.maximum(lead_sq - priors["lead_time_dev_days"] ** 2, 0)
    priors["log_response_minutes"] = ratio("response_sum", "response_n", np.log1p(90.0))
    return priors


def _raw_frame(as_of: datetime, seller_ids) -> pd.DataFrame:
    sellers = _sellers(as_of, seller_ids)
    frame = (
        sellers.join(_order_aggregates(as_of, seller_ids), how="left")
        .join(_review_aggregates(as_of, seller_ids), how="left")
        .join(_engagement_aggregates(as_of, seller_ids), how="left")
        .join(_inventory_issues(as_of, seller_ids), how="left")
        .join(_listing_aggregates(as_of, seller_ids), how="left")
    )
    counts = [
        "orders_365", "revenue_365", "orders_90", "cancelled_365", "oos_cancelled_365", "returned_365", "due_365",
        "late_365", "shipped_365", "orders_all", "repeat_orders_365", "reviews_365", "logins_30", "logins_prev_60",
        "listing_updates_90", "replies_365", "messages_365", "inventory_issues", "listing_count", "comm_sum",
        "comm_gap_sum", "comm_mentions_365", "logins_365", "listing_updates_365",
    ]
    for column in counts:
        if column not in frame:
            frame[column] = 0.0
        frame[column] = pd.to_numeric(frame[column], errors="coerce").fillna(0).astype("float64")
    for column in ["rating_avg_raw", "rating_sq_raw", "sent_avg_raw", "sent_sq_raw", "lead_time_dev_days_raw", "lead_sq_raw", "log_response_raw", "listing_price_mean"]:
        frame[column] = pd.to_numeric(frame.get(column), errors="coerce").astype("float64")
    frame["rating_sum"] = frame["rating_avg_raw"].fillna(0) * frame["reviews_365"]
    frame["rating_sq_sum"] = frame["rating_sq_raw"].fillna(0) * frame["reviews_365"]
    frame["sent_sum"] = frame["sent_avg_raw"].fillna(0) * frame["reviews_365"]
    frame["sent_sq_sum"] = frame["sent_sq_raw"].fillna(0) * frame["reviews_365"]
    frame["lead_n"] = np.where(frame["lead_time_dev_days_raw"].notna(), frame["shipped_365"], 0)
    frame["lead_sum"] = frame["lead_time_dev_days_raw"].fillna(0) * frame["lead_n"]
    frame["lead_sq_sum"] = frame["lead_sq_raw"].fillna(0) * frame["lead_n"]
    frame["response_n"] = np.where(frame["log_response_raw"].notna(), frame["replies_365"], 0)
    frame["response_sum"] = frame["log_response_raw"].fillna(0) * frame["response_n"]
    return frame


def _shrink(num, den, prior, strength):
    return (num + strength * prior) / (den + strength)


def _feedback(as_of: datetime, seller_ids) -> pd.DataFrame:
    from feedback.selectors import seller_feedback_signals

    return seller_feedback_signals(as_of=as_of, seller_ids=seller_ids)


def seller_features(*, as_of: datetime, seller_ids=None, population: dict | None = None) -> pd.DataFrame:
    """Feature frame indexed by seller_id: MODEL_FEATURES plus context columns.

    ``seller_ids=None`` means every artisan who had applied by ``as_of``. Unknown ids are
    simply absent. No value is ever NaN.
    """
    frame = _raw_frame(as_of, seller_ids)
    if frame.empty:
        return pd.DataFrame(columns=[*MODEL_FEATURES, "craft_category"], index=pd.Index([], name="seller_id"))
    if population is None and seller_ids is None:
        priors, shares, levels = _pool_by_category(frame), _group_season_share(as_of), _group_order_level(frame)
    else:
        stored = _population_frames(population) if population else None
        priors, shares, levels = stored or _population_frames(population_stats(as_of=as_of))
    category = frame["craft_category"].where(frame["craft_category"].isin(priors.index), "__all__")
    prior = priors.reindex(category.values).set_axis(frame.index)
    k_orders, k_reviews, k_messages = PRIOR_STRENGTH["orders"], PRIOR_STRENGTH["reviews"], PRIOR_STRENGTH["messages"]

    out = pd.DataFrame(index=frame.index)
    out["craft_category"] = frame["craft_category"]
    out["is_seasonal"] = frame["is_seasonal"].astype(bool)
    out["orders_365"] = frame["orders_365"]
    out["orders_90"] = frame["orders_90"]
    out["revenue_365"] = frame["revenue_365"].astype("float64")
    out["log_orders_365"] = np.log1p(frame["orders_365"])
    out["log_revenue_365"] = np.log1p(frame["revenue_365"].astype("float64"))
    seasonal = frame["is_seasonal"].astype(bool)
    out["orders_vs_season_peers"] = out["log_orders_365"] - np.where(seasonal, levels[True], levels[False])
    out["repeat_sales_ratio"] = _shrink(frame["repeat_orders_365"], frame["orders_365"], prior["repeat_sales_ratio"], k_orders)
    out["cancel_rate"] = _shrink(frame["cancelled_365"], frame["orders_365"], prior["cancel_rate"], k_orders)
    out["return_rate"] = _shrink(frame["returned_365"], frame["orders_365"], prior["return_rate"], k_orders)
    out["late_rate"] = _shrink(frame["late_365"], frame["due_365"], prior["late_rate"], k_orders)
    out["lead_time_dev_days"] = _shrink(frame["lead_sum"], frame["lead_n"], prior["lead_time_dev_days"], k_orders)
    out["rating_mean"] = _shrink(frame["rating_sum"], frame["reviews_365"], prior["rating_mean"], k_reviews)
    rating_sq = _shrink(frame["rating_sq_sum"], frame["reviews_365"], prior["rating_var"] + prior["rating_mean"] ** 2, k_reviews)
    out["rating_var"] = np.maximum(rating_sq - out["rating_mean"] ** 2, 0)
    sent_mean = _shrink(frame["sent_sum"], frame["reviews_365"], prior["sent_mean"], k_reviews)
    sent_sq = _shrink(frame["sent_sq_sum"], frame["reviews_365"], prior["sentiment_var"] + prior["sent_mean"] ** 2, k_reviews)
    out["sentiment_mean"] = sent_mean
    out["communication_tone"] = _shrink(frame["comm_sum"], frame["reviews_365"], prior["communication_tone"], k_reviews)
    out["sentiment_var"] = np.maximum(sent_sq - sent_mean**2, 0)
    # Shrunk towards "no difference": a single review that praises the artisan's replies is weak evidence.
    out["communication_beyond_verdict"] = _shrink(frame["comm_gap_sum"], frame["comm_mentions_365"], 0.0, COMMUNICATION_PRIOR_REVIEWS)
    # Shipping consistency: how much the artisan's lead time swings around its own average.
    lead_sq = _shrink(frame["lead_sq_sum"], frame["lead_n"], prior["lead_time_var"] + prior["lead_time_dev_days"] ** 2, k_orders)
    out["lead_time_sd_days"] = np.sqrt(np.maximum(lead_sq - out["lead_time_dev_days"] ** 2, 0))
    out["reply_rate"] = np.clip(_shrink(frame["replies_365"], frame["messages_365"], prior["reply_rate"], k_messages), 0, 1)
    out["log_response_minutes"] = _shrink(frame["response_sum"], frame["response_n"], prior["log_response_minutes"], k_messages)
    out["response_minutes"] = np.expm1(out["log_response_minutes"])

    # Seasonality: recent sales against what this artisan's own year says the last 90 days
    # should hold, using the seasonal or non-seasonal population curve for the same dates.
    expected = frame["orders_365"] * np.where(frame["is_seasonal"].astype(bool), shares[True], shares[False])
    applied = pd.to_datetime(frame["applied_at"], utc=True)
    approved = pd.to_datetime(frame["approved_at"], utc=True)
    started = approved.fillna(applied)
    tenure_days = ((pd.Timestamp(as_of) - started).dt.total_seconds() / 86400.0).clip(lower=0).fillna(0)
    seasonal_ratio = np.log((frame["orders_90"] + 1.0) / (expected + 1.0))
    # Under a year on the marketplace the artisan has no full year to compare with: neutral.
    out["seasonal_activity_ratio"] = np.where(tenure_days >= 365, seasonal_ratio, 0.0)
    out["log_logins_30"] = np.log1p(frame["logins_30"])
    out["log_logins_90"] = np.log1p(frame["logins_30"] + frame["logins_prev_60"])
    out["login_trend"] = (frame["logins_30"] - frame["logins_prev_60"] / 2.0) / (frame["logins_30"] + frame["logins_prev_60"] / 2.0 + 1.0)
    out["log_listing_updates_90"] = np.log1p(frame["listing_updates_90"])
    # A year of logins and listing updates per 30 days on the marketplace: far less noisy than
    # one month, and an artisan who joined three months ago is not marked down for the other nine.
    active_days = np.clip(tenure_days, MIN_ACTIVE_DAYS, 365.0)
    out["login_rate_365"] = np.log1p(frame["logins_365"] / active_days * 30.0)
    out["listing_update_rate_365"] = np.log1p(frame["listing_updates_365"] / active_days * 30.0)
    out["inventory_issues"] = frame["inventory_issues"] + frame["oos_cancelled_365"]
    out["tenure_days"] = tenure_days
    out["log_tenure_days"] = np.log1p(tenure_days)
    out["years_experience"] = frame["years_experience"].astype("float64")
    out["has_portfolio"] = frame["has_portfolio"].astype(bool).astype("float64")
    out["has_history"] = (frame["orders_all"] > 0).astype("float64")
    out["listing_count"] = frame["listing_count"]
    out["log_listing_price"] = np.log1p(frame["listing_price_mean"].fillna(0.0))

    feedback = _feedback(as_of, seller_ids)
    out["flagged_feedback_count"] = feedback["flagged_feedback_count"].reindex(out.index).fillna(0).astype("float64")
    out["buyer_trust"] = feedback["buyer_trust"].reindex(out.index).fillna(0.0).astype("float64")

    for name in ["repeat_sales_ratio", "cancel_rate", "return_rate", "late_rate", "rating_mean", "reply_rate", "lead_time_dev_days"]:
        out[f"category_{name}"] = prior[name].astype("float64")
    out["category_response_minutes"] = np.expm1(prior["log_response_minutes"].astype("float64"))
    numeric = out.columns.difference(["craft_category", "is_seasonal"])
    out[numeric] = out[numeric].astype("float64").replace([np.inf, -np.inf], np.nan).fillna(0.0)
    out.index.name = "seller_id"
    return out
