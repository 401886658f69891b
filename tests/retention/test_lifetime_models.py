"""BG/NBD and Gamma-Gamma against the published CDNOW results (no database needed)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from buyers import lifetime

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
