"""Each KPI against the value worked out by hand from the fixture in conftest.py (see docs/kpis.md)."""

import pytest

from dashboard.kpis import (
    ALL,
    KPIS,
    TIER_HIGH_RISK,
    TIER_LOW_RISK,
    TIER_UNSCORED,
    Segment,
    kpi_compute,
    kpi_compute_all,
)
from tests.dashboard.conftest import OCTOBER, set_score

pytestmark = pytest.mark.django_db


def value(key, **kwargs):
    return kpi_compute(key=key, period=OCTOBER, **kwargs)[ALL].value


def test_cancellation_rate_is_cancelled_over_placed(market):
    # 6 orders placed in October, 1 cancelled.
    assert value("cancellation_rate") == pytest.approx(100 / 6, abs=1e-3)


def test_return_rate_is_returned_over_delivered(market):
    # Delivered: o1, o2, o3, o5; returned: o3.
    assert value("return_rate") == pytest.approx(25.0)


def test_average_order_value_ignores_cancelled_orders(market):
    # (100 + 50 + 80 + 30 + 40) / 5
    assert value("average_order_value") == pytest.approx(60.0)


def test_repeat_purchase_rate_counts_buyers_with_two_sold_orders(market):
    # B1 bought twice; B2 (cancelled one), B3, B4 once.
    assert value("repeat_purchase_rate") == pytest.approx(25.0)


def test_seller_retention_keeps_only_sellers_who_sold_again(market):
    # S3 and S4 sold in September; only S3 sold in October (S4's order was cancelled).
    result = kpi_compute(key="seller_retention_rate", period=OCTOBER)[ALL]
    assert (result.value, result.numerator, result.denominator) == (50.0, 1, 2)


def test_lifetime_value_is_net_spend_to_date_of_active_buyers(market):
    # B1 170, B2 150 - 80 refund = 70, B3 30, B4 40 -> 310 / 4. November orders excluded.
    assert value("lifetime_value") == pytest.approx(77.5)


def test_time_to_first_sale_averages_days_from_approval(market):
    # S1 approved 10-02 first sale 10-12 = 10 days; S2 approved 10-01 first sale 10-03 = 2 days.
    assert value("time_to_first_sale") == pytest.approx(6.0)


def test_onboarding_throughput_and_time_use_approvals_in_the_period(market):
    # S1: 09-20 -> 10-02 = 12 days; S2: 09-28 -> 10-01 = 3 days.
    assert value("onboarding_throughput") == 2
    assert value("average_onboarding_time") == pytest.approx(7.5)


def test_engagement_rate_counts_buyers_who_joined_by_the_end(market):
    # Base: B1, B2, B3, B4, B6 (B5 joined in November). Engaged in October: B1, B3.
    assert value("engagement_rate") == pytest.approx(40.0)


def test_nps_uses_buyer_answers_in_the_period(market):
    # 10, 9, 9, 7, 3 -> 3 promoters, 1 detractor of 5.
    assert value("nps") == pytest.approx(40.0)


def test_breakdown_by_category_splits_the_same_definition(market):
    cancellation = kpi_compute(key="cancellation_rate", period=OCTOBER, group_by="category")
    assert cancellation["ceramics"].value == 0.0
    assert cancellation["jewelry"].value == pytest.approx(50.0)
    first_sale = kpi_compute(key="time_to_first_sale", period=OCTOBER, group_by="category")
    assert first_sale["ceramics"].value == pytest.approx(10.0)
    assert first_sale["jewelry"].value == pytest.approx(2.0)


def test_breakdown_by_tier_uses_the_score_band(market):
    set_score(market.s1, 80)
    set_score(market.s3, 20)
    cancellation = kpi_compute(key="cancellation_rate", period=OCTOBER, group_by="tier")
    assert cancellation[TIER_LOW_RISK].denominator == 1
    assert cancellation[TIER_HIGH_RISK].denominator == 3
    assert cancellation[TIER_UNSCORED].value == pytest.approx(50.0)
    aov_high = kpi_compute(key="average_order_value", period=OCTOBER, segment=Segment(tier=TIER_HIGH_RISK))[ALL]
    assert aov_high.value == pytest.approx((100 + 50 + 40) / 3, abs=0.01)


def test_segment_filter_matches_the_breakdown_row(market):
    for key, definition in KPIS.items():
        if "category" not in definition.group_bys:
            continue
        grouped = kpi_compute(key=key, period=OCTOBER, group_by="category")
        filtered = kpi_compute(key=key, period=OCTOBER, segment=Segment(category="jewelry"))[ALL]
        assert filtered.value == (grouped["jewelry"].value if "jewelry" in grouped else filtered.value), key


def test_lifetime_value_per_category_counts_only_that_category(market):
    by_category = kpi_compute(key="lifetime_value", period=OCTOBER, group_by="category")
    # Ceramics buyers in October: B1 (20 + 100 + 50), B2 (80 - 80), B4 (40) -> 210 / 3.
    assert by_category["ceramics"].value == pytest.approx(70.0)
    # Jewelry: B3 (30) only; B2's jewelry order was cancelled in October.
    assert by_category["jewelry"].value == pytest.approx(30.0)


def test_engagement_rate_refuses_a_category_filter(market):
    with pytest.raises(ValueError, match="marketplace-wide"):
        kpi_compute(key="engagement_rate", period=OCTOBER, segment=Segment(category="jewelry"))


def test_empty_period_has_no_value_rather_than_zero(db):
    values = kpi_compute_all(period=OCTOBER)
    assert values["cancellation_rate"].value is None
    assert values["onboarding_throughput"].value == 0


def test_unknown_category_is_rejected():
    with pytest.raises(ValueError, match="Unknown category"):
        Segment(category="pottery")


def test_tiers_follow_the_active_onboarding_policy(market):
    from sellers.models import OnboardingPolicy

    set_score(market.s1, 75)
    assert set(kpi_compute(key="cancellation_rate", period=OCTOBER, group_by="tier")) == {TIER_LOW_RISK, TIER_UNSCORED}
    OnboardingPolicy.objects.filter(is_active=True).delete()
    OnboardingPolicy.objects.create(name="Stricter", is_active=True, high_max=49, mid_min=50, mid_max=79, low_min=80)
    tiers = kpi_compute(key="cancellation_rate", period=OCTOBER, group_by="tier")
    assert set(tiers) == {"mid", TIER_UNSCORED}
