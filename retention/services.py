"""Retention recompute: customer-base fits, per-buyer scoring, cadence and segments.

The recompute is split so Celery can run it in bounded pieces:
  1. ``lifetime_fits_run`` fits BG/NBD and Gamma-Gamma once on every buyer's summary;
  2. ``buyer_retention_score_range`` scores one id range of buyers with the active fits
     (one fixed set of queries per range, bulk upsert), so ranges can run in parallel;
  3. recommendations and interventions run after (retention.recommendations, retention.interventions).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone as dt_timezone
from decimal import Decimal

import numpy as np
import pandas as pd
from django.db import connection, transaction
from threadpoolctl import threadpool_limits
from django.db.models import Max, Min
from django.utils import timezone

from buyers import lifetime
from retention.features import CHURN_FEATURES, churn_feature_frame, order_frame
from buyers.models import (
    Buyer,
    BuyerRetention,
    BuyerSegmentChange,
    CadenceState,
    ChurnBand,
    FitKind,
    FitStatus,
    LifetimeFit,
    RetentionSettings,
    Segment,
)
from buyers.selectors import retention_settings_get
from core import formatting, pgbinary
from core.bulk import copy_rows, json_text, staging_table

logger = logging.getLogger(__name__)

WEEK_DAYS = 7.0
EXPECTED_PURCHASES_DAYS = 90
# Scoring a range of 20,000 buyers takes ~8 queries and about a second of pandas on the
# bench machine; small enough for a Celery soft time limit, big enough to amortise queries.
CHUNK_SIZE = 20000
# Production fits are the plain maximum-likelihood estimates (penalty 0 on the log-parameters;
# tests/retention/test_lifetime_models.py checks this configuration reproduces CDNOW). A small
# or homogeneous base may push a and b of the dropout mixture to their bound together; that
# limit ("everyone has the same dropout probability") is a valid model, not a failure.
FIT_PENALIZER = 0.0
# The last HOLDOUT_DAYS of history (at most a third of it) judge the candidate purchase models.
HOLDOUT_DAYS = 182
MIN_HOLDOUT_DAYS = 28
# Below these counts no model is fitted and the documented rule scores buyers (docs/retention.md).
MIN_BUYERS_TO_FIT = 20
MIN_REPEAT_BUYERS_TO_FIT = 5
RULE_LABEL = "rule (too few buyers to fit a model)"
# Used when nobody in the marketplace has bought twice yet.
DEFAULT_CADENCE_DAYS = 60.0
CHURN_MODEL_KIND = "buyer_churn"


@dataclass(frozen=True)
class FitOutcome:
    bgnbd: LifetimeFit
    gamma_gamma: LifetimeFit


def _store_fit(
    *, kind: str, result: lifetime.FitResult, observation_end: datetime, extra: dict, model: str = "", evaluation: dict | None = None
) -> LifetimeFit:
    """Record a fit; a converged one replaces the active fit, a failed one leaves it in place."""
    params = {k: (v if not isinstance(v, float) or np.isfinite(v) else None) for k, v in result.params.items()} | extra
    ll = result.log_likelihood if np.isfinite(result.log_likelihood) else None
    fields = dict(
        kind=kind,
        model=model,
        params=params,
        log_likelihood=ll,
        n_buyers=result.n,
        message=result.message[:2000],
        observation_end=observation_end,
        evaluation=evaluation or {},
    )
    with transaction.atomic():
        if not result.converged:
            logger.warning("%s fit did not converge: %s", kind, result.message)
            return LifetimeFit.objects.create(status=FitStatus.FAILED, **fields)
        # Lock the active row so two recomputes cannot both retire it and leave two active fits.
        LifetimeFit.objects.select_for_update().filter(kind=kind, status=FitStatus.ACTIVE).update(
            status=FitStatus.SUPERSEDED
        )
        return LifetimeFit.objects.create(status=FitStatus.ACTIVE, **fields)


def buyer_summary_frame(*, as_of: datetime, id_range=None, orders: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per buyer with a purchase: BG/NBD summary (weeks), spend, top artisan and cadence."""
    orders = order_frame(as_of=as_of, id_range=id_range) if orders is None else orders
    columns = [
        "frequency", "recency", "T", "monetary", "litt", "order_count", "total_spend", "first_at", "last_at",
        "top_seller_id", "cadence_days", "gap_count",
    ]
    if orders.empty:
        return pd.DataFrame(columns=columns, index=pd.Index([], name="buyer_id"))
    end = pd.Timestamp(as_of).tz_convert("UTC").tz_localize(None) if pd.Timestamp(as_of).tzinfo else pd.Timestamp(as_of)
    summary = lifetime.rfm_summary(
        orders, customer_col="buyer_id", datetime_col="placed_at", observation_end=end, monetary_col="amount"
    )
    # T runs to the moment of the recompute rather than midnight, so a buyer's age keeps
    # growing through the day: use the exact time for T.
    grouped = orders.groupby("buyer_id")
    first = grouped["placed_at"].min()
    summary["T"] = ((end - first.dt.normalize()).dt.total_seconds() / 86400 / WEEK_DAYS).clip(lower=summary["recency"])
    summary["order_count"] = grouped.size()
    summary["total_spend"] = grouped["amount"].sum()
    summary["first_at"] = first
    summary["last_at"] = grouped["placed_at"].max()
    # Top artisan: most orders, then most spend, then lowest id (deterministic).
    per_seller = orders.groupby(["buyer_id", "seller_id"]).agg(n=("amount", "size"), spend=("amount", "sum")).reset_index()
    per_seller = per_seller.sort_values(["buyer_id", "n", "spend", "seller_id"], ascending=[True, False, False, True])
    summary["top_seller_id"] = per_seller.drop_duplicates("buyer_id").set_index("buyer_id")["seller_id"]
    # Cadence: median gap between distinct purchase days.
    days = orders.assign(day=orders["placed_at"].dt.normalize())[["buyer_id", "day"]].drop_duplicates()
    days = days.sort_values(["buyer_id", "day"])
    gaps = days.groupby("buyer_id")["day"].diff().dt.total_seconds() / 86400
    gap_frame = pd.DataFrame({"buyer_id": days["buyer_id"], "gap": gaps}).dropna()
    summary["cadence_days"] = gap_frame.groupby("buyer_id")["gap"].median()
    summary["gap_count"] = gap_frame.groupby("buyer_id")["gap"].size()
    summary["gap_count"] = summary["gap_count"].fillna(0).astype(int)
    return summary


def purchase_fit(summary: pd.DataFrame, model: str) -> lifetime.FitResult:
    """A purchase-count model fitted with the production configuration."""
    return lifetime.purchase_model_fit(model, summary, penalizer=FIT_PENALIZER)


def spend_fit(summary: pd.DataFrame) -> lifetime.FitResult:
    """Gamma-Gamma fitted with the production configuration."""
    return lifetime.gamma_gamma_fit(summary["frequency"], summary["monetary"], penalizer=FIT_PENALIZER)


def _too_small(summary: pd.DataFrame) -> str | None:
    buyers, repeaters = len(summary), int((summary["frequency"] > 0).sum()) if len(summary) else 0
    if buyers < MIN_BUYERS_TO_FIT or repeaters < MIN_REPEAT_BUYERS_TO_FIT:
        return (
            f"Too few buyers to fit: {buyers} with a purchase and {repeaters} with a repeat purchase "
            f"(need {MIN_BUYERS_TO_FIT} and {MIN_REPEAT_BUYERS_TO_FIT}); buyers are scored by the cadence rule."
        )
    return None


def _holdout_evaluation(orders: pd.DataFrame, *, as_of: datetime) -> dict:
    """Judge the candidate purchase models on the most recent HOLDOUT_DAYS (at most a third of history)."""
    end = _naive_utc(as_of)
    span_days = (end - orders["placed_at"].min()).days
    holdout_days = min(HOLDOUT_DAYS, span_days // 3)
    if holdout_days < MIN_HOLDOUT_DAYS:
        return {"skipped": f"history of {span_days} days is too short for a {MIN_HOLDOUT_DAYS}-day holdout"}
    calibration_end = end.normalize() - pd.Timedelta(days=holdout_days)
    calibration = orders[orders["placed_at"] < calibration_end + pd.Timedelta(days=1)]
    if _too_small(lifetime.rfm_summary(calibration, customer_col="buyer_id", datetime_col="placed_at", observation_end=calibration_end)):
        return {"skipped": "too few buyers in the calibration period"}
    return lifetime.holdout_evaluate(
        orders, customer_col="buyer_id", datetime_col="placed_at", monetary_col="amount",
        calibration_end=calibration_end, observation_end=end, penalizer=FIT_PENALIZER,
    )


def _naive_utc(moment) -> pd.Timestamp:
    stamp = pd.Timestamp(moment)
    return stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo else stamp


def lifetime_fits_run(*, as_of: datetime | None = None) -> FitOutcome:
    """Choose the purchase model by held-out error, fit it and Gamma-Gamma on all buyers as of ``as_of``.

    A fit that fails (or a base too small to fit) is recorded as failed with the reason, and the
    previous active fit stays in use; with none, buyers are scored by the documented rule.
    """
    as_of = as_of or timezone.now()
    orders = order_frame(as_of=as_of)
    summary = buyer_summary_frame(as_of=as_of, orders=orders)
    cadence_median = float(summary["cadence_days"].median()) if summary["cadence_days"].notna().any() else DEFAULT_CADENCE_DAYS
    extra_bg = {"cadence_median_days": cadence_median, "unit": "weeks"}
    extra_gg = {"mean_order_value": float(summary["total_spend"].sum() / max(summary["order_count"].sum(), 1))}
    too_small = _too_small(summary)
    if too_small:
        failed = lifetime.FitResult({}, float("nan"), False, too_small, len(summary))
        return FitOutcome(
            bgnbd=_store_fit(kind=FitKind.BGNBD, result=failed, observation_end=as_of, extra=extra_bg, model="rule"),
            gamma_gamma=_store_fit(kind=FitKind.GAMMA_GAMMA, result=failed, observation_end=as_of, extra=extra_gg),
        )
    evaluation = _holdout_evaluation(orders, as_of=as_of)
    # Without a holdout to judge by, MBG/NBD: unlike BG/NBD it does not call one-time buyers surely alive.
    chosen = evaluation.get("chosen") or lifetime.MBGNBD
    purchases = purchase_fit(summary, chosen)
    gamma = spend_fit(summary)
    spend_evaluation = {"clv": evaluation["clv"]} if "clv" in evaluation else {}
    return FitOutcome(
        bgnbd=_store_fit(kind=FitKind.BGNBD, result=purchases, observation_end=as_of, extra=extra_bg, model=chosen, evaluation=evaluation),
        gamma_gamma=_store_fit(kind=FitKind.GAMMA_GAMMA, result=gamma, observation_end=as_of, extra=extra_gg, model="gamma_gamma", evaluation=spend_evaluation),
    )


def p_alive_at(*, as_of: datetime) -> pd.Series:
    """P(alive) per buyer at a past date, from the active purchase model refitted on data up to then.

    The churn classifier trains on features at a past date; its P(alive) feature must come from
    the same model as production scoring uses, but without looking past that date.
    """
    summary = buyer_summary_frame(as_of=as_of)
    if not len(summary) or _too_small(summary):
        return pd.Series(1.0, index=summary.index)
    active = _active_fit(FitKind.BGNBD)
    model = active.model if active and active.model in lifetime.PURCHASE_MODELS else lifetime.MBGNBD
    k = int((active.params or {}).get("k", 1)) if active else 1
    x, t_x, T = summary["frequency"], summary["recency"], summary["T"]
    if model == lifetime.BGNBD:
        fit = lifetime.bgnbd_fit(x, t_x, T, penalizer=FIT_PENALIZER)
    else:
        fit = lifetime.mbgcnbd_fit(x, t_x, T, summary["litt"], k=k, penalizer=FIT_PENALIZER)
    if not fit.converged:
        return pd.Series(1.0, index=summary.index)
    params = {**fit.params, "model": model, "k": k}
    return pd.Series(lifetime.purchase_probability_alive(params, x, t_x, T), index=summary.index)


def _active_fit(kind: str) -> LifetimeFit | None:
    return LifetimeFit.objects.filter(kind=kind, status=FitStatus.ACTIVE).first()


def _load_churn_model():
    try:
        from scoring.registry import model_load_active
    except ImportError:  # pragma: no cover - scoring ships with Kiln
        return None, None
    try:
        return model_load_active(kind=CHURN_MODEL_KIND)
    except Exception:  # noqa: BLE001 - a broken artifact must not stop the recompute; 1 - P(alive) is used
        logger.exception("Could not load the active buyer churn model; falling back to 1 - P(alive).")
        return None, None


def churn_band_for(probability: np.ndarray, settings: RetentionSettings) -> np.ndarray:
    return np.where(
        probability >= settings.churn_band_high_from,
        ChurnBand.HIGH.value,
        np.where(probability >= settings.churn_band_medium_from, ChurnBand.MEDIUM.value, ChurnBand.LOW.value),
    )


def segment_assign(frame: pd.DataFrame, settings: RetentionSettings) -> tuple[np.ndarray, list[list[str]]]:
    """Segment per buyer by the documented rules (docs/retention.md), first match wins.

    Expects columns order_count, days_since_first, days_since_last, p_alive, cadence_state, clv.
    """
    n = len(frame)
    order_count = frame["order_count"].to_numpy(dtype=float)
    since_first = frame["days_since_first"].to_numpy(dtype=float)
    since_last = frame["days_since_last"].to_numpy(dtype=float)
    p_alive = frame["p_alive"].to_numpy(dtype=float)
    overdue = frame["cadence_state"].to_numpy() == CadenceState.OVERDUE
    clv = frame["clv"].to_numpy(dtype=float)
    min_clv = float(settings.high_value_min_clv)

    is_new = (order_count == 0) | (since_first <= settings.new_buyer_days)
    is_churned = ~is_new & ((since_last > settings.churned_after_days) | (p_alive < settings.churned_p_alive_below))
    is_lapsing = ~is_new & ~is_churned & (overdue | (p_alive < settings.lapsing_p_alive_below))
    is_high = ~is_new & ~is_churned & ~is_lapsing & ((order_count >= settings.high_value_min_orders) | (clv >= min_clv))
    segment = np.select(
        [is_new, is_churned, is_lapsing, is_high],
        [Segment.NEW.value, Segment.CHURNED.value, Segment.LAPSING.value, Segment.HIGH_VALUE.value],
        default=Segment.POTENTIAL.value,
    )
    reasons: list[list[str]] = []
    for i in range(n):
        # Building the explanation strings is per row by nature; the decisions above are vectorised.
        if order_count[i] == 0:
            why = ["No purchase yet."]
        elif is_new[i]:
            why = [f"First purchase {since_first[i]:.0f} days ago (new for {settings.new_buyer_days} days)."]
        elif is_churned[i]:
            why = [f"No purchase for {since_last[i]:.0f} days; P(alive) {formatting.percent(p_alive[i])}."]
        elif is_lapsing[i]:
            why = [f"Past the expected next-purchase window; P(alive) {formatting.percent(p_alive[i])}."] if overdue[i] else [
                f"P(alive) {formatting.percent(p_alive[i])} below {formatting.percent(settings.lapsing_p_alive_below)}."
            ]
        elif is_high[i]:
            why = [f"{formatting.plural(int(order_count[i]), 'order')}, 12-month CLV {formatting.money(clv[i])}."]
        else:
            why = [f"{formatting.plural(int(order_count[i]), 'order')}, still active (P(alive) {formatting.percent(p_alive[i])}); room to grow."]
        reasons.append(why)
    return segment, reasons


@dataclass(frozen=True)
class LifetimeScores:
    p_alive: np.ndarray
    expected_90: np.ndarray
    expected_value: np.ndarray
    clv: np.ndarray
    label: str


def _usable(fit: LifetimeFit | None, names) -> bool:
    return fit is not None and all(fit.params.get(k) is not None for k in names)


def lifetime_scores(
    *, purchase_fit, spend_fit, settings, x, t_x, T, monetary, has_orders, cadence, since_last, own_value
) -> LifetimeScores:
    """P(alive), expected purchases in 90 days, expected order value and CLV per buyer.

    With an active purchase fit, its model (BG/NBD or MBG/CNBD-k, see the fit's ``model``) and the
    active Gamma-Gamma fit. Without one (a marketplace too small to fit), the cadence rule of
    docs/retention.md: P(alive) is 1 until the buyer's next-purchase window closes and then falls
    e-fold per further cadence; expected purchases are P(alive) x days / cadence; the order value
    is the buyer's own average.
    """
    monthly_rate = (1 + settings.annual_discount_rate) ** (1 / 12) - 1
    if _usable(purchase_fit, lifetime.BGNBD_PARAMS):
        params = purchase_fit.params
        label = f"{lifetime.model_label(params)} (fit #{purchase_fit.pk})"
        p_alive = lifetime.purchase_probability_alive(params, x, t_x, T)
        # The 90-day expectation and the CLV's monthly ones in one pass: MBG/CNBD-k shares the
        # costly terms across horizons, and asking twice cost a sixth of a retention chunk.
        horizons = [EXPECTED_PURCHASES_DAYS / WEEK_DAYS, *lifetime.clv_horizons(settings.clv_horizon_months, 52 / 12)]
        expected_90, *cumulatives = lifetime.purchase_expected_horizons(params, horizons, x, t_x, T)
        if _usable(spend_fit, lifetime.GAMMA_GAMMA_PARAMS):
            expected_value = lifetime.gamma_gamma_expected_value(spend_fit.params, x, monetary)
        else:
            expected_value = own_value
        clv = lifetime.lifetime_value_of(
            cumulatives, np.nan_to_num(expected_value, nan=0.0, posinf=0.0), discount_rate_per_period=monthly_rate
        )
    else:
        label = RULE_LABEL
        window_end = cadence * (1 + settings.cadence_tolerance)
        p_alive = np.exp(-np.maximum(since_last - window_end, 0.0) / cadence)
        expected_90 = p_alive * EXPECTED_PURCHASES_DAYS / cadence
        expected_value = own_value
        months = np.arange(1, settings.clv_horizon_months + 1)
        discount = ((1 + monthly_rate) ** -months).sum()
        clv = p_alive * (365.25 / 12) / cadence * own_value * discount
    p_alive = np.where(has_orders, np.clip(np.nan_to_num(p_alive, nan=1.0), 0.0, 1.0), 1.0)
    expected_90 = np.where(has_orders, np.nan_to_num(expected_90, nan=0.0), 0.0)
    clv = np.where(has_orders, np.nan_to_num(clv, nan=0.0), 0.0)
    return LifetimeScores(p_alive, expected_90, np.nan_to_num(expected_value, nan=0.0, posinf=0.0), clv, label)


def buyer_retention_score_range(*, start_id: int, end_id: int, as_of: datetime | None = None) -> int:
    """Score buyers with start_id <= id < end_id and upsert their retention rows. Returns rows written.

    Idempotent: the same as_of and data give the same rows, and the segment history
    only grows when a segment actually changes.
    """
    as_of = as_of or timezone.now()
    settings = retention_settings_get()
    id_range = (start_id, end_id)
    buyers = pd.DataFrame.from_records(
        Buyer.objects.filter(pk__gte=start_id, pk__lt=end_id).values_list("pk").order_by(), columns=["buyer_id"]
    ).set_index("buyer_id")
    if not len(buyers.index):
        return 0
    summary = buyer_summary_frame(as_of=as_of, id_range=id_range)
    frame = buyers.join(summary, how="left")
    has_orders = frame["order_count"].fillna(0).to_numpy() > 0
    x = frame["frequency"].fillna(0).to_numpy(dtype=float)
    t_x = frame["recency"].fillna(0).to_numpy(dtype=float)
    T = frame["T"].fillna(0).to_numpy(dtype=float)
    monetary = frame["monetary"].fillna(0).to_numpy(dtype=float)

    purchase_fit_row = _active_fit(FitKind.BGNBD)
    spend_fit_row = _active_fit(FitKind.GAMMA_GAMMA)
    latest = purchase_fit_row or LifetimeFit.objects.filter(kind=FitKind.BGNBD).first()

    # Cadence and the next-purchase window.
    population_cadence = float(((latest.params if latest else {}) or {}).get("cadence_median_days") or DEFAULT_CADENCE_DAYS)
    own_cadence = frame["cadence_days"].to_numpy(dtype=float)
    estimated = has_orders & ~np.isfinite(own_cadence)
    cadence = np.where(np.isfinite(own_cadence), own_cadence, population_cadence)
    cadence = np.maximum(cadence, 1.0)
    now = _naive_utc(as_of)
    # cache=False: given datetimes, pandas' cache check walks a tenth of them as Timestamp objects.
    last_at = pd.to_datetime(frame["last_at"], cache=False)
    first_at = pd.to_datetime(frame["first_at"], cache=False)
    window_from = last_at + pd.to_timedelta(cadence * (1 - settings.cadence_tolerance), unit="D")
    window_to = last_at + pd.to_timedelta(cadence * (1 + settings.cadence_tolerance), unit="D")
    cadence_state = np.select(
        [~has_orders, (now < window_from).to_numpy(), (now <= window_to).to_numpy()],
        [CadenceState.NO_PURCHASE.value, CadenceState.EARLY.value, CadenceState.DUE.value],
        default=CadenceState.OVERDUE.value,
    )
    since_last = ((now - last_at).dt.total_seconds() / 86400).fillna(0).to_numpy()
    since_first = ((now - first_at).dt.total_seconds() / 86400).fillna(0).to_numpy()
    own_value = np.divide(
        frame["total_spend"].fillna(0).to_numpy(dtype=float), np.maximum(frame["order_count"].fillna(0).to_numpy(dtype=float), 1)
    )
    scores = lifetime_scores(
        purchase_fit=purchase_fit_row, spend_fit=spend_fit_row, settings=settings, x=x, t_x=t_x, T=T, monetary=monetary,
        has_orders=has_orders, cadence=cadence, since_last=since_last, own_value=own_value,
    )
    p_alive, expected_90, expected_value, clv = scores.p_alive, scores.expected_90, scores.expected_value, scores.clv

    # Churn probability: the active classifier, else 1 - P(alive).
    version, estimator = _load_churn_model()
    churn_probability = 1.0 - p_alive
    model_label = ""
    if estimator is not None and has_orders.any():
        features = churn_feature_frame(
            as_of=as_of, id_range=id_range, p_alive=pd.Series(p_alive, index=frame.index), cadence=frame["cadence_days"]
        )
        columns = list(version.features) if version.features else CHURN_FEATURES
        features = features.reindex(frame.index[has_orders]).fillna(0.0)[columns]
        churn_probability = churn_probability.copy()
        # One thread: OpenMP start-up per tree dominates on chunk-sized inputs and a shared box.
        with threadpool_limits(1):
            churn_probability[has_orders] = estimator.predict_proba(features.to_numpy(dtype=float))[:, 1]
        model_label = f"{version.kind} v{version.version}"
    churn_probability = np.where(has_orders, np.clip(np.nan_to_num(churn_probability, nan=0.0), 0.0, 1.0), 0.0)
    bands = churn_band_for(churn_probability, settings)

    segment_input = pd.DataFrame(
        {
            "order_count": frame["order_count"].fillna(0).to_numpy(),
            "days_since_first": since_first,
            "days_since_last": since_last,
            "p_alive": p_alive,
            "cadence_state": cadence_state,
            "clv": clv,
        }
    )
    segments, reasons = segment_assign(segment_input, settings)

    previous, previous_since = {}, {}
    for buyer_id, segment, since in BuyerRetention.objects.filter(buyer_id__gte=start_id, buyer_id__lt=end_id).values_list(
        "buyer_id", "segment", "segment_since"
    ):
        previous[buyer_id], previous_since[buyer_id] = segment, since
    computed_at = timezone.now()
    ids = frame.index.to_numpy(dtype="int64")
    order_count = frame["order_count"].fillna(0).astype(int).to_numpy()
    total_spend = frame["total_spend"].fillna(0).to_numpy(dtype=float)
    average = np.divide(total_spend, np.maximum(order_count, 1))

    churn_suffix = model_label or "1 - P(alive) (no active churn model)"
    changes, since_values, reason_values = [], [], []
    for i, buyer_id in enumerate(ids.tolist()):
        # Plain Python over arrays already computed; no queries happen in this loop.
        segment = segments[i]
        old = previous.get(buyer_id)
        since_values.append(previous_since.get(buyer_id) if old == segment else computed_at)
        if old != segment:
            changes.append((buyer_id, old or "", segment, computed_at))
        why = list(reasons[i])
        if has_orders[i]:
            why.append(
                f"P(alive) {p_alive[i]:.0%}, {settings.clv_horizon_months}-month CLV {formatting.money(clv[i])} from {scores.label}."
            )
            why.append(f"Churn probability {churn_probability[i]:.0%} ({bands[i]}) from {churn_suffix}.")
        reason_values.append(why)
    # Column-wise, as arrays: money as non-negative floats rounded to cents when written, moments
    # as naive UTC datetime64 (NaT for none), and NaN for a missing float.
    columns = {
        "buyer_id": ids,
        "computed_at": np.full(len(ids), _naive_utc(computed_at).to_datetime64()),
        "order_count": order_count,
        "frequency": x.astype(int),
        "recency_days": t_x * WEEK_DAYS,
        "age_days": T * WEEK_DAYS,
        "days_since_last_order": np.where(has_orders, since_last, np.nan),
        "total_spend": _money(total_spend),
        "average_order_value": _money(average),
        "first_order_at": _microseconds(first_at),
        "last_order_at": _microseconds(last_at),
        "p_alive": p_alive.astype(float),
        "expected_purchases_90d": np.maximum(expected_90, 0.0).astype(float),
        "expected_order_value": _money(expected_value),
        "clv": _money(clv),
        "churn_probability": churn_probability.astype(float),
        "churn_band": bands.astype(str),
        "churn_model_version": np.where(has_orders, model_label, ""),
        "lifetime_model": np.where(has_orders, scores.label, ""),
        "cadence_days": np.where(has_orders, cadence, np.nan),
        "cadence_is_estimated": estimated.astype(bool),
        "next_purchase_from": _microseconds(window_from),
        "next_purchase_to": _microseconds(window_to),
        "cadence_state": cadence_state.astype(str),
        "segment": np.asarray(segments).astype(str),
        "segment_since": _microseconds(pd.to_datetime(pd.Series(since_values, dtype=object), utc=True).dt.tz_convert(None)),
        "top_seller_id": pd.array(frame["top_seller_id"].to_numpy(), dtype="Int64"),
        "reasons": reason_values,
    }
    with transaction.atomic():
        _retention_upsert(columns)
        _segment_changes_insert(changes)
    return len(ids)


def _segment_changes_insert(changes: list[tuple]) -> None:
    """Append the segment history: (buyer_id, from_segment, to_segment, changed_at) rows.

    On PostgreSQL by COPY of plain tuples: a first night (or a marketplace-wide shift) moves every
    buyer of the chunk, and building model instances and bulk_create's per-row parameters cost
    about 0.1 s per chunk of 2,000 buyers (docs/benchmarks.md)."""
    if not changes:
        return  # a chunk whose buyers all keep their segment sends no COPY at all
    columns = ["buyer_id", "from_segment", "to_segment", "changed_at"]
    if connection.vendor != "postgresql":
        BuyerSegmentChange.objects.bulk_create(
            [BuyerSegmentChange(**dict(zip(columns, row))) for row in changes], batch_size=2000
        )
        return
    with connection.cursor() as cursor:
        copy_rows(cursor, table=BuyerSegmentChange._meta.db_table, columns=columns, rows=changes)


# Recommendations are written by their own recompute; the scoring upsert leaves them alone.
_KEEP_ON_UPDATE = ("recommended_listing_ids", "recommended_seller_ids")


def _microseconds(moments: pd.Series) -> np.ndarray:
    # Rounded, not truncated: the nanosecond arithmetic of the window can land a hair below the microsecond.
    return moments.dt.round("us").to_numpy(dtype="datetime64[us]")


def _money(values) -> np.ndarray:
    return np.round(np.maximum(np.nan_to_num(np.asarray(values, dtype=float), nan=0.0), 0.0), 2)


def _retention_upsert(columns: dict[str, object]) -> None:
    """Insert or update BuyerRetention rows given column-wise arrays (db column names, see
    ``buyer_retention_score_range``)."""
    fields = {f.column: f for f in BuyerRetention._meta.concrete_fields}
    if connection.vendor == "postgresql":
        _retention_upsert_copy(columns, {name: pgbinary.field_kind(fields[name], connection) for name in columns})
        return
    values = {name: _python_values(fields[name], column) for name, column in columns.items()}
    rows = [
        BuyerRetention(**{name: values[name][i] for name in values}) for i in range(len(values["buyer_id"]))
    ]
    update_fields = [f.name for f in BuyerRetention._meta.concrete_fields if f.name != "buyer" and f.name not in _KEEP_ON_UPDATE]
    BuyerRetention.objects.bulk_create(rows, batch_size=2000, update_conflicts=True, unique_fields=["buyer"], update_fields=update_fields)


def _python_values(field, column) -> list:
    """One column of ``_retention_upsert`` as the model field takes it (the SQLite path)."""
    kind = field.get_internal_type()
    if kind == "JSONField":
        return list(column)
    if kind == "DateTimeField":
        # numpy hands back plain datetimes (None for NaT) faster than pandas' Timestamp objects.
        return [None if v is None else v.replace(tzinfo=dt_timezone.utc) for v in np.asarray(column, dtype="datetime64[us]").tolist()]
    if kind == "DecimalField":
        return [Decimal(f"{v:.2f}") for v in np.asarray(column, dtype=float).tolist()]
    if kind == "FloatField":
        return [None if v != v else v for v in np.asarray(column, dtype=float).tolist()]
    if field.is_relation or kind.endswith("IntegerField"):
        return [None if pd.isna(v) else int(v) for v in column]
    return np.asarray(column).tolist()


def _retention_upsert_copy(columns: dict[str, object], kinds: dict[str, str]) -> None:
    """PostgreSQL: binary COPY of the columns into a temporary table, then one INSERT … ON
    CONFLICT DO UPDATE.

    The columns are encoded whole with numpy (core/pgbinary.py): building a row of 29 Python
    values per buyer and COPYing it as text was half of a retention chunk (docs/benchmarks.md).
    """
    table = BuyerRetention._meta.db_table
    names = list(columns)
    frame = pd.DataFrame({name: _binary_column(kinds[name], columns[name]) for name in names})
    updates = ", ".join(f'"{n}" = EXCLUDED."{n}"' for n in names if n != "buyer_id")
    data = pgbinary.encode(frame, [kinds[name] for name in names])
    with connection.cursor() as cursor:
        with staging_table(cursor, stage="tmp_buyer_retention", table=table, columns=names, data=data) as quoted:
            cursor.execute(
                f"INSERT INTO {table} ({quoted}, recommended_listing_ids, recommended_seller_ids) "
                f"SELECT {quoted}, '[]'::jsonb, '[]'::jsonb FROM tmp_buyer_retention "
                f"ON CONFLICT (buyer_id) DO UPDATE SET {updates}"
            )


def _binary_column(kind: str, column):
    return pd.Series([json_text(v) for v in column], dtype=object) if kind == "jsonb" else column


def buyer_id_ranges(*, chunk_size: int = CHUNK_SIZE) -> list[tuple[int, int]]:
    bounds = Buyer.objects.aggregate(low=Min("pk"), high=Max("pk"))
    if bounds["low"] is None:
        return []
    return [(start, start + chunk_size) for start in range(bounds["low"], bounds["high"] + 1, chunk_size)]


def retention_recompute(*, as_of: datetime | None = None, chunk_size: int = CHUNK_SIZE) -> dict:
    """Everything for every buyer, in-process (the Celery tasks split the same steps)."""
    as_of = as_of or timezone.now()
    fits = lifetime_fits_run(as_of=as_of)
    written = sum(
        buyer_retention_score_range(start_id=start, end_id=end, as_of=as_of)
        for start, end in buyer_id_ranges(chunk_size=chunk_size)
    )
    return {"bgnbd": fits.bgnbd.status, "gamma_gamma": fits.gamma_gamma.status, "buyers": written}


def retention_settings_update(*, actor, **values) -> RetentionSettings:
    """Change thresholds; only marketplace admins may."""
    from django.core.exceptions import PermissionDenied

    from core.roles import is_marketplace_admin

    if not is_marketplace_admin(actor):
        raise PermissionDenied("Only marketplace admins may change retention settings.")
    with transaction.atomic():
        settings = RetentionSettings.objects.select_for_update().get(pk=retention_settings_get().pk)
        for name, value in values.items():
            setattr(settings, name, value)
        settings.full_clean()
        settings.save()
    return settings
