"""Churn precursors as features: engagement trend, service failures, overdue against own cadence."""

from datetime import timedelta

import pandas as pd
import pytest
from django.utils import timezone

from buyers.factories import BuyerFactory
from retention import features
from retention.features import NEUTRAL_RATING, NO_BAD_ORDER_DAYS, churn_feature_frame
from retention.services import buyer_summary_frame
from marketplace.factories import EngagementEventFactory, OrderFactory, ReturnFactory, ReviewFactory
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


def test_the_aggregates_read_in_one_statement_give_the_frame_of_one_query_per_table(db, now, monkeypatch):
    engaged, reviewer, returner, quiet = BuyerFactory(), BuyerFactory(), BuyerFactory(), BuyerFactory()
    for buyer in (engaged, reviewer, returner, quiet):
        OrderFactory(buyer=buyer, placed_at=now - timedelta(days=60), total_amount="12.35")
    _logins(engaged, now, [5, 40, 100, 170])
    EngagementEventFactory(buyer=engaged, kind=EngagementKind.FOLLOW_ARTISAN, occurred_at=now - timedelta(days=3))
    placed = now - timedelta(days=30)
    ReviewFactory(order=OrderFactory(buyer=reviewer, placed_at=placed), rating=2, created_at=now - timedelta(days=20))
    ReviewFactory(order=OrderFactory(buyer=reviewer, placed_at=placed), rating=5, created_at=now - timedelta(days=200))
    ReturnFactory(order=OrderFactory(buyer=returner, placed_at=placed, returned_at=now - timedelta(days=10)), created_at=now - timedelta(days=10))
    OrderFactory(buyer=BuyerFactory(), placed_at=placed, status="cancelled", cancelled_at=placed + timedelta(hours=1))
    low, high = min(b.pk for b in (engaged, reviewer, returner, quiet)), max(b.pk for b in (engaged, reviewer, returner, quiet)) + 5

    one_statement = churn_feature_frame(as_of=now, id_range=(low, high))
    monkeypatch.setattr(features, "ONE_STATEMENT_VENDORS", ())
    per_table = churn_feature_frame(as_of=now, id_range=(low, high))

    pd.testing.assert_frame_equal(one_statement, per_table, check_exact=True)
    assert one_statement.loc[engaged.pk, "logins_90d"] == 2 and one_statement.loc[engaged.pk, "follows"] == 1
    assert one_statement.loc[reviewer.pk, "detractor_reviews_365d"] == 1
    assert one_statement.loc[returner.pk, "returns"] == 1
    assert one_statement.loc[quiet.pk, "mean_rating_given"] == NEUTRAL_RATING
