"""Vectorised sampling of the synthetic marketplace (no database access).

Times are float days since the window start (negative = before the window); ``Window.stamp`` turns
them into UTC ``datetime64[s]`` arrays. Every table comes out as a pandas DataFrame whose columns
are the database column names, ready for COPY or bulk_create.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sellers.models import CraftCategory

from . import params as P

CATEGORIES = list(CraftCategory.values)
HANDLING = np.array([h for h, _ in P.HANDLING_DAYS])
HANDLING_P = np.array([p for _, p in P.HANDLING_DAYS])

ADJECTIVES = np.array(
    [
        "Amber",
        "Birch",
        "Cedar",
        "Clay",
        "Copper",
        "Dune",
        "Ember",
        "Fern",
        "Flint",
        "Harbor",
        "Hazel",
        "Indigo",
        "Juniper",
        "Linen",
        "Maple",
        "Moss",
        "Oak",
        "Olive",
        "Quartz",
        "Rowan",
        "Saffron",
        "Sage",
        "Slate",
        "Willow",
    ],
    dtype=object,
)
STUDIO_WORDS = np.array(["Studio", "Workshop", "Atelier", "Makers", "Crafts", "Goods", "Hand Co."], dtype=object)
ITEMS = {
    CraftCategory.JEWELRY: ["ring", "pendant", "bracelet", "earrings", "brooch", "necklace"],
    CraftCategory.HOME_DECOR: ["wall hanging", "candle holder", "mirror frame", "vase", "lamp", "planter"],
    CraftCategory.CERAMICS: ["mug", "bowl", "plate", "teapot", "serving dish", "jug"],
    CraftCategory.SEASONAL_ORNAMENTS: ["star ornament", "bauble", "wreath", "angel", "snowflake", "nutcracker"],
    CraftCategory.TEXTILES: ["scarf", "throw", "cushion cover", "tote bag", "table runner", "quilt"],
    CraftCategory.WOODWORK: ["cutting board", "stool", "spoon set", "bookend", "jewelry box", "tray"],
    CraftCategory.PAPER_GOODS: ["notebook", "card set", "print", "calendar", "gift tags", "journal"],
}
FIRST_NAMES = np.array(
    [
        "Ada",
        "Ben",
        "Chloe",
        "Dev",
        "Elena",
        "Farid",
        "Grace",
        "Hugo",
        "Ines",
        "Jonas",
        "Kira",
        "Luca",
        "Maya",
        "Noah",
        "Olga",
        "Priya",
        "Quinn",
        "Rosa",
        "Sami",
        "Tara",
        "Umar",
        "Vera",
        "Wen",
        "Yara",
        "Zane",
    ],
    dtype=object,
)
LAST_NAMES = np.array(
    [
        "Adler",
        "Brooks",
        "Costa",
        "Dubois",
        "Evans",
        "Fischer",
        "Garcia",
        "Hansen",
        "Ito",
        "Jensen",
        "Kowalski",
        "Larsen",
        "Moreau",
        "Novak",
        "Okafor",
        "Park",
        "Rossi",
        "Silva",
        "Tanaka",
        "Varga",
        "Weber",
        "Zhou",
    ],
    dtype=object,
)

# Review phrases by aspect and tone (0 negative, 1 neutral, 2 positive).
QUALITY_TEXT = [
    ["Poor quality, not as pictured.", "It broke within a week.", "Disappointing craftsmanship."],
    ["The quality is okay for the price.", "Decent piece, nothing special.", "Fine, though a little rough."],
    ["Beautiful craftsmanship.", "The quality is excellent.", "Even nicer than the photos."],
]
SHIPPING_TEXT = [
    ["Shipping was late.", "It took far longer to arrive than promised.", "Arrived late and badly packed."],
    ["Shipping took about as long as promised.", "Delivery was on time.", "Arrived when expected."],
    ["Shipped fast and well packed.", "Arrived earlier than expected.", "Super quick dispatch."],
]
COMMUNICATION_TEXT = [
    ["The artisan never replied to my messages.", "Communication was poor.", "Hard to reach the seller."],
    ["Communication was fine.", "The seller answered eventually.", "Replies were short but okay."],
    ["The artisan answered my questions quickly.", "Lovely, helpful seller.", "Great communication throughout."],
]
RETURN_DETAIL = {
    "damaged": "Item arrived damaged.",
    "not_as_described": "Item did not match the listing.",
    "quality": "Quality below expectations.",
    "late": "Arrived too late to be useful.",
    "changed_mind": "Buyer changed their mind.",
    "other": "",
}
CANCEL_REASONS = np.array(
    ["out_of_stock", "buyer_request", "seller_unresponsive", "late_shipment", "other"], dtype=object
)
RETURN_REASONS = np.array(["damaged", "not_as_described", "quality", "late", "changed_mind", "other"], dtype=object)


@dataclass(frozen=True)
class Window:
    start: pd.Timestamp  # UTC midnight, naive
    end: pd.Timestamp
    days: float
    month_of_day: np.ndarray  # calendar month (0-11) of each whole day in the window

    @classmethod
    def build(cls, *, end: pd.Timestamp, months: int) -> Window:
        start = end - pd.DateOffset(months=months)
        days = (end - start).total_seconds() / P.DAY_SECONDS
        day_index = pd.date_range(start, periods=int(math.ceil(days)) + 1, freq="D")
        return cls(start=start, end=end, days=days, month_of_day=(day_index.month.to_numpy() - 1))

    def stamp(self, t: np.ndarray) -> np.ndarray:
        """Float days since start → datetime64[s] (NaN → NaT)."""
        t = np.asarray(t, dtype=float)
        seconds = np.round(t * P.DAY_SECONDS)
        out = np.full(t.shape, np.datetime64("NaT"), dtype="datetime64[s]")
        ok = ~np.isnan(seconds)
        out[ok] = np.datetime64(self.start.to_datetime64(), "s") + seconds[ok].astype("int64").astype("timedelta64[s]")
        return out

    def month_of(self, t: np.ndarray) -> np.ndarray:
        day = np.clip(np.floor(t).astype(int), 0, len(self.month_of_day) - 1)
        return self.month_of_day[day]


def _money(cents: np.ndarray) -> np.ndarray:
    return np.asarray(cents, dtype="int64") / 100.0


@dataclass
class SellerWorld:
    """Per-artisan latent state that the buyer chunks need."""

    q: np.ndarray
    pop: np.ndarray
    seasonal: np.ndarray
    ready: np.ndarray  # day sales can start (NaN = never sells)
    churn: np.ndarray  # day the artisan goes inactive (inf = after the window)
    handling: np.ndarray
    rating_bias: np.ndarray
    listing_start: np.ndarray
    listing_count: np.ndarray
    listing_price_cents: np.ndarray
    listing_stock: np.ndarray  # float, NaN = made to order
    listing_stock_updated: np.ndarray
    week_cum: np.ndarray  # (weeks, sellers) row-normalised cumulative demand, offset by the week index
    week_ok: np.ndarray  # weeks with any active seller
    listing_consumable: np.ndarray | None = None  # bool per listing: re-bought (candles, soap, tea)

    def active_at(self, s: np.ndarray, t: np.ndarray) -> np.ndarray:
        return (self.ready[s] <= t) & (t < self.churn[s])


def sample_sellers(
    rng: np.random.Generator, *, n: int, window: Window, categories: list[str]
) -> tuple[dict[str, pd.DataFrame], SellerWorld]:
    T = window.days
    allowed = [c for c in CATEGORIES if c in categories]
    weights = np.array([P.CATEGORY_WEIGHTS[c] for c in allowed])
    weights = weights / weights.sum()
    seasonal = rng.random(n) < P.SEASONAL_SHARE
    cat = rng.choice(len(allowed), size=n, p=weights)
    non_ornament = [i for i, c in enumerate(allowed) if c != CraftCategory.SEASONAL_ORNAMENTS]
    if CraftCategory.SEASONAL_ORNAMENTS in allowed:
        ornament = allowed.index(CraftCategory.SEASONAL_ORNAMENTS)
        to_ornament = rng.random(n) < (P.SEASONAL_ORNAMENT_SHARE if non_ornament else 1.0)
        other = rng.choice(non_ornament, size=n) if non_ornament else np.full(n, ornament)
        cat = np.where(seasonal, np.where(to_ornament, ornament, other), cat)
    cat_name = np.array(allowed, dtype=object)[cat]

    q = rng.beta(*P.QUALITY_BETA, size=n)
    pop = rng.lognormal(0.0, P.POPULARITY_SIGMA, size=n)
    years = np.minimum(40, rng.poisson(1 + 8 * q))
    portfolio = rng.random(n) < 0.2 + 0.6 * q

    pre = rng.random(n) < P.PRE_WINDOW_APPLIED_SHARE
    applied = np.where(pre, -rng.random(n) * P.PRE_WINDOW_DAYS, rng.random(n) * max(T - 10.0, 1.0))
    approve_lag = rng.gamma(*P.APPROVAL_GAMMA, size=n)
    onboard_lag = rng.random(n) * P.ONBOARD_UNIFORM_DAYS
    rejected = rng.random(n) < P.REJECT_BASE * (1 - q) ** 2
    newest = np.zeros(n, dtype=bool)
    n_newest = int(math.ceil(P.NEWEST_APPLIED_SHARE * n)) if n >= 10 else 0
    if n_newest:
        newest[np.argsort(-applied, kind="stable")[:n_newest]] = True

    nan = np.full(n, np.nan)
    approved_at = np.where(~newest & ~rejected & (applied + approve_lag <= T), applied + approve_lag, nan)
    rejected_at = np.where(~newest & rejected & (applied + approve_lag <= T), applied + approve_lag, nan)
    onboarded_at = np.where(approved_at + onboard_lag <= T, approved_at + onboard_lag, nan)
    status = np.full(n, "applied", dtype=object)
    status[~newest & ~rejected] = "call_pending"
    status[~newest & rejected] = "manual_review"
    status[~np.isnan(approved_at)] = "approved"
    status[~np.isnan(rejected_at)] = "rejected"

    ready = onboarded_at + P.LISTING_READY_DAYS
    ready[ready >= T] = np.nan
    sells = ~np.isnan(ready)
    rate = P.SELLER_CHURN_BASE + P.SELLER_CHURN_Q * (1 - q) ** 3
    churn = np.maximum(np.nan_to_num(ready, nan=0.0), 0.0) + rng.exponential(1.0 / rate) * P.MONTH_DAYS
    churn = np.where(churn >= T, np.inf, churn)
    churn[~sells] = np.inf
    handling = rng.choice(HANDLING, size=n, p=HANDLING_P)
    rating_bias = rng.normal(0.0, P.RATING_SELLER_BIAS, size=n)

    ids = np.arange(1, n + 1)
    name = (
        ADJECTIVES[rng.integers(len(ADJECTIVES), size=n)] + " " + STUDIO_WORDS[rng.integers(len(STUDIO_WORDS), size=n)]
    )
    name = name + " " + pd.Series(ids).astype(str).to_numpy(dtype=object)
    ext = pd.Series(ids).map("S{:07d}".format).to_numpy(dtype=object)
    sellers = pd.DataFrame(
        {
            "id": ids,
            "external_id": ext,
            "name": name,
            "email": pd.Series(ext).str.lower().add("@artisans.example").to_numpy(dtype=object),
            "phone": "",
            "craft_category": cat_name,
            "is_seasonal": seasonal,
            "years_experience": years,
            "has_portfolio": portfolio,
            "onboarding_status": status,
            "applied_at": window.stamp(applied),
            "approved_at": window.stamp(approved_at),
            "onboarded_at": window.stamp(onboarded_at),
            "rejected_at": window.stamp(rejected_at),
            "synthetic_quality": np.round(q, 6),
        }
    )

    # Listings: only for artisans that reach the selling stage.
    count = np.where(sells, 2 + rng.poisson(P.LISTINGS_EXTRA_POISSON, size=n), 0)
    start_idx = np.concatenate([[0], np.cumsum(count)[:-1]])
    m = int(count.sum())
    ls = np.repeat(np.arange(n), count)
    lcat = cat_name[ls]
    low = np.array([P.PRICE_RANGES[c][0] for c in lcat]) if m else np.zeros(0)
    med = np.array([P.PRICE_RANGES[c][1] for c in lcat]) if m else np.zeros(0)
    high = np.array([P.PRICE_RANGES[c][2] for c in lcat]) if m else np.zeros(0)
    price = np.clip(med * np.exp(rng.normal(0, P.PRICE_SIGMA, size=m)), low, high)
    price_cents = np.round(price * 100).astype("int64")
    created = onboarded_at[ls] + rng.random(m) * P.LISTING_READY_DAYS
    tracked = rng.random(m) >= P.MADE_TO_ORDER_SHARE
    stock = rng.poisson(P.STOCK_POISSON, size=m).astype(float)
    stock[rng.random(m) < P.SOLD_OUT_SHARE] = 0.0
    stock[~tracked] = np.nan
    last_seen = np.minimum(churn[ls], T)
    stock_updated = last_seen - rng.exponential(20.0, size=m)
    stale = rng.random(m) < P.STALE_STOCK_SHARE
    stock_updated = np.where(stale, T - 91.0 - rng.random(m) * 274.0, stock_updated)
    stock_updated = np.maximum(stock_updated, created)
    stock_updated[~tracked] = np.nan
    lseasonal = rng.random(m) < np.where(seasonal[ls], P.SEASONAL_LISTING_SHARE, P.OTHER_SEASONAL_LISTING_SHARE)
    items = np.empty(m, dtype=object)
    pick = rng.integers(6, size=m)
    for c in set(lcat):
        mask = lcat == c
        items[mask] = np.array(ITEMS[c], dtype=object)[pick[mask]]
    lids = np.arange(1, m + 1)
    listings = pd.DataFrame(
        {
            "id": lids,
            "seller_id": ls + 1,
            "external_id": pd.Series(lids).map("L{:08d}".format).to_numpy(dtype=object),
            "title": (ADJECTIVES[rng.integers(len(ADJECTIVES), size=m)] + " " + items).astype(object),
            "category": lcat,
            "price": _money(price_cents),
            "stock_quantity": pd.array(stock, dtype="Int64") if m else pd.array([], dtype="Int64"),
            "stock_updated_at": window.stamp(stock_updated),
            "is_seasonal": lseasonal,
            "is_active": np.isinf(churn[ls]),
            "created_at": window.stamp(created),
        }
    )

    # Consumables last, so every artisan and listing value drawn above stays as it was.
    consumable_share = np.array([P.CONSUMABLE_CATEGORY_SHARE.get(c, 0.0) for c in lcat], dtype=float)
    consumable = (rng.random(m) < consumable_share) & ~lseasonal
    consumable_item = np.array(P.CONSUMABLE_ITEMS, dtype=object)[rng.integers(len(P.CONSUMABLE_ITEMS), size=m)]
    listings["title"] = np.where(
        consumable, pd.Series(listings["title"]).str.split(" ", n=1).str[0].to_numpy(dtype=object) + " " + consumable_item, listings["title"]
    ).astype(object)

    # Weekly demand matrix for picking the artisan of an order.
    weeks = int(math.ceil(T / 7.0))
    w0 = np.arange(weeks) * 7.0
    mid_month = window.month_of(np.minimum(w0 + 3.5, T - 1e-9))
    seas_mult = np.array(P.SEASONAL_MONTHLY)[mid_month]  # (weeks,)
    r = np.nan_to_num(ready, nan=np.inf)
    overlap = np.clip(np.minimum(churn[None, :], (w0 + 7.0)[:, None]) - np.maximum(r[None, :], w0[:, None]), 0, 7) / 7
    base = pop * (P.DEMAND_Q_OFFSET + q)
    weight = overlap * base[None, :] * np.where(seasonal[None, :], seas_mult[:, None], 1.0)
    total = weight.sum(axis=1)
    week_ok = total > 0
    cum = np.cumsum(weight, axis=1) / np.where(week_ok, total, 1.0)[:, None]
    cum = cum + np.arange(weeks)[:, None]

    world = SellerWorld(
        q=q,
        pop=pop,
        seasonal=seasonal,
        ready=np.nan_to_num(ready, nan=np.inf),
        churn=churn,
        handling=handling,
        rating_bias=rating_bias,
        listing_start=start_idx,
        listing_count=count,
        listing_price_cents=price_cents,
        listing_stock=stock,
        listing_stock_updated=stock_updated,
        week_cum=cum,
        week_ok=week_ok,
        listing_consumable=consumable,
    )
    return {"sellers": sellers, "listings": listings}, world


def sample_seller_events(
    rng: np.random.Generator, *, world: SellerWorld, window: Window, lo: int, hi: int
) -> pd.DataFrame:
    """Logins and listing updates of artisans lo..hi-1 over their active span."""
    T = window.days
    s = np.arange(lo, hi)
    q = world.q[s]
    a = np.maximum(world.ready[s], 0.0)
    b = np.minimum(world.churn[s], T)
    span = np.where(np.isfinite(a) & (b > a), b - a, 0.0)
    a = np.where(span > 0, a, 0.0)
    frames = []
    for kind, rate in (
        ("login", P.SELLER_LOGIN_BASE + P.SELLER_LOGIN_Q * q),
        ("listing_update", P.LISTING_UPDATE_BASE + P.LISTING_UPDATE_Q * q),
    ):
        k = rng.poisson(rate * span)
        who = np.repeat(s, k)
        t = np.repeat(a, k) + rng.random(int(k.sum())) * np.repeat(span, k)
        frames.append(pd.DataFrame({"seller_idx": who, "kind": kind, "t": t}))
    out = pd.concat(frames, ignore_index=True)
    return out


def _event_frame(*, buyer=None, seller=None, target=None, kind, t, minutes=None) -> pd.DataFrame:
    n = len(t)
    none = np.full(n, -1, dtype="int64")
    return pd.DataFrame(
        {
            "buyer_idx": none if buyer is None else buyer,
            "seller_idx": none if seller is None else seller,
            "target_idx": none if target is None else target,
            "kind": kind,
            "t": t,
            "minutes": np.full(n, -1, dtype="int64") if minutes is None else minutes,
        }
    )


def _engagement_multiplier(t: np.ndarray, churn: np.ndarray) -> np.ndarray:
    """Share of a buyer's engagement rate left at time t: falls to DISENGAGE_FLOOR as churn nears."""
    ramp = np.clip((churn - t) / P.DISENGAGE_DAYS, 0.0, 1.0)
    return P.DISENGAGE_FLOOR + (1 - P.DISENGAGE_FLOOR) * ramp


def _order_lines(world: SellerWorld, seller: np.ndarray, n_lines: np.ndarray, first: np.ndarray):
    """Lines of each order: n_lines consecutive listings of its artisan, starting at ``first``."""
    count = world.listing_count[seller]
    line_order = np.repeat(np.arange(len(seller)), n_lines)
    j = np.arange(len(line_order)) - np.repeat(np.cumsum(n_lines) - n_lines, n_lines)
    listing = world.listing_start[seller[line_order]] + (first[line_order] + j) % count[line_order]
    return line_order, listing


def _repurchases(rng, world: SellerWorld, ob, ot, seller, n_lines, first):
    """Turn orders after a buyer's first consumable into re-purchases of it with REPURCHASE_P.

    A re-purchase is one line of that same listing from its artisan (while the artisan sells).
    """
    k = len(ob)
    if world.listing_consumable is None or k == 0:
        return seller, n_lines, first
    line_order, listing = _order_lines(world, seller, n_lines, first)
    is_cons = world.listing_consumable[listing]
    # Each buyer's first consumable line (orders are sorted by buyer, then time).
    cons_orders = line_order[is_cons]
    cons_listing = listing[is_cons]
    buyers = ob[cons_orders]
    firsts = np.flatnonzero(np.r_[True, buyers[1:] != buyers[:-1]]) if len(buyers) else np.zeros(0, dtype=int)
    staple = np.full(ob.max() + 1, -1)
    staple_t = np.full(ob.max() + 1, np.inf)
    staple[buyers[firsts]] = cons_listing[firsts]
    staple_t[buyers[firsts]] = ot[cons_orders[firsts]]
    u = rng.random(k)
    target = staple[ob]
    staple_seller = np.searchsorted(world.listing_start, np.maximum(target, 0), side="right") - 1
    again = (ot > staple_t[ob]) & (u < P.REPURCHASE_P) & (target >= 0) & world.active_at(staple_seller, ot)
    seller = np.where(again, staple_seller, seller)
    n_lines = np.where(again, 1, n_lines)
    first = np.where(again, target - world.listing_start[staple_seller], first)
    return seller, n_lines, first


def sample_buyer_chunk(
    rng: np.random.Generator, *, world: SellerWorld, window: Window, lo: int, hi: int, purchase_frequency: float = 1.0
) -> dict[str, pd.DataFrame]:
    """Buyers lo..hi-1 with their orders, lines, returns, reviews and engagement (indices, float days).

    ``purchase_frequency`` divides every buyer's cadence: 2.0 means buyers come back twice as often.
    """
    T = window.days
    n = hi - lo
    b_idx = np.arange(lo, hi)
    pre = rng.random(n) < P.PRE_WINDOW_JOINED_SHARE
    joined = np.where(pre, -rng.random(n) * 365.0, rng.random(n) * max(T - 3.0, 1.0))
    shares = np.array([s for s, _ in P.CADENCE_MIX])
    means = np.array([m for _, m in P.CADENCE_MIX])
    component = rng.choice(len(means), size=n, p=shares / shares.sum())
    cadence = rng.gamma(P.CADENCE_SHAPE, means[component] / P.CADENCE_SHAPE) / purchase_frequency
    churn = np.maximum(joined, 0.0) + rng.exponential(P.BUYER_LIFETIME_MEAN_DAYS, size=n)
    activity = rng.gamma(*P.BUYER_ACTIVITY_GAMMA, size=n)
    fav_share = rng.beta(*P.FAVOURITE_SHARE_BETA, size=n)
    fav_w = world.pop * world.q**2 * np.isfinite(world.ready)
    if fav_w.sum() > 0:
        favs = rng.choice(len(fav_w), size=(n, 2), p=fav_w / fav_w.sum())
    else:
        favs = np.zeros((n, 2), dtype=int)
    style = rng.random(n)
    erratic = style < P.ERRATIC_SHARE
    seasonal_buyer = (style >= P.ERRATIC_SHARE) & (style < P.ERRATIC_SHARE + P.SEASONAL_BUYER_SHARE)
    gap_shape = np.where(erratic, P.ERRATIC_GAP_SHAPE, P.GAP_SHAPE)

    stop = np.minimum(churn, T)
    # Purchase times: a renewal process per buyer, kept inside [0, stop).
    t = joined + rng.exponential(P.FIRST_ORDER_MEAN_DAYS, size=n)
    alive = np.arange(n)
    who_parts, t_parts = [], []
    while alive.size:
        keep = (t >= 0) & (t < stop[alive])
        who_parts.append(alive[keep])
        t_parts.append(t[keep])
        cont = t < stop[alive]
        alive, t = alive[cont], t[cont]
        t = t + rng.gamma(gap_shape[alive], cadence[alive] / gap_shape[alive])
    ob = np.concatenate(who_parts) if who_parts else np.zeros(0, dtype=int)
    ot = np.concatenate(t_parts) if t_parts else np.zeros(0)
    # Ordered by buyer, then time: buyer ids grow across chunks, so a buyer's orders lie together
    # on disk, and the nightly run's buyer-range chunks read few pages each.
    order = np.lexsort((ot, ob))
    ob, ot = ob[order], ot[order]
    # Seasonal buyers skip most of their purchase occasions outside the gift season.
    in_season = np.isin(window.month_of(ot), P.SEASONAL_BUYER_MONTHS)
    kept = ~seasonal_buyer[ob] | in_season | (rng.random(len(ot)) < P.SEASONAL_BUYER_OFF_KEEP)
    ob, ot = ob[kept], ot[kept]

    # Artisan of each order: a favourite, else drawn from the weekly demand weights.
    k = len(ot)
    week = np.minimum((ot // 7).astype(int), len(world.week_ok) - 1)
    u = rng.random(k)
    general = (
        np.searchsorted(world.week_cum.ravel(), week + u * (1 - 1e-12), side="right") - week * world.week_cum.shape[1]
    )
    general = np.clip(general, 0, world.week_cum.shape[1] - 1)
    fav_pick = np.where(rng.random(k) < P.FAVOURITE_SPLIT, favs[ob, 0], favs[ob, 1])
    month = window.month_of(ot)
    season = np.where(world.seasonal[fav_pick], np.minimum(1.0, np.array(P.SEASONAL_MONTHLY)[month]), 1.0)
    use_fav = (rng.random(k) < fav_share[ob] * season) & world.active_at(fav_pick, ot)
    seller = np.where(use_fav, fav_pick, general)
    ok = world.active_at(seller, ot) & world.week_ok[week]
    ob, ot, seller = ob[ok], ot[ok], seller[ok]
    k = len(ot)

    # Lines: 1-3 distinct listings of the artisan; later orders may re-buy a consumable.
    count = world.listing_count[seller]
    n_lines = np.minimum(rng.choice(3, size=k, p=P.LINES_P) + 1, count)
    first = rng.integers(0, np.maximum(count, 1))
    seller, n_lines, first = _repurchases(rng, world, ob, ot, seller, n_lines, first)

    # Fulfilment and the buyer's verdict, driven by the artisan's quality.
    q = world.q[seller]
    cancel = rng.random(k) < P.CANCEL_BASE + P.CANCEL_Q * (1 - q) ** 2
    late = rng.random(k) < P.LATE_BASE + P.LATE_Q * (1 - q) ** 2
    returned = rng.random(k) < P.RETURN_BASE + P.RETURN_Q * (1 - q) ** 2 + P.RETURN_LATE * late
    score = (
        P.RATING_INTERCEPT
        + P.RATING_Q * q
        + world.rating_bias[seller]
        + rng.normal(0, P.RATING_NOISE, size=k)
        - P.RATING_LATE * late
        - P.RATING_RETURNED * returned
    )
    # A bad experience may end the relationship: churn moves earlier and later orders vanish.
    bad = cancel | late | returned | (score <= P.DETRACTOR_SCORE)
    quits = bad & (rng.random(k) < P.BAD_ORDER_CHURN_P)
    quit_t = ot + P.BAD_ORDER_REACTION_DAYS + rng.exponential(P.BAD_ORDER_CHURN_DELAY_MEAN_DAYS, size=k)
    np.minimum.at(churn, ob[quits], quit_t[quits])
    stop = np.minimum(churn, T)
    ok = ot < churn[ob]
    ob, ot, seller, n_lines, first = ob[ok], ot[ok], seller[ok], n_lines[ok], first[ok]
    q, cancel, late, returned, score = q[ok], cancel[ok], late[ok], returned[ok], score[ok]
    k = len(ot)
    line_order, listing = _order_lines(world, seller, n_lines, first)
    qty = rng.choice(3, size=len(line_order), p=P.QUANTITY_P) + 1
    unit = world.listing_price_cents[listing]
    total = np.bincount(line_order, weights=unit * qty, minlength=k).astype("int64")

    ship_by = ot + world.handling[seller]
    tracked_any = np.bincount(line_order, weights=~np.isnan(world.listing_stock[listing]), minlength=k) > 0
    w = np.stack(
        [np.where(tracked_any, 0.35, 0.10), 0.10 + 0.45 * q, 0.30 * (1 - q), 0.20 * (1 - q), np.full(k, 0.08)], axis=1
    )
    cancel_reason = CANCEL_REASONS[_choice_rows(rng, w)]
    cancelled_t = ot + rng.exponential(1.5, size=k)
    handling = world.handling[seller]
    ship_lag = np.where(late, handling + rng.gamma(*P.LATE_EXTRA_GAMMA, size=k), handling * (0.1 + 0.9 * rng.random(k)))
    shipped_t = ot + ship_lag
    delivered_t = shipped_t + 1.0 + rng.gamma(*P.TRANSIT_GAMMA, size=k)
    returned_t = delivered_t + rng.uniform(*P.RETURN_AFTER_DAYS, size=k)

    is_cancel = cancel & (cancelled_t <= T)
    nan = np.full(k, np.nan)
    shipped = np.where(~cancel & (shipped_t <= T), shipped_t, nan)
    delivered = np.where(~np.isnan(shipped) & (delivered_t <= T), delivered_t, nan)
    ret = np.where(~np.isnan(delivered) & returned & (returned_t <= T), returned_t, nan)
    status = np.full(k, "placed", dtype=object)
    status[~np.isnan(shipped)] = "shipped"
    status[~np.isnan(delivered)] = "delivered"
    status[~np.isnan(ret)] = "returned"
    status[is_cancel] = "cancelled"

    orders = pd.DataFrame(
        {
            "buyer_idx": ob + lo,
            "seller_idx": seller,
            "status": status,
            "total_cents": total,
            "t": ot,
            "ship_by": ship_by,
            "shipped": shipped,
            "delivered": delivered,
            "cancelled": np.where(is_cancel, cancelled_t, nan),
            "cancel_reason": np.where(is_cancel, cancel_reason, ""),
            "returned": ret,
            "late": late & ~cancel,
        }
    )
    lines = pd.DataFrame({"order_pos": line_order, "listing_idx": listing, "quantity": qty, "unit_cents": unit})

    # Returns.
    r = np.flatnonzero(~np.isnan(ret))
    rq = q[r]
    rw = np.stack(
        [
            0.15 + 0.2 * (1 - rq),
            0.10 + 0.4 * (1 - rq),
            0.05 + 0.5 * (1 - rq),
            np.where(late[r], 0.6, 0.02),
            np.full(len(r), 0.25),
            np.full(len(r), 0.05),
        ],
        axis=1,
    )
    reason = RETURN_REASONS[_choice_rows(rng, rw)]
    partial = rng.random(len(r)) < P.PARTIAL_REFUND_SHARE
    refund = np.where(partial, np.round(total[r] * rng.uniform(0.5, 0.9, size=len(r))), total[r]).astype("int64")
    returns = pd.DataFrame(
        {
            "order_pos": r,
            "reason": reason,
            "detail": [RETURN_DETAIL[x] for x in reason],
            "refund_cents": refund,
            "t": ret[r],
        }
    )

    # Reviews of delivered (and returned) orders.
    cool = _engagement_multiplier(ot, churn[ob])
    cand = np.flatnonzero(~np.isnan(delivered) & (rng.random(k) < P.REVIEW_SHARE * cool))
    rev_t = delivered[cand] + rng.exponential(P.REVIEW_DELAY_MEAN_DAYS, size=len(cand))
    keep = rev_t <= T
    cand, rev_t = cand[keep], rev_t[keep]
    # The verdict drawn with the fulfilment (it also drove the bad-experience hazard).
    score = score[cand]
    rating = np.clip(np.round(score), 1, 5).astype(int)
    text = _review_text(rng, rating=rating, late=late[cand], q=q[cand])
    edited = rng.random(len(cand)) < 0.05
    reviews = pd.DataFrame(
        {
            "order_pos": cand,
            "rating": rating,
            "text": text,
            "t": rev_t,
            "updated": np.minimum(rev_t + np.where(edited, rng.exponential(3.0, size=len(cand)), 0.0), T),
        }
    )

    # Engagement.
    events = []
    ai = np.maximum(joined, 0.0)
    span = np.maximum(stop - ai, 0.0)
    for kind, rate in (
        ("login", activity * P.BUYER_LOGINS_PER_CYCLE / cadence),
        ("story_share", activity * P.BUYER_STORY_PER_DAY),
        ("event_attendance", activity * P.BUYER_EVENT_PER_DAY),
    ):
        c = rng.poisson(rate * span)
        who = np.repeat(np.arange(n), c)
        et = np.repeat(ai, c) + rng.random(int(c.sum())) * np.repeat(span, c)
        # Thinning by the disengagement multiplier: rates fall as the buyer's churn nears.
        warm = rng.random(len(et)) < _engagement_multiplier(et, churn[who])
        who, et = who[warm], et[warm]
        if kind == "event_attendance":
            target = favs[who, 0]
            okt = world.active_at(target, et)
            events.append(_event_frame(buyer=who[okt] + lo, target=target[okt], kind=kind, t=et[okt]))
        else:
            events.append(_event_frame(buyer=who + lo, kind=kind, t=et))
    msg = np.flatnonzero(rng.random(k) < P.MESSAGE_PER_ORDER * cool)
    msg_t = ot[msg] + rng.random(len(msg)) * 3.0
    okm = msg_t <= np.minimum(stop[ob[msg]], T)
    msg, msg_t = msg[okm], msg_t[okm]
    events.append(_event_frame(buyer=ob[msg] + lo, target=seller[msg], kind="message", t=msg_t))
    mq = q[msg]
    minutes = np.maximum(
        1, np.round(rng.lognormal(np.log(P.REPLY_MEDIAN_MINUTES) + P.REPLY_Q_LOG * (1 - mq), P.REPLY_SIGMA))
    ).astype("int64")
    reply_t = msg_t + minutes / 1440.0
    replied = (
        (rng.random(len(msg)) < P.REPLY_BASE + P.REPLY_Q * mq) & (reply_t <= T) & (reply_t < world.churn[seller[msg]])
    )
    events.append(
        _event_frame(seller=seller[msg][replied], kind="message_reply", t=reply_t[replied], minutes=minutes[replied])
    )
    fol = rng.random(k) < (P.FOLLOW_BASE + P.FOLLOW_Q * q) * cool
    fol_t = ot + rng.random(k) * 7.0
    fol = fol & (fol_t <= np.minimum(stop[ob], T))
    pairs = pd.DataFrame({"b": ob[fol], "s": seller[fol], "t": fol_t[fol]}).drop_duplicates(["b", "s"], keep="first")
    events.append(
        _event_frame(
            buyer=pairs["b"].to_numpy() + lo,
            target=pairs["s"].to_numpy(),
            kind="follow_artisan",
            t=pairs["t"].to_numpy(),
        )
    )
    ev = pd.concat(events, ignore_index=True)

    ids = b_idx + 1
    first = FIRST_NAMES[rng.integers(len(FIRST_NAMES), size=n)]
    last = LAST_NAMES[rng.integers(len(LAST_NAMES), size=n)]
    ext = pd.Series(ids).map("B{:08d}".format).to_numpy(dtype=object)
    buyers = pd.DataFrame(
        {
            "id": ids,
            "external_id": ext,
            "name": (first + " " + last).astype(object),
            "email": pd.Series(ext).str.lower().add("@buyers.example").to_numpy(dtype=object),
            "joined_at": window.stamp(joined),
            "synthetic_cadence_days": np.round(cadence, 3),
            "synthetic_churned_at": window.stamp(churn),
        }
    )
    return {"buyers": buyers, "orders": orders, "lines": lines, "returns": returns, "reviews": reviews, "events": ev}


def _choice_rows(rng: np.random.Generator, w: np.ndarray) -> np.ndarray:
    """One categorical draw per row of unnormalised weights."""
    if len(w) == 0:
        return np.zeros(0, dtype=int)
    cum = np.cumsum(w, axis=1)
    u = rng.random(len(w)) * cum[:, -1]
    return np.minimum((cum < u[:, None]).sum(axis=1), w.shape[1] - 1)


def _review_text(rng: np.random.Generator, *, rating: np.ndarray, late: np.ndarray, q: np.ndarray) -> np.ndarray:
    n = len(rating)
    tone = np.where(rating >= 4, 2, np.where(rating == 3, 1, 0))
    ship_tone = np.where(late, 0, np.where(rating >= 4, 2, 1))
    comm_tone = np.where(q >= 0.65, np.minimum(tone + 1, 2), np.where(q < 0.4, np.maximum(tone - 1, 0), tone))
    pick = rng.integers(3, size=(n, 3))
    qual = np.array(QUALITY_TEXT, dtype=object)[tone, pick[:, 0]]
    ship = np.array(SHIPPING_TEXT, dtype=object)[ship_tone, pick[:, 1]]
    comm = np.array(COMMUNICATION_TEXT, dtype=object)[comm_tone, pick[:, 2]]
    with_comm = rng.random(n) < 0.5
    text = qual + " " + ship
    text = np.where(with_comm, text + " " + comm, text)
    text = np.where(rng.random(n) < P.EMPTY_TEXT_SHARE, "", text)
    return text.astype(object)
