from datetime import timedelta

from django.utils import timezone

from buyers.factories import RetentionSettingsFactory
from retention.interventions import seller_dormant_cases_open
from buyers.models import SellerDormancy
from casework.models import Case, CaseKind, Team
from marketplace.factories import EngagementEventFactory, OrderFactory
from marketplace.models import EngagementKind
from retention.dormancy import seller_dormancy_recompute
from sellers.factories import SellerFactory

NOW = timezone.now().replace(microsecond=0)


def _sales(seller, days_ago: list[int]):
    for days in days_ago:
        OrderFactory(seller=seller, placed_at=NOW - timedelta(days=days))


def _updates(seller, days_ago: list[int]):
    for days in days_ago:
        EngagementEventFactory(buyer=None, seller=seller, kind=EngagementKind.LISTING_UPDATE, occurred_at=NOW - timedelta(days=days))


def _steady(seller, *, stop_recent: bool):
    # Two years of steady trade: a sale and a listing update every 10 days.
    days = [d for d in range(5, 800, 10) if not (stop_recent and d < 90)]
    _sales(seller, days)
    _updates(seller, days)


def _long_standing(**kwargs):
    return SellerFactory(applied_at=NOW - timedelta(days=900), **kwargs)


def test_artisan_whose_sales_and_listings_fall_against_last_year_is_flagged_with_explanation(db):
    declining = _long_standing()
    _steady(declining, stop_recent=True)
    steady = _long_standing()
    _steady(steady, stop_recent=False)

    flagged = seller_dormancy_recompute(as_of=NOW)

    assert flagged == [declining.pk]
    row = SellerDormancy.objects.get(seller=declining)
    assert row.signals["sales_falling"] and row.signals["listing_activity_falling"]
    assert row.signals["baseline"] == "same 90 days last year"
    assert "sales 0 vs 9" in row.explanation
    assert not SellerDormancy.objects.get(seller=steady).is_flagged


def test_seasonal_artisan_is_not_flagged_in_its_normal_off_season(db):
    # Sells only in the ~90 days around the holidays; "now" is that season + ~6 months.
    ornaments = _long_standing(is_seasonal=True)
    season_days = [d for year in (0, 1) for d in range(180 + 365 * year, 270 + 365 * year, 3)]
    _sales(ornaments, season_days)
    _updates(ornaments, season_days[::3])

    flagged = seller_dormancy_recompute(as_of=NOW)

    assert flagged == []
    row = SellerDormancy.objects.get(seller=ornaments)
    assert not row.is_flagged
    assert row.signals["sales"][1] == 0  # nothing in the same months last year either
    assert row.in_off_season and "off-season" in row.explanation


def test_seasonal_artisan_missing_its_own_season_is_flagged(db):
    ornaments = _long_standing(is_seasonal=True)
    # Busy in these months last year (and the year before), silent this year.
    _sales(ornaments, [d for year in (1, 2) for d in range(5 + 365 * year, 85 + 365 * year, 3)])
    _updates(ornaments, [d for year in (1, 2) for d in range(5 + 365 * year, 85 + 365 * year, 9)])

    assert seller_dormancy_recompute(as_of=NOW) == [ornaments.pk]


def test_slipping_fulfilment_is_flagged(db):
    seller = _long_standing()
    for days in range(100, 180, 8):
        OrderFactory(seller=seller, placed_at=NOW - timedelta(days=days))
    for days in range(5, 85, 8):
        placed = NOW - timedelta(days=days)
        OrderFactory(seller=seller, placed_at=placed, ship_by=placed + timedelta(days=1), shipped_at=placed + timedelta(days=4))

    seller_dormancy_recompute(as_of=NOW)

    row = SellerDormancy.objects.get(seller=seller)
    assert row.is_flagged and row.signals["fulfilment_slipping"]
    assert "late shipments 100% vs 0%" in row.explanation


def test_dormant_artisans_get_one_seller_support_case(db):
    RetentionSettingsFactory(holdout_share=0.0)
    declining = _long_standing()
    _steady(declining, stop_recent=True)
    seller_dormancy_recompute(as_of=NOW)

    seller_dormant_cases_open()
    seller_dormant_cases_open()

    case = Case.objects.get()
    assert (case.kind, case.team, case.seller_id) == (CaseKind.SELLER_DORMANT, Team.SELLER_SUPPORT, declining.pk)
    assert case.evidence["sales"] == [0, 9]
    assert "Declining" in case.reason
