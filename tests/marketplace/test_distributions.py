"""The documented generating process (docs/generator.md), checked on the sampled frames."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from sklearn.mixture import GaussianMixture

from marketplace.generator import params as P
from marketplace.generator.sampling import (
    CATEGORIES,
    Window,
    sample_buyer_chunk,
    sample_seller_events,
    sample_sellers,
)


@pytest.fixture(scope="module")
def world():
    window = Window.build(end=pd.Timestamp("2026-11-01"), months=12)
    frames, world = sample_sellers(np.random.default_rng(101), n=1500, window=window, categories=CATEGORIES)
    chunk = sample_buyer_chunk(np.random.default_rng(102), world=world, window=window, lo=0, hi=20_000)
    orders = chunk["orders"].assign(
        q=lambda o: world.q[o["seller_idx"]], month=lambda o: window.month_of(o["t"].to_numpy())
    )
    return {"window": window, "frames": frames, "world": world, "chunk": chunk, "orders": orders}


def test_seasonal_artisans_sell_mostly_in_q4_and_little_in_q2(world):
    orders, w = world["orders"], world["world"]
    seasonal = orders[w.seasonal[orders["seller_idx"]]]
    other = orders[~w.seasonal[orders["seller_idx"]]]

    q4 = seasonal["month"].isin([9, 10, 11]).mean()
    q2 = seasonal["month"].isin([3, 4, 5]).mean()
    assert q4 > 0.55
    assert q2 < 0.10
    assert other["month"].isin([9, 10, 11]).mean() < 0.35


def test_about_fifteen_percent_of_artisans_are_seasonal_mostly_ornament_makers_with_independent_quality(world):
    sellers = world["frames"]["sellers"]
    seasonal = sellers[sellers["is_seasonal"]]

    assert 0.12 < sellers["is_seasonal"].mean() < 0.18
    assert 0.6 < (seasonal["craft_category"] == "seasonal_ornaments").mean() < 0.8
    assert seasonal["craft_category"].nunique() > 2
    assert abs(seasonal["synthetic_quality"].mean() - sellers["synthetic_quality"].mean()) < 0.04


def test_listing_prices_follow_the_documented_category_ranges(world):
    listings = world["frames"]["listings"]
    for category, (low, median, high) in P.PRICE_RANGES.items():
        prices = listings.loc[listings["category"] == category, "price"]
        assert prices.between(low, high).all(), category
        assert abs(prices.median() / median - 1) < 0.15, category
    medians = listings.groupby("category")["price"].median()
    assert medians["woodwork"] > 3 * medians["paper_goods"]


def test_low_quality_artisans_ship_late_cancel_and_get_returns_more_often(world):
    orders = world["orders"]
    low, high = orders[orders["q"] < 0.4], orders[orders["q"] > 0.8]

    assert low["late"].mean() > 3 * high["late"].mean()
    assert (low["status"] == "cancelled").mean() > 2 * (high["status"] == "cancelled").mean()
    assert low["returned"].notna().mean() > 2 * high["returned"].notna().mean()
    assert 0.01 < (orders["status"] == "cancelled").mean() < 0.05


def test_cadence_is_a_mixture_around_60_and_100_days(world):
    cadence = world["chunk"]["buyers"]["synthetic_cadence_days"].to_numpy().reshape(-1, 1)
    gm = GaussianMixture(2, random_state=0).fit(cadence)
    means = sorted(gm.means_.ravel())

    assert abs(means[0] - 60) < 8
    assert abs(means[1] - 100) < 10
    assert abs(cadence.mean() - 78) < 3


def test_buyers_churn_and_never_order_after_churning(world):
    chunk, window = world["chunk"], world["window"]
    buyers = chunk["buyers"]
    churned = buyers["synthetic_churned_at"] <= np.datetime64(window.end.to_datetime64(), "s")
    assert 0.25 < churned.mean() < 0.7
    orders = chunk["orders"]
    start = np.datetime64(window.start.to_datetime64(), "s")
    churn_day = (buyers["synthetic_churned_at"].to_numpy() - start) / np.timedelta64(1, "D")
    assert (orders["t"].to_numpy() < churn_day[orders["buyer_idx"].to_numpy()]).all()


def test_buyers_repeat_purchases_with_favourite_artisans(world):
    orders = world["orders"]
    per_buyer = orders.groupby("buyer_idx")["seller_idx"].agg(["size", "nunique"])
    repeaters = per_buyer[per_buyer["size"] >= 3]

    # With 1,500 artisans, chance alone would give a few percent.
    assert (repeaters["nunique"] < repeaters["size"]).mean() > 0.4


def test_low_quality_artisans_churn_more(world):
    w = world["world"]
    sells = np.isfinite(w.ready)
    churned = np.isfinite(w.churn) & sells
    assert churned[sells & (w.q < 0.5)].mean() > 2 * churned[sells & (w.q > 0.75)].mean()


def test_quality_signals_track_latent_quality_better_than_sales_volume_which_still_carries_some(world):
    orders, chunk, w = world["orders"], world["chunk"], world["world"]
    reviews = chunk["reviews"].assign(seller_idx=orders["seller_idx"].to_numpy()[chunk["reviews"]["order_pos"]])
    per = orders.groupby("seller_idx").agg(volume=("t", "size"), late=("late", "mean"))
    per["rating"] = reviews.groupby("seller_idx")["rating"].mean()
    per = per[per["volume"] >= 20].dropna()
    q = w.q[per.index]

    volume_rho = spearmanr(per["volume"], q).statistic
    rating_rho = spearmanr(per["rating"], q).statistic
    late_rho = spearmanr(per["late"], q).statistic
    assert 0.1 < volume_rho < 0.6
    assert rating_rho > volume_rho + 0.2
    assert late_rho < -0.3


def test_review_text_tone_follows_the_rating(world):
    reviews = world["chunk"]["reviews"]
    text = reviews["text"]
    negative = text.str.contains("Poor quality|broke|Disappointing")
    positive = text.str.contains("Beautiful|excellent|nicer than")

    assert negative[reviews["rating"] <= 2].mean() > 0.8
    assert positive[reviews["rating"] >= 4].mean() > 0.8
    assert (text == "").mean() < 0.15


def test_artisan_reply_time_and_listing_activity_depend_on_quality(world):
    events, w, window = world["chunk"]["events"], world["world"], world["window"]
    replies = events[events["kind"] == "message_reply"]
    q = w.q[replies["seller_idx"].to_numpy()]
    assert np.median(replies["minutes"][q > 0.8]) < 0.5 * np.median(replies["minutes"][q < 0.4])

    own = sample_seller_events(np.random.default_rng(103), world=w, window=window, lo=0, hi=len(w.q))
    updates = own[own["kind"] == "listing_update"].groupby("seller_idx").size()
    span = np.minimum(w.churn, window.days) - np.maximum(w.ready, 0.0)
    selling = np.flatnonzero(np.isfinite(w.ready) & (span > 60))
    per_day = updates.reindex(selling, fill_value=0).to_numpy() / span[selling]
    assert per_day[w.q[selling] > 0.8].mean() > 1.8 * per_day[w.q[selling] < 0.4].mean()


def _churn_day(world):
    buyers, window = world["chunk"]["buyers"], world["window"]
    start = np.datetime64(window.start.to_datetime64(), "s")
    return (buyers["synthetic_churned_at"].to_numpy() - start) / np.timedelta64(1, "D")


def test_buyers_about_to_churn_log_in_less_than_they_used_to(world):
    events = world["chunk"]["events"]
    logins = events[events["kind"] == "login"]
    churn_day = _churn_day(world)
    before = churn_day[logins["buyer_idx"].to_numpy()] - logins["t"].to_numpy()
    # Buyers who churn inside the window and had 180 days of history before it.
    joined = (world["chunk"]["buyers"]["joined_at"].to_numpy() - np.datetime64(world["window"].start.to_datetime64(), "s")) / np.timedelta64(1, "D")
    eligible = (churn_day < world["window"].days) & (churn_day - np.maximum(joined, 0) > 180)
    mine = eligible[logins["buyer_idx"].to_numpy()]
    last_month = ((before > 0) & (before <= 30) & mine).sum()
    months_four_to_six = ((before > 90) & (before <= 180) & mine).sum() / 3

    assert last_month < 0.5 * months_four_to_six


def test_a_late_cancelled_or_returned_order_raises_the_churn_hazard(world):
    orders = world["orders"]
    left_within_60 = _churn_day(world)[orders["buyer_idx"].to_numpy()] - orders["t"].to_numpy() < 60
    bad = (orders["late"] | (orders["status"] == "cancelled") | orders["returned"].notna()).to_numpy()

    assert left_within_60[bad].mean() > 1.5 * left_within_60[~bad].mean()


def test_erratic_buyers_have_irregular_gaps_and_regular_ones_keep_their_clock(world):
    orders = world["orders"].sort_values(["buyer_idx", "t"])
    gaps = orders.groupby("buyer_idx")["t"].diff().dropna()
    stats = gaps.groupby(orders.loc[gaps.index, "buyer_idx"]).agg(["mean", "std", "size"])
    cv = (stats["std"] / stats["mean"])[stats["size"] >= 4]

    # A mixture: a regular mode near CV 0.5 (Erlang-4) and an erratic tail near 1.
    assert 0.35 < cv.median() < 0.75
    assert (cv > 0.9).mean() > 0.1


def test_consumable_listings_are_bought_again_by_the_same_buyer(world):
    chunk, w = world["chunk"], world["world"]
    lines = chunk["lines"].assign(buyer=chunk["orders"]["buyer_idx"].to_numpy()[chunk["lines"]["order_pos"]])
    repeat = lines.duplicated(["buyer", "listing_idx"])
    consumable = w.listing_consumable[lines["listing_idx"].to_numpy()]

    assert repeat.mean() > 0.05
    # Favourite artisans make some repeats of anything; consumables are re-bought far more often.
    assert repeat[consumable].mean() > 3 * repeat[~consumable].mean()
    titles = world["frames"]["listings"]["title"].to_numpy()[w.listing_consumable]
    assert pd.Series(titles).str.contains("candle|soap|tea|salts|balm").all()


def test_seasonal_buyers_buy_mostly_in_the_gift_season(world, monkeypatch):
    monkeypatch.setattr(P, "SEASONAL_BUYER_SHARE", 1.0)
    monkeypatch.setattr(P, "ERRATIC_SHARE", 0.0)
    chunk = sample_buyer_chunk(np.random.default_rng(7), world=world["world"], window=world["window"], lo=0, hi=2000)
    months = world["window"].month_of(chunk["orders"]["t"].to_numpy())

    assert np.isin(months, P.SEASONAL_BUYER_MONTHS).mean() > 0.6
