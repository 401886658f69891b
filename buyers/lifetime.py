"""Customer-base models: BG/NBD (Fader, Hardie & Lee 2005), MBG/CNBD-k (Reutterer, Platzer &
Schroeder 2020; k = 1 is the MBG/NBD of Batislam, Denizel & Filiztekin 2007) and Gamma-Gamma spend.

Pure numpy/scipy, no Django: every function takes arrays (one element per buyer) and
is vectorised, so 200,000 buyers cost a handful of array operations. The likelihoods
are evaluated on the distinct (frequency, recency, T) rows with a weight per row,
which shrinks the work further on real data where many buyers share a summary.

Units: whatever unit the summary is expressed in (Kiln uses weeks, like the paper).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1, xlogy
from threadpoolctl import threadpool_limits


@dataclass(frozen=True)
class FitResult:
    params: dict[str, float]
    log_likelihood: float
    converged: bool
    message: str
    n: int
    iterations: int = 0
    extra: dict = field(default_factory=dict)


# --- summaries -------------------------------------------------------------------


def rfm_summary(
    transactions: pd.DataFrame,
    *,
    customer_col: str,
    datetime_col: str,
    observation_end,
    monetary_col: str | None = None,
    unit_days: float = 7.0,
) -> pd.DataFrame:
    """(frequency, recency, T[, monetary]) per customer from raw transactions.

    Transactions are first collapsed to one per customer and calendar day (several
    orders on a day are one purchase occasion, as in the paper). frequency is the number
    of repeat occasions, recency the time from the first to the last occasion, T the time
    from the first occasion to ``observation_end``; monetary is the mean value of the
    repeat occasions (0 for customers with no repeat), as the Gamma-Gamma model needs.
    Transactions after ``observation_end`` are ignored.
    """
    end = pd.Timestamp(observation_end)
    if end.tzinfo is not None:
        end = end.tz_convert("UTC").tz_localize(None)
    end = end.normalize()
    # cache=False: given datetimes, pandas' cache check walks a tenth of them as Timestamp objects.
    stamps = pd.to_datetime(transactions[datetime_col], cache=False)
    if stamps.dt.tz is not None:
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    frame = pd.DataFrame({customer_col: transactions[customer_col].to_numpy(), "_day": stamps.dt.normalize().to_numpy()})
    if monetary_col:
        frame[monetary_col] = transactions[monetary_col].to_numpy(dtype=float)
    frame = frame[frame["_day"] <= end]
    if monetary_col:
        days = frame.groupby([customer_col, "_day"], sort=True, as_index=False)[monetary_col].sum()
    else:
        days = frame.drop_duplicates().sort_values([customer_col, "_day"])
    grouped = days.groupby(customer_col)["_day"]
    first = grouped.min()
    last = grouped.max()
    count = grouped.size()
    summary = pd.DataFrame(
        {
            "frequency": (count - 1).astype(float),
            "recency": (last - first).dt.days / unit_days,
            "T": (end - first).dt.days / unit_days,
        }
    )
    # Sum of log inter-purchase times: the MBG/CNBD-k likelihood needs it for its Erlang-k gaps.
    gap = days.groupby(customer_col)["_day"].diff().dt.days / unit_days
    summary["litt"] = np.log(gap.dropna()).groupby(days.loc[gap.notna(), customer_col]).sum().reindex(summary.index).fillna(0.0)
    if monetary_col:
        # Mean of the repeat occasions: drop each customer's first day.
        is_first = days["_day"].to_numpy() == days[customer_col].map(first).to_numpy()
        repeat = days.loc[~is_first].groupby(customer_col)[monetary_col].mean()
        summary["monetary"] = repeat.reindex(summary.index).fillna(0.0).astype(float)
    return summary


# --- BG/NBD ----------------------------------------------------------------------

BGNBD_PARAMS = ("r", "alpha", "a", "b")


def bgnbd_log_likelihood_terms(params, x, t_x, T) -> np.ndarray:
    r, alpha, a, b = params
    x = np.asarray(x, dtype=float)
    t_x = np.asarray(t_x, dtype=float)
    T = np.asarray(T, dtype=float)
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    repeat = x > 0
    # log(a / (b + x - 1)) is undefined for x == 0; the term is absent there anyway.
    a4 = np.where(
        repeat,
        np.log(a) - np.log(np.where(repeat, b + x - 1, 1.0)) - (r + x) * np.log(alpha + t_x),
        -np.inf,
    )
    return a1 + a2 + np.logaddexp(a3, a4)


def _compress(*columns, weights=None):
    frame = pd.DataFrame({f"c{i}": np.asarray(c, dtype=float) for i, c in enumerate(columns)})
    frame["w"] = 1.0 if weights is None else np.asarray(weights, dtype=float)
    grouped = frame.groupby([f"c{i}" for i in range(len(columns))], sort=False, as_index=False)["w"].sum()
    return [grouped[f"c{i}"].to_numpy() for i in range(len(columns))], grouped["w"].to_numpy()


LOG_BOUNDS = (-12.0, 12.0)


def _fit(neg_ll, start, names, n, maxiter, total_ll, neg_ll_and_grad=None):
    """Minimise ``neg_ll`` over log-parameters bounded by LOG_BOUNDS.

    With the analytic gradient (``neg_ll_and_grad``), L-BFGS-B alone reaches the optimum in a
    few dozen evaluations; the gradient-free path below (Nelder-Mead, then an L-BFGS-B polish on
    finite differences) takes hundreds, and stays as the fallback when the quick path does not
    report success.
    """
    # Log-parameters stay within LOG_BOUNDS: a homogeneous base drives a and b of the
    # dropout mixture towards infinity together (a legitimate limit, not a failure), and the
    # bound keeps the arithmetic finite there without pulling an interior optimum.
    bounds = [LOG_BOUNDS] * len(names)
    # The optimiser's BLAS calls are on vectors of 4: threads only wait for each other there,
    # badly so when workers and PostgreSQL share the cores (measured in docs/benchmarks.md).
    with threadpool_limits(limits=1, user_api="blas"):
        return _fit_bounded(neg_ll, start, names, n, maxiter, total_ll, neg_ll_and_grad, bounds)


def _fit_bounded(neg_ll, start, names, n, maxiter, total_ll, neg_ll_and_grad, bounds) -> FitResult:
    try:
        if neg_ll_and_grad is not None:
            quick = optimize.minimize(
                neg_ll_and_grad, np.log(start), jac=True, method="L-BFGS-B", bounds=bounds,
                options={"maxiter": maxiter, "ftol": 1e-13, "gtol": 1e-9},
            )
            values = np.exp(quick.x)
            ll = float(total_ll(values))
            # On a flat ridge (a and b of the dropout mixture growing together) the line search
            # can stop "abnormally" exactly at the optimum: a vanished gradient is the test.
            stationary = _projected_gradient_norm(quick.x, quick.jac, bounds) < STATIONARY_GRADIENT
            if (quick.success or stationary) and np.all(np.isfinite(values)) and np.isfinite(ll):
                message = str(quick.message) if quick.success else f"gradient below {STATIONARY_GRADIENT:g} (line search stopped at the optimum)"
                return FitResult(dict(zip(names, map(float, values))), ll, True, message, n, int(quick.nit))
        result = optimize.minimize(
            neg_ll, np.log(start), method="Nelder-Mead", bounds=bounds, options={"maxiter": maxiter, "xatol": 1e-7, "fatol": 1e-7}
        )
        # Polish with a quasi-Newton step: Nelder-Mead gets close cheaply, L-BFGS-B nails the optimum.
        polished = optimize.minimize(neg_ll, result.x, method="L-BFGS-B", bounds=bounds, options={"maxiter": maxiter})
        if np.isfinite(polished.fun) and polished.fun <= result.fun:
            best, iterations = polished, result.nit + polished.nit
        else:
            best, iterations = result, result.nit
        values = np.exp(best.x)
        ll = float(total_ll(values))
        finite = bool(np.all(np.isfinite(values)) and np.isfinite(ll))
        # Nelder-Mead is the judge of convergence; BFGS often reports precision loss at a true optimum.
        converged = bool(result.success or polished.success) and finite
        message = str(polished.message if polished.success else result.message)
    except (FloatingPointError, ValueError, OverflowError) as exc:
        return FitResult(dict.fromkeys(names, float("nan")), float("nan"), False, f"{type(exc).__name__}: {exc}", n)
    return FitResult(dict(zip(names, map(float, values))), ll, converged, message, n, iterations)


# Largest gradient component (of the mean negative log-likelihood, in log-parameters) at which
# a fit counts as converged whatever the line search said.
STATIONARY_GRADIENT = 1e-6


def _projected_gradient_norm(x, gradient, bounds) -> float:
    """Max |gradient| over the directions the bounds leave open (a parameter at its bound may push against it)."""
    gradient = np.asarray(gradient, dtype=float)
    low = np.array([lo for lo, _ in bounds])
    high = np.array([hi for _, hi in bounds])
    projected = np.where(x <= low, np.minimum(gradient, 0.0), np.where(x >= high, np.maximum(gradient, 0.0), gradient))
    return float(np.max(np.abs(projected))) if projected.size else 0.0


def _objective_with_gradient(terms_and_grad, w, n, penalizer):
    """The mean negative log-likelihood and its gradient in log-parameters, for ``_fit``.

    ``terms_and_grad(params)`` returns the per-row log-likelihood terms and their derivatives
    in the parameters themselves, (rows, parameters); d/d log(theta) = theta * d/d theta.
    """

    def objective(log_params):
        with np.errstate(all="ignore"):
            params = np.exp(log_params)
            terms, grads = terms_and_grad(params)
            value = -np.sum(w * terms) / n + penalizer * np.sum(log_params**2)
            gradient = -(w @ grads) * params / n + 2 * penalizer * log_params
        if not (np.isfinite(value) and np.all(np.isfinite(gradient))):
            return 1e300, np.zeros_like(log_params)
        return value, gradient

    return objective


@dataclass(frozen=True)
class _Rows:
    """Summary rows prepared once per fit for the likelihood gradients.

    Most special functions in the likelihoods depend on a buyer only through x, which takes a
    few dozen distinct values among tens of thousands of rows: they are evaluated once per
    distinct x (``levels``) and spread to the rows by index (``at``).
    """

    levels: np.ndarray
    at: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    log_gap: np.ndarray  # log(T - t_x); -inf where the last purchase is today


def _rows(x, t_x, T) -> _Rows:
    levels, at = np.unique(np.asarray(x, dtype=float), return_inverse=True)
    t_x = np.asarray(t_x, dtype=float)
    T = np.asarray(T, dtype=float)
    log_gap = np.log(T - t_x, out=np.full_like(T, -np.inf), where=T > t_x)
    return _Rows(levels, at.reshape(-1), t_x, T, log_gap)


def bgnbd_log_likelihood_gradient(params, x, t_x, T) -> tuple[np.ndarray, np.ndarray]:
    """``bgnbd_log_likelihood_terms`` and their derivatives in (r, alpha, a, b), one row per buyer."""
    return _bgnbd_terms_and_gradient(params, _rows(x, t_x, T))


def _bgnbd_terms_and_gradient(params, rows: _Rows) -> tuple[np.ndarray, np.ndarray]:
    r, alpha, a, b = params
    u, at, t_x, T = rows.levels, rows.at, rows.t_x, rows.T
    repeat = u > 0
    b_x_1 = np.where(repeat, b + u - 1, 1.0)
    head = gammaln(r + u) - gammaln(r) + r * np.log(alpha) + gammaln(a + b) + gammaln(b + u) - gammaln(b) - gammaln(a + b + u)
    r_x = (r + u)[at]
    log_alpha_T, log_alpha_tx = np.log(alpha + T), np.log(alpha + t_x)
    a3 = -r_x * log_alpha_T
    a4 = np.where(repeat, np.log(a) - np.log(b_x_1), -np.inf)[at] - r_x * log_alpha_tx
    # Share of the 'dropped after the last purchase' branch in logaddexp(a3, a4); 0 without a repeat.
    s4 = expit(a4 - a3)
    s3 = 1.0 - s4
    psi_ab, psi_abx = digamma(a + b), digamma(a + b + u)
    d_r = (digamma(r + u) - digamma(r) + np.log(alpha))[at] - s3 * log_alpha_T - s4 * log_alpha_tx
    d_alpha = r / alpha - r_x * (s3 / (alpha + T) + s4 / (alpha + t_x))
    d_a = (psi_ab - psi_abx)[at] + s4 / a
    d_b = (psi_ab + digamma(b + u) - digamma(b) - psi_abx)[at] - s4 / b_x_1[at]
    return head[at] + np.logaddexp(a3, a4), np.column_stack([d_r, d_alpha, d_a, d_b])


def bgnbd_fit(x, t_x, T, *, start=(1.0, 1.0, 1.0, 1.0), penalizer: float = 0.0, maxiter: int = 2000) -> FitResult:
    """Maximum-likelihood BG/NBD parameters (r, alpha, a, b).

    ``penalizer`` adds ``penalizer * sum(log(theta)**2)`` to the mean negative log-likelihood:
    a penalty on the log-parameters, so its pull does not depend on their scale. With 0 (the
    production setting, see ``retention.services.FIT_PENALIZER``) the fit is the plain MLE.
    """
    (cx, ct, cT), w = _compress(x, t_x, T)
    n = int(w.sum())
    if n == 0:
        return FitResult(dict.fromkeys(BGNBD_PARAMS, float("nan")), float("nan"), False, "no buyers to fit", 0)

    def neg_ll(log_params):
        with np.errstate(all="ignore"):
            params = np.exp(log_params)
            value = -np.sum(w * bgnbd_log_likelihood_terms(params, cx, ct, cT)) / n + penalizer * np.sum(log_params**2)
        return value if np.isfinite(value) else 1e300

    def total_ll(params):
        return np.sum(w * bgnbd_log_likelihood_terms(params, cx, ct, cT))

    rows = _rows(cx, ct, cT)
    with_gradient = _objective_with_gradient(lambda p: _bgnbd_terms_and_gradient(p, rows), w, n, penalizer)
    return _fit(neg_ll, start, BGNBD_PARAMS, n, maxiter, total_ll, with_gradient)


def bgnbd_probability_alive(params: dict, x, t_x, T) -> np.ndarray:
    r, alpha, a, b = (params[k] for k in BGNBD_PARAMS)
    x = np.asarray(x, dtype=float)
    t_x = np.asarray(t_x, dtype=float)
    T = np.asarray(T, dtype=float)
    repeat = x > 0
    with np.errstate(all="ignore"):
        log_ratio = np.log(a) - np.log(np.where(repeat, b + x - 1, 1.0)) + (r + x) * (
            np.log(alpha + T) - np.log(alpha + t_x)
        )
    odds = np.where(repeat, np.exp(np.minimum(log_ratio, 700)), 0.0)
    return 1.0 / (1.0 + odds)


def bgnbd_expected_purchases(params: dict, t, x, t_x, T) -> np.ndarray:
    """E[purchases in the next t units | x, t_x, T] (equation 10 of the paper)."""
    r, alpha, a, b = (params[k] for k in BGNBD_PARAMS)
    x = np.asarray(x, dtype=float)
    t_x = np.asarray(t_x, dtype=float)
    T = np.asarray(T, dtype=float)
    t = np.broadcast_to(np.asarray(t, dtype=float), x.shape)
    with np.errstate(all="ignore"):
        z = t / (alpha + T + t)
        head = (a + b + x - 1) / (a - 1)
        hyp = hyp2f1(r + x, b + x, a + b + x - 1, z)
        body = 1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp
        value = head * body * bgnbd_probability_alive(params, x, t_x, T)
    return np.where(np.isfinite(value), np.maximum(value, 0.0), 0.0)


def bgnbd_population_expected(params: dict, t) -> np.ndarray:
    """E[X(t)] for a randomly chosen new buyer (equation 9)."""
    r, alpha, a, b = (params[k] for k in BGNBD_PARAMS)
    t = np.asarray(t, dtype=float)
    z = t / (alpha + t)
    return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, z))


# --- MBG/CNBD-k (MBG/NBD when k = 1) ------------------------------------------------
#
# While alive, a buyer's inter-purchase times are Erlang-k with rate lambda (k = 1: Poisson
# purchasing, the MBG/NBD); lambda ~ Gamma(r, alpha) across buyers. Right after every purchase,
# the first one included, the buyer drops out with probability p ~ Beta(a, b). Because the
# first purchase can be the last, a buyer with no repeat has P(alive) below 1, unlike BG/NBD.
# With k > 1 the gaps are regular, so a silence long against a buyer's own rhythm counts as
# evidence of dropout; k is chosen by likelihood (MBGCNBD_K_CHOICES).
#
# Likelihood given lambda and p, for x repeats at gaps g_1..g_x, last purchase t_x and age T:
#   prod_j f_k(g_j) * (1-p)^x * [(1-p) S_k(lambda (T - t_x)) + p]
# with f_k the Erlang-k density and S_k(z) = exp(-z) sum_{i<k} z^i / i! its survival. Integrating
# lambda and p out gives the closed form below; the constant prod g_j^(k-1) / ((k-1)!)^x only
# matters when comparing k, and needs "litt" (sum of log gaps, see rfm_summary).

MBG_PARAMS = ("r", "alpha", "a", "b")
MBGCNBD_K_CHOICES = (1, 2, 3, 4, 5, 6)


def _mbg_log_parts(params, k: int, x, t_x, T):
    """log of the 'alive now' terms (one per completed phase i < k) and of the 'dropped' term."""
    r, alpha, a, b = params
    x = np.asarray(x, dtype=float)[..., None]
    t_x = np.asarray(t_x, dtype=float)[..., None]
    T = np.asarray(T, dtype=float)[..., None]
    i = np.arange(k, dtype=float)
    shape = r + k * x
    with np.errstate(divide="ignore"):
        alive = (
            betaln(a, b + x + 1)
            - betaln(a, b)
            + gammaln(shape + i)
            - gammaln(r)
            + r * np.log(alpha)
            + xlogy(i, T - t_x)
            - gammaln(i + 1)
            - (shape + i) * np.log(alpha + T)
        )
    dropped = betaln(a + 1, b + x) - betaln(a, b) + gammaln(shape) - gammaln(r) + r * np.log(alpha) - shape * np.log(alpha + t_x)
    return alive, dropped[..., 0]


def mbgcnbd_log_likelihood_terms(params, k: int, x, t_x, T, litt) -> np.ndarray:
    r, alpha, a, b = params
    x = np.asarray(x, dtype=float)
    t_x = np.asarray(t_x, dtype=float)
    T = np.asarray(T, dtype=float)
    shape = r + k * x
    log_alpha_T = np.log(alpha + T)
    common = gammaln(shape) - gammaln(r) + r * np.log(alpha)
    # Terms of the 'alive' sum, i = 0..k-1, accumulated one at a time (k is small): this runs
    # inside the optimiser, where a (buyers, k) array per call costs more than the loop.
    step = np.log(T - t_x, out=np.full_like(T, -np.inf), where=T > t_x) - log_alpha_T
    term = common - shape * log_alpha_T
    alive = term.copy()
    for i in range(1, k):
        term = term + np.log(shape + i - 1) + step - np.log(i)
        alive = np.logaddexp(alive, term)
    alive = alive + betaln(a, b + x + 1) - betaln(a, b)
    dropped = betaln(a + 1, b + x) - betaln(a, b) + common - shape * np.log(alpha + t_x)
    constant = (k - 1) * np.asarray(litt, dtype=float) - x * gammaln(k)
    return constant + np.logaddexp(alive, dropped)


def mbgcnbd_log_likelihood_gradient(params, k: int, x, t_x, T) -> tuple[np.ndarray, np.ndarray]:
    """``mbgcnbd_log_likelihood_terms`` without the Erlang constant, and their derivatives in (r, alpha, a, b)."""
    return _mbgcnbd_terms_and_gradient(params, k, _rows(x, t_x, T))


def _mbgcnbd_terms_and_gradient(params, k: int, rows: _Rows) -> tuple[np.ndarray, np.ndarray]:
    # The 'alive' sum is a log-sum of k terms: its derivative is the terms' derivatives weighted
    # by each term's share of the sum, and likewise for the final alive-or-dropped log-sum.
    r, alpha, a, b = params
    u, at, t_x, T = rows.levels, rows.at, rows.t_x, rows.T
    shape_u = r + k * u
    common_u = gammaln(shape_u) - gammaln(r) + r * np.log(alpha)
    d_common_r_u = digamma(shape_u) - digamma(r) + np.log(alpha)
    shape = shape_u[at]
    log_alpha_T, log_alpha_tx = np.log(alpha + T), np.log(alpha + t_x)
    step = rows.log_gap - log_alpha_T
    # Term i of the alive sum and its derivatives in r and alpha (a and b do not enter it).
    term = common_u[at] - shape * log_alpha_T
    d_term_r = d_common_r_u[at] - log_alpha_T
    d_term_alpha = r / alpha - shape / (alpha + T)
    terms, d_rs, d_alphas = [term], [d_term_r], [d_term_alpha]
    for i in range(1, k):
        term = term + (np.log(shape_u + i - 1) - np.log(i))[at] + step
        d_term_r = d_term_r + (1.0 / (shape_u + i - 1))[at]
        d_term_alpha = d_term_alpha - 1.0 / (alpha + T)
        terms.append(term)
        d_rs.append(d_term_r)
        d_alphas.append(d_term_alpha)
    if k == 1:
        alive_sum, d_alive_r, d_alive_alpha = term, d_term_r, d_term_alpha
    else:
        stacked = np.stack(terms)
        alive_sum = np.logaddexp.reduce(stacked, axis=0)
        share = np.exp(stacked - alive_sum)
        d_alive_r = np.sum(share * np.stack(d_rs), axis=0)
        d_alive_alpha = np.sum(share * np.stack(d_alphas), axis=0)
    beta_ab = betaln(a, b)
    alive = alive_sum + (betaln(a, b + u + 1) - beta_ab)[at]
    dropped = (betaln(a + 1, b + u) - beta_ab + common_u)[at] - shape * log_alpha_tx
    s_alive = expit(alive - dropped)
    s_dropped = 1.0 - s_alive
    psi_ab, psi_abx1 = digamma(a + b), digamma(a + b + u + 1)
    d_r = s_alive * d_alive_r + s_dropped * (d_common_r_u[at] - log_alpha_tx)
    d_alpha = s_alive * d_alive_alpha + s_dropped * (r / alpha - shape / (alpha + t_x))
    d_a = (psi_ab - psi_abx1)[at] + s_dropped * (digamma(a + 1) - digamma(a))
    d_b = s_alive * (digamma(b + u + 1) - psi_abx1 - digamma(b) + psi_ab)[at] + s_dropped * (
        digamma(b + u) - psi_abx1 - digamma(b) + psi_ab
    )[at]
    return np.logaddexp(alive, dropped) - (u * gammaln(k))[at], np.column_stack([d_r, d_alpha, d_a, d_b])


def mbgcnbd_fit(x, t_x, T, litt=None, *, k: int = 1, start=(1.0, 1.0, 1.0, 1.0), penalizer: float = 0.0, maxiter: int = 2000) -> FitResult:
    """Maximum-likelihood MBG/CNBD-k parameters (r, alpha, a, b) for a given k (k = 1: MBG/NBD).

    The Erlang constant sum((k-1) litt - x log((k-1)!)) does not involve the parameters, so the
    optimiser works on the distinct (x, t_x, T) rows and the constant is added to the reported
    log-likelihood afterwards (it is what makes fits with different k comparable).
    """
    x = np.asarray(x, dtype=float)
    litt = np.zeros(len(x)) if litt is None else np.asarray(litt, dtype=float)
    (cx, ct, cT), w = _compress(x, t_x, T)
    n = int(w.sum())
    if n == 0:
        return FitResult(dict.fromkeys(MBG_PARAMS, float("nan")), float("nan"), False, "no buyers to fit", 0)
    zeros = np.zeros_like(cx)
    # The x log((k-1)!) part stays inside the per-row terms; only the litt part is added here.
    constant = float(np.sum((k - 1) * litt))

    def neg_ll(log_params):
        with np.errstate(all="ignore"):
            value = -np.sum(w * mbgcnbd_log_likelihood_terms(np.exp(log_params), k, cx, ct, cT, zeros)) / n
            value += penalizer * np.sum(log_params**2)
        return value if np.isfinite(value) else 1e300

    def total_ll(params):
        return np.sum(w * mbgcnbd_log_likelihood_terms(params, k, cx, ct, cT, zeros)) + constant

    rows = _rows(cx, ct, cT)
    with_gradient = _objective_with_gradient(lambda p: _mbgcnbd_terms_and_gradient(p, k, rows), w, n, penalizer)
    result = _fit(neg_ll, start, MBG_PARAMS, n, maxiter, total_ll, with_gradient)
    return FitResult(result.params, result.log_likelihood, result.converged, result.message, result.n, result.iterations, {"k": k})


def mbgcnbd_fit_best_k(x, t_x, T, litt, *, k_choices=MBGCNBD_K_CHOICES, penalizer: float = 0.0) -> FitResult:
    """Fit k = 1, 2, ... and keep the highest log-likelihood (the Erlang constant makes them comparable).

    The profile likelihood in k is single-peaked in practice, so the search stops at the first k
    that does worse than the one before.
    """
    best = None
    start = (1.0, 1.0, 1.0, 1.0)
    for k in k_choices:
        fit = mbgcnbd_fit(x, t_x, T, litt, k=k, start=start, penalizer=penalizer)
        if not fit.converged:
            continue
        # Warm start for the next k: phases come k / gap apart, so lambda's scale alpha shrinks by k / (k + 1).
        start = (fit.params["r"], fit.params["alpha"] * k / (k + 1), fit.params["a"], fit.params["b"])
        if best is not None and fit.log_likelihood <= best.log_likelihood:
            break
        best = fit
    return best if best is not None else fit


def mbgcnbd_probability_alive(params: dict, k: int, x, t_x, T) -> np.ndarray:
    alive, dropped = _mbg_log_parts(tuple(params[p] for p in MBG_PARAMS), k, x, t_x, T)
    log_alive = np.logaddexp.reduce(alive, axis=-1)
    return np.exp(log_alive - np.logaddexp(log_alive, dropped))


# Buyers per block in the conditional expectation: keeps the (buyers, k, phases) array small.
_EXPECTATION_BLOCK = 4096


def mbgcnbd_expected_purchases(params: dict, k: int, t, x, t_x, T) -> np.ndarray:
    """E[purchases in the next t units | x, t_x, T] under MBG/CNBD-k.

    Exact given the model, up to truncating a negligible Poisson tail. Given alive, the number j
    of Erlang phases already completed in the current gap, and lambda's posterior, the phases in
    (T, T + t] are negative binomial; every k-th phase is a purchase, and the n-th future purchase
    happens only if the buyer survived the n - 1 before it (probability E[(1-p)^(n-1)] under
    p's posterior Beta(a, b + x + 1)).
    """
    return mbgcnbd_expected_purchases_horizons(params, k, [t], x, t_x, T)[0]


def mbgcnbd_expected_purchases_horizons(params: dict, k: int, horizons, x, t_x, T) -> list[np.ndarray]:
    """``mbgcnbd_expected_purchases`` for each of ``horizons``, sharing what does not depend on t.

    A CLV asks for 12 horizons of the same buyers. The costly terms, log Gamma(shape + m) over
    the phase counts m and the survival steps over the purchase counts, depend on t only through
    how far they run, so they are computed once up to the longest horizon and each horizon takes
    its prefix: every value is the one a call per horizon computes, element for element.
    """
    r, alpha, a, b = (params[p] for p in MBG_PARAMS)
    x = np.asarray(x, dtype=float)
    t_x = np.broadcast_to(np.asarray(t_x, dtype=float), x.shape)
    T = np.broadcast_to(np.asarray(T, dtype=float), x.shape)
    horizons = [float(t) for t in horizons]
    outs = [np.zeros(x.shape) for _ in horizons]
    live = [h for h, t in enumerate(horizons) if t > 0]
    if not live or x.size == 0:
        return outs
    p_alive = mbgcnbd_probability_alive(params, k, x, t_x, T)
    for lo in range(0, x.size, _EXPECTATION_BLOCK):
        sl = slice(lo, lo + _EXPECTATION_BLOCK)
        xs, ts, Ts = x[sl], t_x[sl], T[sl]
        alive, _ = _mbg_log_parts((r, alpha, a, b), k, xs, ts, Ts)
        phase_weight = np.exp(alive - np.logaddexp.reduce(alive, axis=-1, keepdims=True))  # (n, k)
        shape = (r + k * xs)[:, None] + np.arange(k)[None, :]  # (n, k)
        rate = (alpha + Ts)[:, None]
        m_maxes = {}
        for h in live:
            mean = shape * horizons[h] / rate
            sd = np.sqrt(mean + mean**2 / shape)
            m_maxes[h] = int(min(np.ceil((mean + 10 * sd).max()) + 10, 5000))
        m_all = np.arange(max(m_maxes.values()) + 1, dtype=float)
        gamma_shape_m = gammaln(shape[..., None] + m_all)  # (n, k, M)
        gamma_shape = gammaln(shape)[..., None]
        gamma_m = gammaln(m_all + 1)
        n_all = int(np.floor((k - 1 + m_all[-1]) / k))
        steps = np.exp(betaln(a, (b + xs + 1)[:, None] + np.arange(n_all)) - betaln(a, b + xs + 1)[:, None])
        # G[N] = sum_{n<N} E[(1-p)^n], p ~ Beta(a, b + x + 1): expected purchases made of N renewals.
        G = np.concatenate([np.zeros((len(xs), 1)), np.cumsum(steps, axis=1)], axis=1)  # (n, n_all + 1)
        for h in live:
            t, size = horizons[h], m_maxes[h] + 1
            m = m_all[:size]
            log_q = np.log(t / (rate + t))
            log_pm = (
                gamma_shape_m[..., :size]
                - gamma_shape
                - gamma_m[:size]
                + (shape * np.log(rate / (rate + t)))[..., None]
                + m * log_q[..., None]
            )  # (n, k, M)
            purchases = np.floor((np.arange(k)[:, None] + m[None, :]) / k).astype(int)  # (k, M)
            gathered = G[:, purchases]  # (n, k, M)
            outs[h][sl] = (phase_weight * (np.exp(log_pm) * gathered).sum(axis=-1)).sum(axis=-1)
    results = []
    for h, out in enumerate(outs):
        if h not in live:
            results.append(out)
            continue
        value = p_alive * out
        results.append(np.where(np.isfinite(value), np.maximum(value, 0.0), 0.0))
    return results


def mbgnbd_expected_purchases_closed_form(params: dict, t, x, t_x, T) -> np.ndarray:
    """MBG/NBD (k = 1) conditional expectation in closed form (Batislam et al. 2007, eq. 4)."""
    r, alpha, a, b = (params[p] for p in MBG_PARAMS)
    x = np.asarray(x, dtype=float)
    t_x = np.asarray(t_x, dtype=float)
    T = np.asarray(T, dtype=float)
    head = (a + b + x) / (a - 1)
    body = 1 - hyp2f1(r + x, b + x + 1, a + b + x, t / (alpha + T + t)) * ((alpha + T) / (alpha + T + t)) ** (r + x)
    return head * body * mbgcnbd_probability_alive(params, 1, x, t_x, T)


# --- Gamma-Gamma -----------------------------------------------------------------

GAMMA_GAMMA_PARAMS = ("p", "q", "v")


def gamma_gamma_log_likelihood_terms(params, x, m) -> np.ndarray:
    p, q, v = params
    x = np.asarray(x, dtype=float)
    m = np.asarray(m, dtype=float)
    return (
        gammaln(p * x + q)
        - gammaln(p * x)
        - gammaln(q)
        + q * np.log(v)
        + (p * x - 1) * np.log(m)
        + (p * x) * np.log(x)
        - (p * x + q) * np.log(x * m + v)
    )


def gamma_gamma_log_likelihood_gradient(params, x, m) -> tuple[np.ndarray, np.ndarray]:
    """``gamma_gamma_log_likelihood_terms`` and their derivatives in (p, q, v)."""
    p, q, v = params
    x = np.asarray(x, dtype=float)
    m = np.asarray(m, dtype=float)
    px = p * x
    log_xm_v = np.log(x * m + v)
    psi_pxq = digamma(px + q)
    d_p = x * (psi_pxq - digamma(px) + np.log(m) + np.log(x) - log_xm_v)
    d_q = psi_pxq - digamma(q) + np.log(v) - log_xm_v
    d_v = q / v - (px + q) / (x * m + v)
    return gamma_gamma_log_likelihood_terms(params, x, m), np.column_stack([d_p, d_q, d_v])


def gamma_gamma_fit(x, monetary, *, start=(1.0, 1.0, 1.0), penalizer: float = 0.0, maxiter: int = 2000) -> FitResult:
    """Maximum-likelihood Gamma-Gamma parameters (p, q, v) on buyers with repeat purchases."""
    x = np.asarray(x, dtype=float)
    monetary = np.asarray(monetary, dtype=float)
    usable = (x > 0) & (monetary > 0)
    (cx, cm), w = _compress(x[usable], monetary[usable])
    n = int(w.sum())
    if n < 3:
        return FitResult(dict.fromkeys(GAMMA_GAMMA_PARAMS, float("nan")), float("nan"), False, "fewer than 3 repeat buyers", n)

    def neg_ll(log_params):
        with np.errstate(all="ignore"):
            params = np.exp(log_params)
            value = -np.sum(w * gamma_gamma_log_likelihood_terms(params, cx, cm)) / n + penalizer * np.sum(log_params**2)
        return value if np.isfinite(value) else 1e300

    def total_ll(params):
        return np.sum(w * gamma_gamma_log_likelihood_terms(params, cx, cm))

    with_gradient = _objective_with_gradient(lambda p: gamma_gamma_log_likelihood_gradient(p, cx, cm), w, n, penalizer)
    result = _fit(neg_ll, start, GAMMA_GAMMA_PARAMS, n, maxiter, total_ll, with_gradient)
    if result.converged and result.params["q"] <= 1:
        # The population mean spend v*p/(q-1) does not exist for q <= 1.
        return FitResult(result.params, result.log_likelihood, False, "q <= 1: mean spend undefined", n, result.iterations)
    return result


def gamma_gamma_expected_value(params: dict, x, monetary) -> np.ndarray:
    """E[order value | x repeat purchases averaging ``monetary``]; the population mean when x == 0."""
    p, q, v = (params[k] for k in GAMMA_GAMMA_PARAMS)
    x = np.asarray(x, dtype=float)
    monetary = np.asarray(monetary, dtype=float)
    population_mean = v * p / (q - 1)
    weight = (p * x) / (p * x + q - 1)
    value = (1 - weight) * population_mean + weight * np.where(x > 0, monetary, 0.0)
    return np.where(np.isfinite(value), value, population_mean)


def customer_lifetime_value(
    bgnbd_params: dict,
    x,
    t_x,
    T,
    expected_order_value,
    *,
    horizon_periods: int,
    period_length: float,
    discount_rate_per_period: float,
) -> np.ndarray:
    """Discounted expected revenue over ``horizon_periods`` periods of ``period_length`` units.

    Expected purchases in each period (the difference of cumulative expectations) times the
    expected order value, discounted by (1 + d)^k for the k-th period. The loop is over
    periods (e.g. 12 months), never over buyers.
    """
    cumulatives = purchase_expected_horizons(bgnbd_params, clv_horizons(horizon_periods, period_length), x, t_x, T)
    return lifetime_value_of(cumulatives, expected_order_value, discount_rate_per_period=discount_rate_per_period)


def clv_horizons(horizon_periods: int, period_length: float) -> list[float]:
    """The ends of the CLV's periods, whose cumulative expected purchases ``lifetime_value_of`` takes."""
    return [k * period_length for k in range(1, horizon_periods + 1)]


def lifetime_value_of(cumulatives: list[np.ndarray], expected_order_value, *, discount_rate_per_period: float) -> np.ndarray:
    """``customer_lifetime_value`` from the cumulative expected purchases at the end of each period,
    for a caller that has them already (the retention chunk asks for one more horizon in the same pass)."""
    value = np.zeros_like(cumulatives[0], dtype=float)
    previous = np.zeros_like(value)
    for k, cumulative in enumerate(cumulatives, start=1):
        value += (cumulative - previous) * expected_order_value / (1 + discount_rate_per_period) ** k
        previous = cumulative
    return np.where(np.isfinite(value), value, 0.0)


# --- purchase-count models behind one interface ------------------------------------

BGNBD, MBGNBD, MBGCNBD = "bgnbd", "mbgnbd", "mbgcnbd"
PURCHASE_MODELS = (BGNBD, MBGNBD, MBGCNBD)
MODEL_LABELS = {BGNBD: "BG/NBD", MBGNBD: "MBG/NBD", MBGCNBD: "MBG/CNBD-k"}


# Every value a lifetime fit's ``model`` column takes, as staff read it (the list filter offers them).
FIT_MODEL_LABELS = {**MODEL_LABELS, "gamma_gamma": "Gamma-Gamma", "rule": "Cadence rule (too few buyers)", "": "No model fitted"}


def fit_model_label(code: str) -> str:
    return FIT_MODEL_LABELS.get(code, code)


def model_label(params: dict) -> str:
    name = params.get("model", BGNBD)
    return f"MBG/CNBD-{int(params.get('k', 1))}" if name == MBGCNBD else MODEL_LABELS.get(name, name)


def purchase_model_fit(model: str, summary: pd.DataFrame, *, penalizer: float = 0.0) -> FitResult:
    """Fit one purchase-count model on a summary (frequency, recency, T[, litt]).

    The returned params carry "model" and "k", so the scoring functions below can dispatch on them.
    """
    x, t_x, T = summary["frequency"], summary["recency"], summary["T"]
    if model == BGNBD:
        fit = bgnbd_fit(x, t_x, T, penalizer=penalizer)
        k = 1
    elif model == MBGNBD:
        fit = mbgcnbd_fit(x, t_x, T, k=1, penalizer=penalizer)
        k = 1
    elif model == MBGCNBD:
        fit = mbgcnbd_fit_best_k(x, t_x, T, summary["litt"], penalizer=penalizer)
        k = int(fit.extra.get("k", 1))
    else:
        raise ValueError(f"unknown purchase model {model!r}")
    return FitResult({**fit.params, "model": model, "k": k}, fit.log_likelihood, fit.converged, fit.message, fit.n, fit.iterations)


def purchase_probability_alive(params: dict, x, t_x, T) -> np.ndarray:
    if params.get("model", BGNBD) == BGNBD:
        return bgnbd_probability_alive(params, x, t_x, T)
    return mbgcnbd_probability_alive(params, int(params.get("k", 1)), x, t_x, T)


def purchase_expected(params: dict, t, x, t_x, T) -> np.ndarray:
    model = params.get("model", BGNBD)
    if model == BGNBD:
        return bgnbd_expected_purchases(params, t, x, t_x, T)
    k = int(params.get("k", 1))
    if k == 1:
        value = mbgnbd_expected_purchases_closed_form(params, t, x, t_x, T)
        return np.where(np.isfinite(value), np.maximum(value, 0.0), 0.0)
    return mbgcnbd_expected_purchases(params, k, t, x, t_x, T)


def purchase_expected_horizons(params: dict, horizons, x, t_x, T) -> list[np.ndarray]:
    """``purchase_expected`` at each of ``horizons``; MBG/CNBD-k (k > 1) shares its work across them."""
    if params.get("model", BGNBD) != BGNBD and int(params.get("k", 1)) > 1:
        return mbgcnbd_expected_purchases_horizons(params, int(params["k"]), horizons, x, t_x, T)
    return [purchase_expected(params, t, x, t_x, T) for t in horizons]


# --- calibration / holdout evaluation ------------------------------------------------

FREQUENCY_BUCKETS = ("0", "1", "2", "3", "4", "5", "6", "7+")
# A buyer counts as regular with at least REGULAR_MIN_GAPS gaps whose coefficient of
# variation is at most REGULAR_MAX_CV (Erlang-4 gaps have CV 0.5; exponential ones 1).
REGULAR_MIN_GAPS = 3
REGULAR_MAX_CV = 0.5


def _gap_cv(transactions: pd.DataFrame, customer_col: str, datetime_col: str, end) -> pd.Series:
    days = pd.DataFrame({"c": transactions[customer_col].to_numpy(), "d": pd.to_datetime(transactions[datetime_col], cache=False).dt.normalize().to_numpy()})
    days = days[days["d"] <= end].drop_duplicates().sort_values(["c", "d"])
    gap = days.groupby("c")["d"].diff().dt.days.dropna()
    by = days.loc[gap.index, "c"]
    stats = gap.groupby(by).agg(["mean", "std", "size"])
    return (stats["std"] / stats["mean"]).where(stats["size"] >= REGULAR_MIN_GAPS)


def _buckets(frequency: np.ndarray, predicted: np.ndarray, actual: np.ndarray) -> list[dict]:
    label = np.where(frequency >= 7, "7+", np.minimum(frequency, 7).astype(int).astype(str))
    rows = []
    for bucket in FREQUENCY_BUCKETS:
        mask = label == bucket
        if mask.any():
            rows.append(
                {
                    "frequency": bucket,
                    "n": int(mask.sum()),
                    "predicted": round(float(predicted[mask].mean()), 4),
                    "actual": round(float(actual[mask].mean()), 4),
                }
            )
    return rows


def _forecast_errors(predicted: np.ndarray, actual: np.ndarray) -> dict:
    total_p, total_a = float(predicted.sum()), float(actual.sum())
    return {
        "rmse": round(float(np.sqrt(np.mean((predicted - actual) ** 2))), 4) if len(actual) else None,
        "mae": round(float(np.mean(np.abs(predicted - actual))), 4) if len(actual) else None,
        "total_predicted": round(total_p, 2),
        "total_actual": round(total_a, 2),
        "total_error_pct": round(100 * (total_p - total_a) / total_a, 2) if total_a else None,
    }


def holdout_evaluate(
    transactions: pd.DataFrame,
    *,
    customer_col: str,
    datetime_col: str,
    monetary_col: str,
    calibration_end,
    observation_end,
    models=PURCHASE_MODELS,
    penalizer: float = 0.0,
    unit_days: float = 7.0,
) -> dict:
    """Fit each model on the calibration period and score it on the holdout period.

    For every customer whose first purchase falls in the calibration period: predicted against
    actual repeat purchase days in the holdout, per calibration frequency bucket, in total, and
    for regular buyers. The chosen model has the lowest per-buyer RMSE. The spend check uses the
    chosen model with a calibration Gamma-Gamma fit: predicted holdout spend (undiscounted)
    against realised holdout spend, in total and by decile of predicted spend.
    """
    cal_end = pd.Timestamp(calibration_end).normalize()
    obs_end = pd.Timestamp(observation_end).normalize()
    horizon = (obs_end - cal_end).days / unit_days
    summary = rfm_summary(
        transactions, customer_col=customer_col, datetime_col=datetime_col, observation_end=cal_end,
        monetary_col=monetary_col, unit_days=unit_days,
    )
    stamps = pd.to_datetime(transactions[datetime_col], cache=False).dt.normalize()
    later = transactions[(stamps > cal_end) & (stamps <= obs_end)]
    later_days = pd.DataFrame({"c": later[customer_col].to_numpy(), "d": stamps[later.index].to_numpy(), "v": later[monetary_col].to_numpy(dtype=float)})
    actual = later_days.drop_duplicates(["c", "d"]).groupby("c").size().reindex(summary.index).fillna(0).to_numpy(dtype=float)
    actual_spend = later_days.groupby("c")["v"].sum().reindex(summary.index).fillna(0).to_numpy(dtype=float)
    x, t_x, T = (summary[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    cv = _gap_cv(transactions, customer_col, datetime_col, cal_end).reindex(summary.index).to_numpy(dtype=float)
    regular = np.isfinite(cv) & (cv <= REGULAR_MAX_CV)

    result = {
        "calibration_end": cal_end.date().isoformat(),
        "observation_end": obs_end.date().isoformat(),
        "holdout_weeks": round(horizon, 2),
        "n_buyers": int(len(summary)),
        "n_regular": int(regular.sum()),
        "models": {},
        "chosen": None,
    }
    predictions = {}
    for model in models:
        fit = purchase_model_fit(model, summary, penalizer=penalizer)
        entry = {"label": model_label(fit.params), "converged": fit.converged, "message": fit.message}
        if fit.converged:
            predicted = purchase_expected(fit.params, horizon, x, t_x, T)
            predictions[model] = (fit.params, predicted)
            entry |= {
                "params": {k: (round(v, 6) if isinstance(v, float) else v) for k, v in fit.params.items()},
                "log_likelihood": round(fit.log_likelihood, 3),
                **_forecast_errors(predicted, actual),
                "regular": _forecast_errors(predicted[regular], actual[regular]),
                "buckets": _buckets(x, predicted, actual),
            }
        result["models"][model] = entry
    if not predictions:
        return result
    chosen = min(predictions, key=lambda m: result["models"][m]["rmse"])
    result["chosen"] = chosen
    spend = gamma_gamma_fit(summary["frequency"], summary["monetary"])
    if spend.converged:
        value = gamma_gamma_expected_value(spend.params, x, summary["monetary"].to_numpy(dtype=float))
        predicted_spend = predictions[chosen][1] * value
        result["clv"] = clv_holdout_report(predicted_spend, actual_spend)
    return result


def clv_holdout_report(predicted: np.ndarray, actual: np.ndarray) -> dict:
    """Predicted against realised holdout spend: total and by decile of predicted spend (1 = lowest)."""
    order = np.argsort(predicted, kind="stable")
    deciles = []
    for i, part in enumerate(np.array_split(order, 10), start=1):
        if len(part):
            deciles.append(
                {
                    "decile": i,
                    "n": int(len(part)),
                    "predicted": round(float(predicted[part].mean()), 2),
                    "actual": round(float(actual[part].mean()), 2),
                }
            )
    total_p, total_a = float(predicted.sum()), float(actual.sum())
    return {
        "predicted_total": round(total_p, 2),
        "actual_total": round(total_a, 2),
        "error_pct": round(100 * (total_p - total_a) / total_a, 2) if total_a else None,
        "deciles": deciles,
    }
