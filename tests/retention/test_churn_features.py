"""Churn precursors as features: engagement trend, service failures, overdue against own cadence."""

from datetime import timedelta

import pandas as pd
import pytest
from django.utils import timezone

from buyers.factories import BuyerFactory
from retention.features import NO_BAD_ORDER_DAYS, churn_feature_frame
from retention.services import buyer_summary_frame
from marketplace.factories import EngagementEventFactory, OrderFactory
from marketplace.models import EngagementKind


@pytest.fixture
def now():
    return timezone.now().replace(microsecond=0)


def _logins(buyer, now, days_ago):
    for d in days_ago:
        EngagementEventFactory(buyer=buyer, kind=EngagementKind.LOGIN, occurred_at=now - timedelta(days=d))


def test_a_cooling_buyer_has_a_falling_login_trend_and_a_steady_one_does_not(db, now):
    cooling, steady = BuyerFactory(), BuyerFactory()
    for buyer in (cooling, steady):
        OrderFactory(buyer=buyer, placed_at=now - timedelta(days=40))
    _logins(cooling, now, [100, 110, 120, 130, 140, 150, 60])
    _logins(steady, now, [100, 120, 140, 160, 10, 30, 50, 70])

    frame = churn_feature_frame(as_of=now)

    assert frame.loc[cooling.pk, "logins_prev_90d"] == 6 and frame.loc[cooling.pk, "logins_90d"] == 1
    assert frame.loc[cooling.pk, "login_trend"] < 0.5 < frame.loc[steady.pk, "login_trend"]


def test_late_cancelled_and_returned_orders_count_as_service_failures_with_the_latest_dated(db, now):
    buyer, happy = BuyerFactory(), BuyerFactory()
    placed = now - timedelta(days=50)
    OrderFactory(buyer=buyer, placed_at=placed, ship_by=placed + timedelta(days=1), shipped_at=placed + timedelta(days=4))
    OrderFactory(buyer=buyer, placed_at=now - timedelta(days=20), status="cancelled", cancelled_at=now - timedelta(days=19))
    OrderFactory(buyer=happy, placed_at=now - timedelta(days=20))

    frame = churn_feature_frame(as_of=now)

    assert frame.loc[buyer.pk, "late_orders_180d"] == 1
    assert frame.loc[buyer.pk, "cancelled_orders_180d"] == 1
    assert frame.loc[buyer.pk, "days_since_last_bad_order"] == pytest.approx(20, abs=0.01)
    assert frame.loc[happy.pk, "days_since_last_bad_order"] == NO_BAD_ORDER_DAYS


def test_overdue_ratio_measures_silence_against_the_buyers_own_cadence_and_p_alive_comes_from_the_caller(db, now):
    buyer = BuyerFactory()
    for d in (200, 170, 140, 110, 80):
        OrderFactory(buyer=buyer, placed_at=now - timedelta(days=d))

    frame = churn_feature_frame(as_of=now, p_alive=pd.Series({buyer.pk: 0.4}))

    assert frame.loc[buyer.pk, "cadence_days"] == pytest.approx(30)
    assert frame.loc[buyer.pk, "overdue_ratio"] == pytest.approx(80 / 30, rel=1e-3)
    assert frame.loc[buyer.pk, "p_alive"] == 0.4


def test_the_cadence_of_the_buyer_summary_gives_the_same_features_as_reading_the_orders_again(db, now):
    regular, once, twice_a_day = BuyerFactory(), BuyerFactory(), BuyerFactory()
    for d in (200, 171, 139, 110, 80):
        OrderFactory(buyer=regular, placed_at=now - timedelta(days=d, hours=d % 7))
    OrderFactory(buyer=once, placed_at=now - timedelta(days=30))
    for d in (90, 90, 45):
        OrderFactory(buyer=twice_a_day, placed_at=now - timedelta(days=d))
    OrderFactory(buyer=BuyerFactory(), placed_at=now - timedelta(days=10), status="cancelled", cancelled_at=now - timedelta(days=9))

    own_read = churn_feature_frame(as_of=now)
    shared = churn_feature_frame(as_of=now, cadence=buyer_summary_frame(as_of=now)["cadence_days"])

    pd.testing.assert_frame_equal(own_read, shared, check_exact=True)
    assert shared.loc[regular.pk, "cadence_days"] == pytest.approx(30, abs=1)
