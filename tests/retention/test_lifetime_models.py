"""BG/NBD and Gamma-Gamma against the published CDNOW results (no database needed)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from buyers import lifetime
from retention.services import FIT_PENALIZER, purchase_fit, spend_fit

DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.fixture(scope="module")
def cdnow_transactions():
    frame = pd.read_csv(
        DATA / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["master_id", "id", "date", "cds", "value"],
        dtype={"date": str},
    )
    frame["date"] = pd.to_datetime(frame["date"], format="%Y%m%d")
    return frame


@pytest.fixture(scope="module")
def cdnow_summary():
    return pd.read_csv(DATA / "cdnow_customers_summary.csv").set_index("ID")


def test_summary_from_raw_transactions_reproduces_the_published_cdnow_summary(cdnow_transactions, cdnow_summary):
    summary = lifetime.rfm_summary(
        cdnow_transactions, customer_col="id", datetime_col="date", observation_end="1997-09-30", monetary_col="value"
    )

    assert len(summary) == len(cdnow_summary) == 2357
    joined = cdnow_summary.join(summary, rsuffix="_kiln", how="inner")
    assert len(joined) == 2357
    assert (joined["frequency"] == joined["frequency_kiln"]).all()
    # The published file rounds to two decimals.
    assert np.allclose(joined["recency"], joined["recency_kiln"], atol=0.005 + 1e-9)
    assert np.allclose(joined["T"], joined["T_kiln"], atol=0.005 + 1e-9)


def test_summary_mean_repeat_value_matches_the_published_zbar(cdnow_transactions):
    published = pd.read_csv(DATA / "cdnow_customers_summary_with_transactions.csv").set_index("ID")
    summary = lifetime.rfm_summary(
        cdnow_transactions, customer_col="id", datetime_col="date", observation_end="1997-09-30", monetary_col="value"
    )

    assert np.allclose(summary.loc[published.index, "monetary"], published["zbar"], atol=0.005 + 1e-9)


def test_summary_ignores_transactions_after_the_observation_end(cdnow_transactions):
    summary = lifetime.rfm_summary(
        cdnow_transactions, customer_col="id", datetime_col="date", observation_end="1997-09-30"
    )

    # Customer 1 bought on 1997-01-01, 01-18 and 08-02 in calibration, then again in December.
    assert summary.loc[1, "frequency"] == 2
    assert summary.loc[1, "recency"] == pytest.approx(213 / 7)


def test_bgnbd_fit_matches_the_published_cdnow_parameters(cdnow_summary):
    fit = lifetime.bgnbd_fit(cdnow_summary["frequency"], cdnow_summary["recency"], cdnow_summary["T"])

    assert fit.converged
    assert fit.params["r"] == pytest.approx(0.243, abs=0.001)
    assert fit.params["alpha"] == pytest.approx(4.414, abs=0.001)
    assert fit.params["a"] == pytest.approx(0.793, abs=0.001)
    assert fit.params["b"] == pytest.approx(2.426, abs=0.001)
    assert fit.log_likelihood == pytest.approx(-9582.4, abs=0.05)


def test_bgnbd_fit_on_summary_built_by_kiln_matches_the_paper(cdnow_transactions):
    summary = lifetime.rfm_summary(
        cdnow_transactions, customer_col="id", datetime_col="date", observation_end="1997-09-30"
    )

    fit = lifetime.bgnbd_fit(summary["frequency"], summary["recency"], summary["T"])

    assert fit.params["r"] == pytest.approx(0.243, abs=0.002)
    assert fit.params["b"] == pytest.approx(2.426, abs=0.01)
    assert fit.log_likelihood == pytest.approx(-9582.4, abs=1.0)


def test_gamma_gamma_fit_matches_the_published_cdnow_parameters():
    published = pd.read_csv(DATA / "cdnow_customers_summary_with_transactions.csv")

    fit = lifetime.gamma_gamma_fit(published["x"], published["zbar"])

    # Fader, Hardie & Lee (2005), "RFM and CLV": p = 6.25, q = 3.74, gamma = 15.44.
    assert fit.converged
    assert fit.params["p"] == pytest.approx(6.25, abs=0.01)
    assert fit.params["q"] == pytest.approx(3.74, abs=0.01)
    assert fit.params["v"] == pytest.approx(15.44, abs=0.02)


def test_probability_alive_is_one_without_repeat_and_falls_with_a_long_silence(cdnow_summary):
    params = lifetime.bgnbd_fit(cdnow_summary["frequency"], cdnow_summary["recency"], cdnow_summary["T"]).params

    alive = lifetime.bgnbd_probability_alive(params, [0, 5, 5], [0, 38, 5], [38.86, 38.86, 38.86])

    assert alive[0] == 1.0
    assert alive[1] > 0.85
    assert alive[2] < 0.1


def test_expected_purchases_of_one_time_and_new_buyers_are_finite_and_non_negative(cdnow_summary):
    params = lifetime.bgnbd_fit(cdnow_summary["frequency"], cdnow_summary["recency"], cdnow_summary["T"]).params

    expected = lifetime.bgnbd_expected_purchases(params, 39, [0, 0, 3], [0, 0, 20], [38.86, 0, 38.86])

    assert np.isfinite(expected).all()
    assert (expected >= 0).all()
    # A buyer who just made a first purchase is expected to buy as much as the population average.
    assert expected[1] == pytest.approx(float(lifetime.bgnbd_population_expected(params, 39)), rel=1e-6)


def test_gamma_gamma_expected_value_falls_back_to_population_mean_for_one_time_buyers():
    params = {"p": 6.25, "q": 3.74, "v": 15.44}

    values = lifetime.gamma_gamma_expected_value(params, [0, 10], [0.0, 100.0])

    assert values[0] == pytest.approx(6.25 * 15.44 / 2.74)
    assert values[0] < values[1] < 100.0


def test_clv_is_discounted_and_zero_for_a_dead_buyer(cdnow_summary):
    params = lifetime.bgnbd_fit(cdnow_summary["frequency"], cdnow_summary["recency"], cdnow_summary["T"]).params
    args = ([4, 4], [38, 2], [38.86, 38.86], np.array([50.0, 50.0]))

    undiscounted = lifetime.customer_lifetime_value(
        params, *args, horizon_periods=12, period_length=52 / 12, discount_rate_per_period=0.0
    )
    discounted = lifetime.customer_lifetime_value(
        params, *args, horizon_periods=12, period_length=52 / 12, discount_rate_per_period=0.01
    )

    assert discounted[0] < undiscounted[0]
    assert undiscounted[0] > 10 * undiscounted[1]


def test_fit_reports_failure_instead_of_raising_on_degenerate_data():
    fit = lifetime.gamma_gamma_fit([1, 1], [10.0, 10.0])

    assert not fit.converged
    assert "fewer than 3" in fit.message


# --- the production configuration ----------------------------------------------------


def test_production_configuration_reproduces_the_published_cdnow_bgnbd_parameters_within_one_percent(cdnow_summary):
    fit = purchase_fit(cdnow_summary, lifetime.BGNBD)

    # Fader, Hardie & Lee (2005), "Counting your customers the easy way", table 1.
    assert fit.converged
    for name, published in {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}.items():
        assert fit.params[name] == pytest.approx(published, rel=0.01), name


def test_production_configuration_reproduces_the_published_cdnow_gamma_gamma_parameters_within_one_percent():
    published = pd.read_csv(DATA / "cdnow_customers_summary_with_transactions.csv")
    summary = pd.DataFrame({"frequency": published["x"], "monetary": published["zbar"]})

    fit = spend_fit(summary)

    # Fader, Hardie & Lee (2005), "RFM and CLV: using iso-value curves": p = 6.25, q = 3.74, gamma = 15.44.
    assert fit.converged
    for name, value in {"p": 6.25, "q": 3.74, "v": 15.44}.items():
        assert fit.params[name] == pytest.approx(value, rel=0.01), name


def test_production_penalty_is_off_so_the_fit_is_the_plain_maximum_likelihood():
    assert FIT_PENALIZER == 0.0


def test_mbgnbd_fit_matches_the_published_cdnow_parameters(cdnow_summary):
    fit = purchase_fit(cdnow_summary, lifetime.MBGNBD)

    # BTYDplus (Platzer), as checked by the lifetimes test suite
    # (lifetimes/tests/test_estimation.py, TestModifiedBetaGeoFitter.test_params_out_is_close_to_BTYDplus):
    # r = 0.525, alpha = 6.183, a = 0.891, b = 1.614.
    assert fit.converged
    for name, published in {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}.items():
        assert fit.params[name] == pytest.approx(published, abs=0.002), name


def test_mbgnbd_gives_one_time_buyers_a_probability_alive_below_one_that_falls_with_age(cdnow_summary):
    params = purchase_fit(cdnow_summary, lifetime.MBGNBD).params

    alive = lifetime.purchase_probability_alive(params, [0, 0, 0], [0, 0, 0], [1.0, 20.0, 38.86])

    assert (alive < 1).all()
    assert alive[0] > alive[1] > alive[2] > 0


def test_mbgcnbd_expectation_at_k_one_equals_the_mbgnbd_closed_form(cdnow_summary):
    params = purchase_fit(cdnow_summary, lifetime.MBGNBD).params
    x, t_x, T = [0, 1, 4, 12], [0, 3, 30, 38], [38.86, 38.86, 38.86, 38.86]

    generic = lifetime.mbgcnbd_expected_purchases(params, 1, 39, x, t_x, T)
    closed = lifetime.mbgnbd_expected_purchases_closed_form(params, 39, x, t_x, T)

    assert generic == pytest.approx(closed, rel=1e-6)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_expectations_over_many_horizons_are_those_of_one_call_per_horizon(k):
    """The CLV's 12 horizons share their costly terms; every value must be the one a call per
    horizon gives, exactly (scores and segments must not move with the speed-up)."""
    rng = np.random.default_rng(11)
    x = rng.integers(0, 15, 3000).astype(float)
    T = rng.uniform(1, 52, 3000)
    t_x = np.minimum(T, rng.uniform(0, 52, 3000)) * (x > 0)
    params = {"r": 0.8, "alpha": 4.0, "a": 0.9, "b": 2.5, "model": lifetime.MBGCNBD, "k": k}
    horizons = [0.0, *(month * 52 / 12 for month in range(1, 13))]

    shared = lifetime.purchase_expected_horizons(params, horizons, x, t_x, T)
    generic = lifetime.mbgcnbd_expected_purchases_horizons(params, k, horizons, x, t_x, T)

    for t, values, generic_values in zip(horizons, shared, generic, strict=True):
        np.testing.assert_array_equal(values, lifetime.purchase_expected(params, t, x, t_x, T))
        np.testing.assert_array_equal(generic_values, lifetime.mbgcnbd_expected_purchases(params, k, t, x, t_x, T))


def test_mbgcnbd_picks_a_larger_k_for_regular_erlang_purchasers():
    rng = np.random.default_rng(5)
    n, horizon = 1500, 104.0
    rate = rng.gamma(8.0, 1 / 40.0, size=n)  # mean gap about 4 * 5 weeks with k = 4
    rows = []
    for i in range(n):
        t, times = 0.0, [0.0]
        while True:
            t += rng.gamma(4.0, 1 / rate[i])
            if t > horizon or rng.random() < 0.05:
                break
            times.append(t)
        gaps = np.diff(times)
        rows.append((len(times) - 1, times[-1], horizon, float(np.log(gaps).sum())))
    summary = pd.DataFrame(rows, columns=["frequency", "recency", "T", "litt"])

    fit = purchase_fit(summary, lifetime.MBGCNBD)

    assert fit.converged
    assert 3 <= fit.params["k"] <= 5


def test_regular_buyers_silence_lowers_probability_alive_more_under_mbgcnbd_than_mbgnbd():
    params = {"r": 2.0, "alpha": 20.0, "a": 1.0, "b": 10.0}
    # Six purchases five weeks apart, then a silence of 15 weeks.
    x, t_x, T = [6], [30.0], [45.0]

    regular = lifetime.mbgcnbd_probability_alive(params, 4, x, t_x, T)
    poisson = lifetime.mbgcnbd_probability_alive(params, 1, x, t_x, T)

    assert regular[0] < poisson[0]


def test_holdout_evaluation_reports_every_model_by_frequency_bucket_and_chooses_the_lowest_error(cdnow_transactions):
    evaluation = lifetime.holdout_evaluate(
        cdnow_transactions, customer_col="id", datetime_col="date", monetary_col="value",
        calibration_end="1997-09-30", observation_end="1998-06-30",
    )

    assert set(evaluation["models"]) == set(lifetime.PURCHASE_MODELS)
    errors = {m: e["rmse"] for m, e in evaluation["models"].items()}
    assert errors[evaluation["chosen"]] == min(errors.values())
    buckets = evaluation["models"]["bgnbd"]["buckets"]
    assert [b["frequency"] for b in buckets] == list(lifetime.FREQUENCY_BUCKETS)
    assert sum(b["n"] for b in buckets) == evaluation["n_buyers"] == 2357
    assert evaluation["models"]["bgnbd"]["total_actual"] == pytest.approx(sum(b["n"] * b["actual"] for b in buckets), rel=1e-3)
    assert len(evaluation["clv"]["deciles"]) == 10


def test_lifetime_functions_do_not_warn_on_zero_recency_or_zero_repeat_buyers(cdnow_summary, recwarn):
    params = purchase_fit(cdnow_summary, lifetime.MBGNBD).params | {"model": lifetime.MBGCNBD, "k": 3}

    lifetime.purchase_probability_alive(params, [0, 2], [0, 0.0], [0.0, 5.0])
    lifetime.purchase_expected(params, 13, [0, 2], [0, 0.0], [0.0, 5.0])

    assert not [w for w in recwarn if "divide by zero" in str(w.message)]


def test_on_erlang_regular_buyers_the_cadence_aware_model_forecasts_the_holdout_better_than_bgnbd():
    rng = np.random.default_rng(8)
    start = pd.Timestamp("2025-01-01")
    rows = []
    for customer in range(1200):
        gap_mean = rng.choice([60.0, 100.0]) * rng.gamma(16, 1 / 16)
        t = rng.uniform(0, 300)
        while t < 730:
            rows.append((customer, start + pd.Timedelta(days=float(t)), 40.0 + rng.normal(0, 5)))
            if rng.random() < 0.08:
                break
            t += rng.gamma(4.0, gap_mean / 4.0)
    transactions = pd.DataFrame(rows, columns=["c", "at", "value"])

    evaluation = lifetime.holdout_evaluate(
        transactions, customer_col="c", datetime_col="at", monetary_col="value",
        calibration_end=start + pd.Timedelta(days=548), observation_end=start + pd.Timedelta(days=730),
    )

    models = evaluation["models"]
    assert models["mbgcnbd"]["label"] != "MBG/CNBD-1"
    assert models["mbgcnbd"]["regular"]["rmse"] < models["bgnbd"]["regular"]["rmse"]
    assert evaluation["chosen"] == "mbgcnbd"


# --- the analytic gradients the fits use ---------------------------------------------


def _numeric_gradient(total, params, step=1e-6):
    params = np.asarray(params, dtype=float)
    out = np.empty_like(params)
    for i in range(len(params)):
        up, down = params.copy(), params.copy()
        up[i] += step * params[i]
        down[i] -= step * params[i]
        out[i] = (total(up) - total(down)) / (2 * step * params[i])
    return out


@pytest.fixture(scope="module")
def mixed_buyers():
    rng = np.random.default_rng(11)
    n = 400
    x = rng.integers(0, 9, n).astype(float)
    T = rng.uniform(1.0, 52.0, n)
    t_x = np.where(x > 0, rng.uniform(0.05, 1.0, n) * T, 0.0)
    # Repeat buyers whose last purchase is today: the 'still in the same gap' terms vanish there.
    t_x[:8] = np.where(x[:8] > 0, T[:8], 0.0)
    return x, t_x, T


@pytest.mark.parametrize("params", [(0.24, 4.4, 0.79, 2.4), (5.7, 26.0, 2.9, 11.5), (1.8, 26.0, 1.7e4, 1.6e5)])
def test_bgnbd_gradient_matches_finite_differences(mixed_buyers, params):
    x, t_x, T = mixed_buyers
    terms, gradient = lifetime.bgnbd_log_likelihood_gradient(params, x, t_x, T)

    assert np.allclose(terms, lifetime.bgnbd_log_likelihood_terms(params, x, t_x, T))
    numeric = _numeric_gradient(lambda p: lifetime.bgnbd_log_likelihood_terms(p, x, t_x, T).sum(), params)
    assert np.allclose(gradient.sum(axis=0), numeric, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("k", [1, 2, 4])
@pytest.mark.parametrize("params", [(0.52, 6.2, 0.89, 1.6), (5.7, 26.0, 2.9, 11.5)])
def test_mbgcnbd_gradient_matches_finite_differences(mixed_buyers, k, params):
    x, t_x, T = mixed_buyers
    no_gaps = np.zeros_like(x)
    terms, gradient = lifetime.mbgcnbd_log_likelihood_gradient(params, k, x, t_x, T)

    assert np.allclose(terms, lifetime.mbgcnbd_log_likelihood_terms(params, k, x, t_x, T, no_gaps))
    numeric = _numeric_gradient(lambda p: lifetime.mbgcnbd_log_likelihood_terms(p, k, x, t_x, T, no_gaps).sum(), params)
    assert np.allclose(gradient.sum(axis=0), numeric, rtol=1e-5, atol=1e-5)


def test_gamma_gamma_gradient_matches_finite_differences():
    published = pd.read_csv(DATA / "cdnow_customers_summary_with_transactions.csv")
    repeat = published[published["x"] > 0]
    x, m = repeat["x"].to_numpy(float), repeat["zbar"].to_numpy(float)
    params = (6.25, 3.74, 15.44)
    terms, gradient = lifetime.gamma_gamma_log_likelihood_gradient(params, x, m)

    assert np.allclose(terms, lifetime.gamma_gamma_log_likelihood_terms(params, x, m))
    numeric = _numeric_gradient(lambda p: lifetime.gamma_gamma_log_likelihood_terms(p, x, m).sum(), params)
    assert np.allclose(gradient.sum(axis=0), numeric, rtol=1e-5, atol=1e-4)


def test_gradient_fits_reach_the_published_optimum_in_a_few_dozen_iterations(cdnow_summary):
    fit = lifetime.bgnbd_fit(cdnow_summary["frequency"], cdnow_summary["recency"], cdnow_summary["T"])

    # The gradient-free path took several hundred Nelder-Mead iterations to the same optimum.
    assert fit.converged
    assert fit.iterations < 100
    assert fit.log_likelihood == pytest.approx(-9582.4, abs=0.05)


def test_a_homogeneous_dropout_ridge_is_fitted_to_the_optimum_the_gradient_free_path_finds():
    # Every buyer drops out with the same probability after each repeat purchase: the Beta
    # mixture's a and b grow together towards their bound along a flat ridge.
    rng = np.random.default_rng(3)
    n = 4000
    rate = rng.gamma(2.0, 1 / 8.0, n)
    T = rng.uniform(20.0, 52.0, n)
    x, t_x = np.zeros(n), np.zeros(n)
    for i in range(n):
        t = 0.0
        while True:
            t += rng.exponential(1 / rate[i])
            if t > T[i]:
                break
            x[i] += 1
            t_x[i] = t
            if rng.random() < 0.3:
                break
    fit = lifetime.bgnbd_fit(x, t_x, T)

    assert fit.converged
    assert fit.params["a"] / (fit.params["a"] + fit.params["b"]) == pytest.approx(0.3, abs=0.05)
    (cx, ct, cT), w = lifetime._compress(x, t_x, T)
    slow = lifetime._fit_bounded(
        lambda lp: -np.sum(w * lifetime.bgnbd_log_likelihood_terms(np.exp(lp), cx, ct, cT)) / n,
        (1.0, 1.0, 1.0, 1.0), lifetime.BGNBD_PARAMS, n, 2000,
        lambda p: np.sum(w * lifetime.bgnbd_log_likelihood_terms(p, cx, ct, cT)), None, [lifetime.LOG_BOUNDS] * 4,
    )
    assert fit.log_likelihood >= slow.log_likelihood - 1e-3


def test_a_gradient_pushing_against_a_bound_does_not_count_against_convergence():
    bounds = [lifetime.LOG_BOUNDS] * 3
    at_bounds = np.array([lifetime.LOG_BOUNDS[1], 0.0, lifetime.LOG_BOUNDS[0]])

    # Minimising: a negative gradient at the upper bound, a positive one at the lower bound.
    assert lifetime._projected_gradient_norm(at_bounds, [-5.0, 1e-8, 5.0], bounds) == pytest.approx(1e-8)
    assert lifetime._projected_gradient_norm(at_bounds, [5.0, 0.0, 0.0], bounds) == 5.0
    assert lifetime._projected_gradient_norm(at_bounds, [0.0, -2e-3, 0.0], bounds) == 2e-3
