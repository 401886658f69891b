import csv
import io

import pytest

from buyers.factories import BuyerFactory, InterventionAssignmentFactory
from core.factories import UserFactory
from core.roles import CUSTOMER_SUCCESS
from marketplace.factories import OrderFactory

pytestmark = pytest.mark.django_db
URL = "/admin/dashboard/did-it-work/"
CSV_URL = "/admin/dashboard/did-it-work.csv"


@pytest.fixture
def staff_client(client):
    client.force_login(UserFactory(roles=[CUSTOMER_SUCCESS]))
    return client


def _arms(treated_bought, treated, held_bought, held):
    from datetime import timedelta

    for arm, bought, total in (("treated", treated_bought, treated), ("holdout", held_bought, held)):
        for i in range(total):
            a = InterventionAssignmentFactory(arm=arm, buyer=BuyerFactory())
            if i < bought:
                OrderFactory(buyer=a.buyer, placed_at=a.flagged_at + timedelta(days=5))


def test_only_staff_reach_the_page_and_its_csv(client):
    assert client.get(URL).status_code == 302
    assert client.get(CSV_URL).status_code == 302
    client.force_login(UserFactory(is_staff=False))
    assert client.get(URL).status_code == 302


def test_empty_state_explains_when_results_appear(staff_client):
    response = staff_client.get(URL)

    assert response.status_code == 200
    assert "No intervention has a closed outcome window yet" in response.content.decode()
    assert "dw-chart" not in response.content.decode()


def test_page_shows_lift_interval_chart_and_cases_needed(staff_client):
    _arms(treated_bought=30, treated=40, held_bought=4, held=20)

    body = staff_client.get(URL).content.decode()

    assert "Buyer churn risk" in body and "75.0%" in body and "20.0%" in body
    assert "+55.0 pts" in body and "It works" in body
    assert '<svg class="kiln-chart lift"' in body


def test_csv_has_the_raw_numbers(staff_client):
    _arms(treated_bought=6, treated=12, held_bought=2, held=5)

    response = staff_client.get(CSV_URL)

    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:3] == ["intervention", "outcome", "treated"]
    (row,) = rows[1:]
    assert row[:7] == ["buyer_churn_risk", "retained", "12", "0.5", "5", "0.4", "0.1"]
    assert row[9] == "no" and int(row[11]) > 0


def test_dashboard_links_to_the_page(staff_client):
    assert 'href="/admin/dashboard/did-it-work/"' in staff_client.get("/admin/dashboard/").content.decode()
