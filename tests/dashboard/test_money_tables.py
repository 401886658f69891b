"""The dashboard's KPI and by-category tables show money with its symbol; their CSV exports keep plain numbers."""

import csv
import io
import re
from datetime import datetime, timezone as dt_timezone
from decimal import Decimal

import pytest
from django.urls import reverse

from buyers.factories import BuyerFactory
from marketplace.factories import OrderFactory
from sellers.factories import SellerFactory
from sellers.models import CraftCategory

pytestmark = pytest.mark.django_db

DASHBOARD = "/admin/dashboard/"
OCT = {"start": "2026-10-01", "end": "2026-10-31", "breakdown": "category"}


@pytest.fixture
def big_orders(db):
    """Two ceramics orders in October: $1,234.50 and $2,000.00, so the average order value is $1,617.25."""
    seller = SellerFactory(craft_category=CraftCategory.CERAMICS)
    buyer = BuyerFactory(joined_at=datetime(2026, 1, 1, tzinfo=dt_timezone.utc))
    for day, amount in ((5, "1234.50"), (12, "2000.00")):
        OrderFactory(seller=seller, buyer=buyer, total_amount=Decimal(amount),
                     placed_at=datetime(2026, 10, day, 12, tzinfo=dt_timezone.utc))


def _section(page: str, key: str) -> str:
    return re.search(rf'<details id="table-{key}".*?</details>', page, re.S).group(0)


def _row(section: str, first_cell: str) -> str:
    return re.search(rf"<tr><td>{re.escape(first_cell)}</td>.*?</tr>", section, re.S).group(0)


def _csv(client, key):
    response = client.get(reverse("dashboard:export", args=[key]), OCT)
    assert response.status_code == 200
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_kpi_table_shows_money_with_the_currency_symbol_and_thousands(client, admin_user, big_orders):
    client.force_login(admin_user)

    kpis = _section(client.get(DASHBOARD, OCT).content.decode(), "kpis")

    row = _row(kpis, "Average order value")
    assert "<td>$1,617.25</td>" in row and "<td>$3,234.50</td>" in row
    assert "1617.25" not in row and "1,617.25</td>" not in row.replace("$1,617.25", "")


def test_money_tiles_show_their_basis_as_money(client, admin_user, big_orders):
    client.force_login(admin_user)

    page = client.get(DASHBOARD, OCT).content.decode()

    tile = re.search(r'id="tile-average_order_value".*?</span>\s*(?:</a>|</div>)', page, re.S).group(0)
    assert '<span class="kd-basis">$3,234.50 / 2</span>' in tile


def test_kpi_snapshot_list_shows_a_money_numerator_as_money(client, admin_user):
    from datetime import date

    from dashboard.models import KpiSnapshot

    KpiSnapshot.objects.create(as_of=date(2026, 10, 31), window_days=30, kpi="average_order_value", group_by="all",
                               group="all", value=1617.25, numerator=3234.5, denominator=2)
    client.force_login(admin_user)

    page = client.get(reverse("admin:dashboard_kpisnapshot_changelist")).content.decode()

    assert "$3,234.50" in page and ">3,234.50<" not in page


def test_by_category_table_shows_money_with_the_currency_symbol(client, admin_user, big_orders):
    client.force_login(admin_user)

    breakdown = _section(client.get(DASHBOARD, OCT).content.decode(), "breakdown")

    assert "<td>$1,617.25</td>" in _row(breakdown, "Ceramics") and "1,617.25</td>" not in breakdown.replace("$1,617.25", "")


def test_kpi_csv_keeps_plain_numbers_and_names_the_currency(client, admin_user, big_orders):
    client.force_login(admin_user)

    header, *rows = _csv(client, "kpis")

    row = dict(zip(header, next(r for r in rows if r[0] == "Average order value")))
    assert float(row["Value"]) == pytest.approx(1617.25) and float(row["Numerator"]) == pytest.approx(3234.5)
    assert row["Unit"] == "$"


def test_by_category_csv_keeps_plain_numbers_under_a_header_naming_the_currency(client, admin_user, big_orders):
    client.force_login(admin_user)

    header, *rows = _csv(client, "breakdown")

    assert "Average order value ($)" in header and "Average order value" not in header
    ceramics = dict(zip(header, next(r for r in rows if r[0] == "Ceramics")))
    assert float(ceramics["Average order value ($)"]) == pytest.approx(1617.25)
    assert "$" not in "".join(ceramics.values())



def test_csv_numbers_keep_four_decimals_not_binary_noise():
    from dashboard.report import Table
    from dashboard.views import _csv_download

    table = Table("kpis", "KPIs", ["KPI", "Value", "Numerator", "Denominator"],
                  [["Lifetime value", 208997.829999999, 3, None], ["NPS", 8.27591, 12, 0.1 + 0.2]])

    response = _csv_download(table, filename="kpis.csv")

    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[1] == ["Lifetime value", "208997.83", "3", ""]
    assert rows[2] == ["NPS", "8.2759", "12", "0.3"]
