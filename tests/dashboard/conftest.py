"""A small hand-built marketplace whose KPIs are worked out by hand in docs/kpis.md and the tests.

Period under test: October 2026 (2026-10-01 .. 2026-10-31); the previous period is
2026-08-31 .. 2026-09-30.
"""

from datetime import datetime, timezone as dt_timezone
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.apps import apps

from buyers.factories import BuyerFactory
from marketplace.factories import EngagementEventFactory, OrderFactory, ReturnFactory
from marketplace.models import EngagementKind, OrderStatus
from sellers.factories import SellerFactory
from sellers.models import CraftCategory

from dashboard.kpis import Period


def at(month, day, year=2026, hour=12):
    return datetime(year, month, day, hour, tzinfo=dt_timezone.utc)


OCTOBER = Period(start=datetime(2026, 10, 1).date(), end=datetime(2026, 10, 31).date())


def make_response(*, nps, submitted_at, seller=None, buyer=None, respondent_kind="buyer", n=[0]):  # noqa: B006
    """A feedback response with an NPS answer (feedback's own factories may not exist)."""
    Survey = apps.get_model("feedback", "Survey")
    Source = apps.get_model("feedback", "FeedbackSource")
    Response = apps.get_model("feedback", "Response")
    survey, _ = Survey.objects.get_or_create(slug="nps-test", defaults={"name": "NPS"})
    source, _ = Source.objects.get_or_create(slug="native-test", defaults={"name": "Native", "kind": "native"})
    n[0] += 1
    return Response.objects.create(
        source=source,
        survey=survey,
        external_id=f"resp-{n[0]}-{nps}-{submitted_at:%j%H}",
        respondent_kind=respondent_kind,
        buyer=buyer,
        seller=seller,
        match_status="matched" if (buyer or seller) else "unmatched",
        nps=nps,
        submitted_at=submitted_at,
    )


def set_score(seller, score):
    SellerScore = apps.get_model("scoring", "SellerScore")
    SellerScore.objects.create(seller=seller, score=score, probability=score / 100, computed_at=at(10, 1))


@pytest.fixture
def market(db):
    """Four artisans, six buyers and the orders behind every hand-computed KPI value."""
    s1 = SellerFactory(name="S1 new ceramicist", craft_category=CraftCategory.CERAMICS,
                       applied_at=at(9, 20), approved_at=at(10, 2))
    s2 = SellerFactory(name="S2 new jeweller", craft_category=CraftCategory.JEWELRY,
                       applied_at=at(9, 28), approved_at=at(10, 1))
    s3 = SellerFactory(name="S3 steady ceramicist", craft_category=CraftCategory.CERAMICS,
                       applied_at=at(1, 1, 2025), approved_at=at(1, 5, 2025))
    s4 = SellerFactory(name="S4 lapsed jeweller", craft_category=CraftCategory.JEWELRY,
                       applied_at=at(1, 1, 2025), approved_at=at(1, 5, 2025))
    joined = at(6, 1, 2025)
    b1, b2, b3, b4, b6 = (BuyerFactory(joined_at=joined) for _ in range(5))
    b5 = BuyerFactory(joined_at=at(11, 15))  # joined after October: outside the engagement base

    # Previous period (September): S3 and S4 both sell.
    OrderFactory(buyer=b1, seller=s3, total_amount=Decimal("20.00"), placed_at=at(9, 10))
    OrderFactory(buyer=b2, seller=s4, total_amount=Decimal("70.00"), placed_at=at(9, 15))
    # October.
    o1 = OrderFactory(buyer=b1, seller=s3, total_amount=Decimal("100.00"), placed_at=at(10, 4))
    o2 = OrderFactory(buyer=b1, seller=s3, total_amount=Decimal("50.00"), placed_at=at(10, 8))
    o3 = OrderFactory(buyer=b2, seller=s1, total_amount=Decimal("80.00"), placed_at=at(10, 12), status=OrderStatus.RETURNED)
    ReturnFactory(order=o3, refund_amount=Decimal("80.00"))
    o4 = OrderFactory(buyer=b2, seller=s4, total_amount=Decimal("60.00"), placed_at=at(10, 15), status=OrderStatus.CANCELLED)
    o5 = OrderFactory(buyer=b3, seller=s2, total_amount=Decimal("30.00"), placed_at=at(10, 3))
    o6 = OrderFactory(buyer=b4, seller=s3, total_amount=Decimal("40.00"), placed_at=at(10, 20), status=OrderStatus.PLACED)
    # November: after the period, must not count.
    OrderFactory(buyer=b1, seller=s1, total_amount=Decimal("999.00"), placed_at=at(11, 2))

    EngagementEventFactory(buyer=b1, kind=EngagementKind.LOGIN, occurred_at=at(10, 5))
    EngagementEventFactory(buyer=b1, kind=EngagementKind.MESSAGE, occurred_at=at(10, 6))
    EngagementEventFactory(buyer=b3, kind=EngagementKind.STORY_SHARE, occurred_at=at(10, 30))
    EngagementEventFactory(buyer=b4, kind=EngagementKind.LOGIN, occurred_at=at(9, 29))
    EngagementEventFactory(buyer=b5, kind=EngagementKind.LOGIN, occurred_at=at(10, 29))

    for nps, seller in [(10, s3), (9, s3), (9, s1), (7, s2), (3, s2)]:
        make_response(nps=nps, seller=seller, buyer=b1, submitted_at=at(10, 10))
    make_response(nps=0, seller=s3, respondent_kind="seller", submitted_at=at(10, 10))  # artisan survey: excluded
    make_response(nps=0, seller=s3, buyer=b1, submitted_at=at(9, 10))  # September: excluded

    return SimpleNamespace(s1=s1, s2=s2, s3=s3, s4=s4, b1=b1, b2=b2, b3=b3, b4=b4, b5=b5, b6=b6,
                           orders=[o1, o2, o3, o4, o5, o6])


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    # Lets the browser fixtures know whether the test body failed, to keep a screenshot of it.
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.rep_call = report
