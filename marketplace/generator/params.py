"""Parameters of the synthetic marketplace. docs/generator.md documents every one of them.

Scoring models are judged against this generating process, so change a number here only together
with the docs.
"""

from sellers.models import CraftCategory

DAY_SECONDS = 86_400.0
MONTH_DAYS = 30.44

# Buyers are generated in fixed-size chunks so memory stays bounded. The chunk size is part of the
# random stream layout: changing it changes the rows a seed produces.
BUYER_CHUNK = 40_000
SELLER_CHUNK = 10_000

# Category mix of non-seasonal artisans (seasonal artisans are drawn separately below).
CATEGORY_WEIGHTS = {
    CraftCategory.JEWELRY: 0.22,
    CraftCategory.HOME_DECOR: 0.18,
    CraftCategory.CERAMICS: 0.17,
    CraftCategory.TEXTILES: 0.15,
    CraftCategory.WOODWORK: 0.12,
    CraftCategory.PAPER_GOODS: 0.12,
    CraftCategory.SEASONAL_ORNAMENTS: 0.04,
}
SEASONAL_SHARE = 0.15
# A seasonal artisan makes seasonal ornaments with this probability, otherwise another category.
SEASONAL_ORNAMENT_SHARE = 0.70

# Listing prices: log-normal around the median (sigma 0.55), clipped to [low, high]. In currency units.
PRICE_RANGES = {
    CraftCategory.JEWELRY: (12.0, 45.0, 250.0),
    CraftCategory.HOME_DECOR: (15.0, 60.0, 300.0),
    CraftCategory.CERAMICS: (12.0, 42.0, 220.0),
    CraftCategory.SEASONAL_ORNAMENTS: (5.0, 16.0, 60.0),
    CraftCategory.TEXTILES: (10.0, 50.0, 260.0),
    CraftCategory.WOODWORK: (20.0, 85.0, 400.0),
    CraftCategory.PAPER_GOODS: (3.0, 11.0, 45.0),
}
PRICE_SIGMA = 0.55

# Latent artisan quality q ~ Beta(a, b).
QUALITY_BETA = (4.0, 2.5)
# Popularity (demand independent of q) ~ LogNormal(0, sigma).
POPULARITY_SIGMA = 0.7

# Monthly sales multiplier of seasonal artisans, January..December (mean 1 over a year).
_SEASONAL_RAW = [0.6, 0.4, 0.3, 0.15, 0.12, 0.15, 0.3, 0.4, 0.8, 2.5, 4.0, 4.5]
SEASONAL_MONTHLY = [m * 12 / sum(_SEASONAL_RAW) for m in _SEASONAL_RAW]

# Onboarding.
PRE_WINDOW_APPLIED_SHARE = 0.65  # applied in the 730 days before the window, else inside it
PRE_WINDOW_DAYS = 730.0
NEWEST_APPLIED_SHARE = 0.03  # newest applicants stay "applied" with no history
APPROVAL_GAMMA = (2.0, 2.5)  # approved_at - applied_at in days ~ Gamma(shape, scale): mean 5
ONBOARD_UNIFORM_DAYS = 3.0  # onboarded_at - approved_at ~ U(0, 3) days
LISTING_READY_DAYS = 2.0  # listings are created within 2 days of onboarding; sales start after
REJECT_BASE = 0.12  # P(rejected) = 0.12 * (1 - q)^2

# Seller churn: inactive_at = max(listings ready, window start) + Exponential(1 / rate) months.
SELLER_CHURN_BASE = 0.004
SELLER_CHURN_Q = 0.25  # rate per month = 0.004 + 0.25 * (1 - q)^3

# Listings per seller = 2 + Poisson(4).
LISTINGS_EXTRA_POISSON = 4.0
MADE_TO_ORDER_SHARE = 0.25  # stock_quantity NULL
STOCK_POISSON = 5.0
SOLD_OUT_SHARE = 0.08  # tracked listings forced to stock 0
STALE_STOCK_SHARE = 0.10  # tracked listings whose stock_updated_at is 91-365 days old
SEASONAL_LISTING_SHARE = 0.80  # of a seasonal artisan's listings; 0.03 for the others
OTHER_SEASONAL_LISTING_SHARE = 0.03

# Buyers.
PRE_WINDOW_JOINED_SHARE = 0.50  # joined in the 365 days before the window, else inside it
CADENCE_MIX = ((0.55, 60.0), (0.45, 100.0))  # (share, mean days)
CADENCE_SHAPE = 16.0  # per-buyer cadence ~ Gamma(16, mean / 16): sd = mean / 4
GAP_SHAPE = 4.0  # each inter-purchase gap ~ Gamma(4, cadence / 4)
FIRST_ORDER_MEAN_DAYS = 7.0  # first order = joined_at + Exponential(7 days)
BUYER_LIFETIME_MEAN_DAYS = 450.0  # churned_at = max(joined_at, start) + Exponential(450 days)
FAVOURITE_SHARE_BETA = (3.0, 2.0)  # per-buyer share of orders sent to a favourite artisan
FAVOURITE_SPLIT = 0.8  # of favourite orders go to the first favourite, the rest to the second

# Demand weight of an artisan: popularity * (0.4 + q) * seasonal multiplier (when seasonal).
DEMAND_Q_OFFSET = 0.4

# Order lines.
LINES_P = (0.65, 0.25, 0.10)  # 1, 2 or 3 lines (capped at the artisan's listing count)
QUANTITY_P = (0.85, 0.12, 0.03)  # 1, 2 or 3 units per line
HANDLING_DAYS = ((2.0, 0.3), (3.0, 0.5), (5.0, 0.2))  # promised handling time per artisan

# Fulfilment driven by q.
CANCEL_BASE, CANCEL_Q = 0.01, 0.08  # P(cancel) = 0.01 + 0.08 (1-q)^2
LATE_BASE, LATE_Q = 0.02, 0.35  # P(late) = 0.02 + 0.35 (1-q)^2
LATE_EXTRA_GAMMA = (2.0, 1.5)  # days past ship_by ~ Gamma(2, 1.5)
TRANSIT_GAMMA = (3.0, 1.2)  # delivered - shipped = 1 + Gamma(3, 1.2) days
RETURN_BASE, RETURN_Q, RETURN_LATE = 0.01, 0.10, 0.03  # P(return) = 0.01 + 0.10 (1-q)^2 + 0.03 late
RETURN_AFTER_DAYS = (2.0, 20.0)  # returned_at - delivered_at ~ U(2, 20)
PARTIAL_REFUND_SHARE = 0.2  # refund 50-90 % instead of the full amount

# Reviews.
REVIEW_SHARE = 0.30  # of delivered orders (and of returned orders)
REVIEW_DELAY_MEAN_DAYS = 4.0
RATING_INTERCEPT, RATING_Q, RATING_NOISE = 0.8, 4.6, 0.7
RATING_LATE, RATING_RETURNED = 1.0, 1.5
RATING_SELLER_BIAS = 0.35  # per-artisan leniency of its reviewers ~ Normal(0, 0.35)
EMPTY_TEXT_SHARE = 0.10

# Engagement.
BUYER_ACTIVITY_GAMMA = (2.0, 0.5)  # per-buyer activity a ~ Gamma(2, 0.5), mean 1
BUYER_LOGINS_PER_CYCLE = 3.0  # login rate per day = a * 3 / cadence (about three visits per purchase cycle)
BUYER_STORY_PER_DAY = 0.004  # * a
BUYER_EVENT_PER_DAY = 0.002  # * a, target = first favourite
MESSAGE_PER_ORDER = 0.20
REPLY_BASE, REPLY_Q = 0.55, 0.45  # P(reply) = 0.55 + 0.45 q
REPLY_MEDIAN_MINUTES, REPLY_Q_LOG, REPLY_SIGMA = 45.0, 2.2, 0.8  # LogNormal(log 45 + 2.2 (1-q), 0.8)
FOLLOW_BASE, FOLLOW_Q = 0.08, 0.12  # P(follow after an order) = 0.08 + 0.12 q, once per pair
SELLER_LOGIN_BASE, SELLER_LOGIN_Q = 0.03, 0.12  # per day
LISTING_UPDATE_BASE, LISTING_UPDATE_Q = 0.01, 0.06  # per day

# Consumables (candles, soap, tea ...): a share of the listings of these categories, re-bought.
# Drawn after every other seller-side draw, so artisans and their listings keep their values.
CONSUMABLE_ITEMS = ["soy candle", "beeswax candle", "bar soap", "loose-leaf tea", "bath salts", "lip balm"]
CONSUMABLE_CATEGORY_SHARE = {
    CraftCategory.HOME_DECOR: 0.35,
    CraftCategory.CERAMICS: 0.15,
    CraftCategory.TEXTILES: 0.10,
    CraftCategory.PAPER_GOODS: 0.15,
}
# After a buyer's first consumable, each later order re-buys it (one line, same listing, from
# the same artisan while it sells) with this probability.
REPURCHASE_P = 0.35

# Buyer purchase styles. Regular buyers keep GAP_SHAPE (Erlang-4 gaps, CV 0.5); erratic buyers
# have exponential gaps (CV 1) around the same cadence; seasonal buyers are regular but keep an
# order outside October-December only with SEASONAL_BUYER_OFF_KEEP.
ERRATIC_SHARE = 0.30
ERRATIC_GAP_SHAPE = 1.0
SEASONAL_BUYER_SHARE = 0.10
SEASONAL_BUYER_MONTHS = (9, 10, 11)  # October, November, December (0-based)
SEASONAL_BUYER_OFF_KEEP = 0.15

# Service failures raise the hazard: after a late, cancelled or returned order, or one the buyer
# would rate <= DETRACTOR_SCORE, the buyer quits with BAD_ORDER_CHURN_P, BAD_ORDER_REACTION_DAYS
# plus Exponential(BAD_ORDER_CHURN_DELAY_MEAN_DAYS) after placing it (if that is before the
# lifetime drawn above).
DETRACTOR_SCORE = 2.5
BAD_ORDER_CHURN_P = 0.30
BAD_ORDER_REACTION_DAYS = 10.0
BAD_ORDER_CHURN_DELAY_MEAN_DAYS = 20.0

# Disengagement before churn: every buyer engagement rate (logins, story shares, event attendance,
# messages, follows, reviews) is multiplied by
#   DISENGAGE_FLOOR + (1 - DISENGAGE_FLOOR) * clip((churned_at - t) / DISENGAGE_DAYS, 0, 1),
# so it falls linearly to DISENGAGE_FLOOR over the DISENGAGE_DAYS before the buyer churns
# (also when churned_at is after the window end: buyers about to leave are visibly cooling).
DISENGAGE_DAYS = 180.0
DISENGAGE_FLOOR = 0.05
