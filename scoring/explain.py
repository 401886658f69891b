"""Reasons: each feature's signed contribution to a score, in plain words.

The seller-score estimator is a logistic model on standardised features, so each feature's
share of the log-odds is exact: coefficient x (value - training mean) / scale. Those shares
become score points by splitting the distance between the artisan's score and the reference
score (an artisan at the training mean of every feature) in proportion to them. The logistic
link is monotone, so that distance has the sign of the summed log-odds and every feature's
points keep the sign of its own term: a reason never points against its coefficient, and
training holds each coefficient to its declared direction. The points of all features add up
to the distance; what the top reasons leave out is shown as "other factors".
"""

from collections.abc import Mapping

import numpy as np

from core.formatting import plural

TOP_REASONS = 5
MIN_POINTS = 1


def linear_terms(estimator, features: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(weights per standardised feature, means, scales) of a scaled logistic pipeline.

    Versions trained before the plain pipeline were calibrated ensembles; their folds are averaged.
    """
    steps = getattr(estimator, "named_steps", None)
    if steps is not None:
        scaler, model = steps.get("scale"), steps.get("model")
        if scaler is None or model is None or not hasattr(model, "coef_") or len(model.coef_[0]) != len(features):
            return None
        return model.coef_[0], scaler.mean_, scaler.scale_
    coefs, means, scales = [], [], []
    for calibrated in getattr(estimator, "calibrated_classifiers_", []):
        pipeline = calibrated.estimator
        scaler, model = pipeline.named_steps.get("scale"), pipeline.named_steps.get("model")
        if scaler is None or model is None or not hasattr(model, "coef_"):
            return None
        coefs.append(model.coef_[0])
        means.append(scaler.mean_)
        scales.append(scaler.scale_)
    if not coefs or len(coefs[0]) != len(features):
        return None
    return np.mean(coefs, axis=0), np.mean(means, axis=0), np.mean(scales, axis=0)


def contributions(estimator, features: list[str], X: np.ndarray, prob: np.ndarray) -> np.ndarray:
    """Score points per feature (rows x features); rows sum to score - reference score."""
    terms = linear_terms(estimator, features)
    if terms is None:
        return np.zeros_like(X, dtype=float)
    coef, mean, scale = terms
    logit_parts = coef * (X - mean) / np.where(scale > 0, scale, 1.0)
    reference = estimator.predict_proba(mean.reshape(1, -1))[:, 1][0]
    delta_points = (prob - reference) * 100.0
    total = logit_parts.sum(axis=1, keepdims=True)
    safe_total = np.where(np.abs(total) < 1e-9, 1.0, total)
    points = logit_parts / safe_total * delta_points.reshape(-1, 1)
    return np.where(np.abs(total) < 1e-9, 0.0, points)


def _pct(value: float) -> str:
    return f"{value * 100:.0f}%"


def describe(feature: str, row: Mapping) -> str:
    """Plain words for one feature of one artisan, with the category comparison when there is one."""
    v = float(row.get(feature, 0.0))
    cat = lambda name: float(row.get(f"category_{name}", 0.0))  # noqa: E731
    if feature == "orders_vs_season_peers":
        return f"{int(row.get('orders_365', 0))} orders in the last 12 months ({'above' if v > 0 else 'below'} {'seasonal' if row.get('is_seasonal') else 'year-round'} artisans' usual)"
    if feature == "log_orders_365":
        return f"{int(row.get('orders_365', 0))} orders in the last 12 months"
    if feature == "repeat_sales_ratio":
        return f"repeat buyers {_pct(v)} of orders (category average {_pct(cat('repeat_sales_ratio'))})"
    if feature == "rating_mean":
        return f"average rating {v:.1f} stars (category average {cat('rating_mean'):.1f})"
    if feature == "rating_var":
        return f"ratings {'vary widely' if v > 1.0 else 'are consistent'} (variance {v:.2f})"
    if feature == "sentiment_mean":
        mood = "warm" if v > 0.5 else "cool" if v < 0 else "mixed"
        return f"review tone {mood} (average {v:+.2f} positive minus negative phrases per review)"
    if feature == "communication_tone":
        mood = "praise" if v > 0.1 else "fault" if v < -0.1 else "rarely mention"
        return f"reviews {mood} how the artisan communicates ({v:+.2f} per review)"
    if feature == "communication_beyond_verdict":
        if abs(v) < 0.1:
            return "buyers rate the artisan's communication as they rate the pieces"
        return f"buyers rate the artisan's communication {'above' if v > 0 else 'below'} their verdict on the pieces ({v:+.2f} levels)"
    if feature == "login_rate_365":
        return f"about {np.expm1(v):.0f} logins a month over the last year"
    if feature == "listing_update_rate_365":
        return f"about {np.expm1(v):.0f} listing updates a month over the last year"
    if feature == "lead_time_sd_days":
        return f"ship dates {'swing widely' if v > 3 else 'are consistent'} (spread {v:.1f} days)"
    if feature == "listing_count":
        return f"{plural(int(v), 'listing')} on the shop"
    if feature == "log_listing_price":
        return f"listings average {np.expm1(v):.0f} in price"
    if feature == "sentiment_var":
        return f"review tone {'is mixed' if v > 0.8 else 'is consistent'} (variance {v:.2f})"
    if feature == "late_rate":
        return f"late shipments {_pct(v)} of orders (category average {_pct(cat('late_rate'))})"
    if feature == "lead_time_dev_days":
        # Compared with the category, so a negative reason for an artisan who ships early reads as
        # "less early than its peers" rather than as a contradiction.
        def when(days):
            return f"{abs(days):.1f} days {'after' if days > 0 else 'before'}"

        return f"ships {when(v)} the promised date on average (category average {when(cat('lead_time_dev_days'))})"
    if feature == "cancel_rate":
        return f"cancellations {_pct(v)} of orders (category average {_pct(cat('cancel_rate'))})"
    if feature == "return_rate":
        return f"returns {_pct(v)} of orders (category average {_pct(cat('return_rate'))})"
    if feature == "reply_rate":
        return f"answers {_pct(v)} of buyer messages (category average {_pct(cat('reply_rate'))})"
    if feature == "log_response_minutes":
        return f"typically replies in about {np.expm1(v):.0f} minutes (category typical {cat('response_minutes'):.0f})"
    if feature == "seasonal_activity_ratio":
        ratio = np.exp(v)
        if abs(ratio - 1) < 0.1:
            return "recent sales in line with its own season"
        return f"recent sales {abs(ratio - 1) * 100:.0f}% {'above' if ratio > 1 else 'below'} what its own season predicts"
    if feature == "log_logins_30":
        return f"{np.expm1(v):.0f} logins in the last 30 days"
    if feature == "login_trend":
        return f"activity {'rising' if v > 0.1 else 'falling' if v < -0.1 else 'steady'} over the last month"
    if feature == "log_logins_90":
        return f"{np.expm1(v):.0f} logins in the last 90 days"
    if feature == "log_listing_updates_90":
        return f"{np.expm1(v):.0f} listing updates in the last 90 days"
    if feature == "inventory_issues":
        return f"{plural(int(v), 'inventory problem')}: stock data inconsistent or out-of-stock cancellations"
    if feature == "log_tenure_days":
        return f"{np.expm1(v):.0f} days on the marketplace"
    if feature == "years_experience":
        return f"{plural(int(v), 'year')} of craft experience (application)"
    if feature == "has_portfolio":
        return "portfolio provided with the application" if v else "no portfolio provided with the application"
    if feature == "has_history":
        return "has a sales history" if v else "no sales history yet: category averages used"
    if feature.startswith("category_"):
        label = {
            "category_late_rate": "late shipments",
            "category_cancel_rate": "cancellations",
            "category_return_rate": "returns",
        }.get(feature)
        if label:
            return f"craft category averages {_pct(v)} {label}"
        if feature == "category_rating_mean":
            return f"craft category averages {v:.1f} stars"
    if feature == "flagged_feedback_count":
        return f"{plural(int(v), 'flagged feedback point')} in the last year"
    if feature == "buyer_trust":
        mood = "positive" if v > 0.1 else "negative" if v < -0.1 else "neutral"
        return f"buyer feedback sentiment {mood} ({v:+.2f})"
    return feature.replace("_", " ")


OTHER_FACTORS = "__other__"


def reasons_for(row: Mapping, points: np.ndarray, features: list[str], top: int = TOP_REASONS) -> list[dict]:
    """The largest factors in plain words, plus "other factors" for what they leave out.

    The shown points and the reference score add up to the score (to within rounding).
    """
    order = np.argsort(-np.abs(points))
    reasons = []
    for index in order[:top]:
        value = int(round(float(points[index])))
        if abs(value) < MIN_POINTS:
            continue
        reasons.append({"feature": features[index], "text": describe(features[index], row), "contribution": value})
    remainder = int(round(float(points.sum()) - sum(r["contribution"] for r in reasons)))
    if abs(remainder) >= MIN_POINTS:
        reasons.append({"feature": OTHER_FACTORS, "text": "other factors", "contribution": remainder})
    return reasons
