import csv
import io
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from casework.factories import CaseFactory
from casework.models import CaseKind, Team
from dashboard.models import AlertThreshold
from dashboard.services import snapshot_record
from marketplace.factories import OrderFactory
from marketplace.models import OrderStatus
from tests.dashboard.conftest import OCTOBER

pytestmark = pytest.mark.django_db
URL = "/admin/dashboard/"
OCT = {"start": "2026-10-01", "end": "2026-10-31"}


def test_dashboard_shows_tiles_charts_and_queues_for_staff(client, market, cs_user):
    client.force_login(cs_user)
    response = client.get(URL, OCT)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="tile-return_rate"' in body and "25.0%" in body
    for chart in ("chart-cohort", "chart-nps", "chart-scores", "chart-funnel", "chart-onboarding-time", "chart-themes"):
        assert f'id="{chart}"' in body
    assert body.count("<svg") >= 6
    # Drill-down from the cancellation tile to the cancelled orders of the period.
    assert ("/admin/marketplace/order/?placed_at__gte=2026-10-01T00%3A00%3A00%2B00%3A00"
            "&amp;placed_at__lt=2026-11-01T00%3A00%3A00%2B00%3A00&amp;status__exact=cancelled") in body
    # Inside the admin: the admin's header and the user's name.
    assert 'id="site-name"' in body and "cs" in body


def test_dashboard_requires_staff_login(client):
    response = client.get(URL)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


@pytest.mark.parametrize(
    "params, message",
    [
        ({"start": "2026-10-31", "end": "2026-10-01"}, "is after the end date"),
        ({"start": "2026-13-40"}, "start: Enter a valid date."),
        ({"colour": "blue"}, "Unknown filter &#x27;colour&#x27;"),
        ({"category": "pottery"}, "Select a valid choice"),
        ({"start": "2020-01-01", "end": "2026-10-01"}, "Pick at most 731 days"),
        ({"end": (date.today() + timedelta(days=40)).isoformat()}, "is in the future"),
    ],
)
def test_bad_filters_show_a_clear_message_not_a_500(client, admin_user, params, message):
    client.force_login(admin_user)
    response = client.get(URL, params)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert 'id="kpi-tiles"' in response.content.decode()


def test_category_filter_narrows_tiles_and_links(client, market, admin_user):
    client.force_login(admin_user)
    body = client.get(URL, {**OCT, "category": "jewelry"}).content.decode()
    assert "seller__craft_category__exact=jewelry" in body
    assert 'id="tile-engagement_rate"' not in body  # marketplace-wide KPI, not per category
    assert "50.0%" in body  # jewelry cancellation rate


def test_every_table_exports_as_csv(client, market, admin_user):
    client.force_login(admin_user)
    page = client.get(URL, OCT)
    for key, table in page.context["tables"].items():
        response = client.get(reverse("dashboard:export", args=[key]), OCT)
        assert response.status_code == 200, key
        assert response["Content-Type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(response.content.decode())))
        assert rows[0] == table.csv_headers
        assert len(rows) == len(table.rows) + 1


def test_kpi_csv_holds_the_hand_computed_values(client, market, admin_user):
    client.force_login(admin_user)
    rows = list(csv.DictReader(io.StringIO(client.get(reverse("dashboard:export", args=["kpis"]), OCT).content.decode())))
    by_label = {row["KPI"]: row for row in rows}
    assert float(by_label["Average order value"]["Value"]) == pytest.approx(60.0)
    assert by_label["Cancellation rate"]["Numerator"] in ("1", "1.0")


def test_unknown_export_table_is_404_and_bad_filters_are_400(client, admin_user):
    client.force_login(admin_user)
    assert client.get(reverse("dashboard:export", args=["nope"])).status_code == 404
    response = client.get(reverse("dashboard:export", args=["kpis"]), {"start": "x"})
    assert response.status_code == 400 and b"start: Enter a valid date." in response.content


def test_queue_counts_show_open_overdue_and_mine_for_the_users_team(client, cs_user, support_user):
    CaseFactory.create_batch(2, kind=CaseKind.ONBOARDING_REVIEW, team=Team.CUSTOMER_SUCCESS)
    CaseFactory(kind=CaseKind.BUYER_CHURN_RISK, team=Team.CUSTOMER_SUCCESS, assignee=cs_user, seller=None,
                buyer=OrderFactory().buyer, due_at=date(2020, 1, 1).isoformat() + "T00:00Z")
    CaseFactory(kind=CaseKind.ONBOARDING_CALL, team=Team.SELLER_SUPPORT)
    client.force_login(cs_user)
    queues = {q["team"]: q for q in client.get(URL).context["report"].queues}
    assert set(queues) == {"customer_success"}
    assert (queues["customer_success"]["open"], queues["customer_success"]["overdue"], queues["customer_success"]["mine"]) == (3, 1, 1)


def test_tile_shows_threshold_state(client, market, admin_user):
    client.force_login(admin_user)
    tiles = {t["key"]: t for t in client.get(URL, OCT).context["report"].tiles}
    assert tiles["return_rate"]["state"] == "breach"  # 25% > 5%
    AlertThreshold.objects.filter(kpi="return_rate").update(value=Decimal("30"))
    tiles = {t["key"]: t for t in client.get(URL, OCT).context["report"].tiles}
    assert tiles["return_rate"]["state"] == "ok"


def test_snapshots_feed_the_tiles_and_sparklines(client, market, admin_user):
    for offset in range(3):
        snapshot_record(as_of=OCTOBER.end - timedelta(days=offset))
    client.force_login(admin_user)
    response = client.get(URL, {"start": "2026-10-02", "end": "2026-10-31"})
    report = response.context["report"]
    assert report.from_snapshot
    tiles = {t["key"]: t for t in report.tiles}
    assert len(tiles["return_rate"]["trend"]) == 3
    assert 'class="kiln-chart sparkline"' in response.content.decode()


# --- page budgets ------------------------------------------------------------------------------


def _grow(market, n):
    """Add n more orders and cases, so the same page is measured over more data."""
    for i in range(n):
        OrderFactory(seller=market.s3, placed_at=OCTOBER.start_at + timedelta(days=i % 28, hours=1),
                     status=OrderStatus.CANCELLED if i % 5 == 0 else OrderStatus.DELIVERED)
    CaseFactory.create_batch(n, kind=CaseKind.ONBOARDING_REVIEW, team=Team.CUSTOMER_SUCCESS)


def _count(client, url, params=None):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params or {})
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize("url, params", [
    (URL, OCT),
    (URL, {**OCT, "category": "ceramics", "breakdown": "tier"}),
    ("/admin/casework/case/", {"queue": "active"}),
    ("/admin/casework/case/", {"queue": "overdue", "team__exact": "customer_success"}),
    ("/admin/sellers/onboardingqueuecase/", {}),
    ("/admin/", {}),
])
def test_pages_load_in_the_same_number_of_queries_with_5_or_50_rows(client, market, admin_user, url, params):
    client.force_login(admin_user)
    _grow(market, 5)
    small = _count(client, url, params)
    _grow(market, 45)
    large = _count(client, url, params)
    assert large == small
    assert large <= 80
