"""A drop threshold reads as a sentence wherever it is shown: "drops by more than 10.0% from the previous period"."""

from datetime import date, datetime, timezone as dt_timezone
from decimal import Decimal

import pytest
from django.urls import reverse

from core.models import OutboxMessage
from dashboard import services
from dashboard.kpis import KpiValue
from dashboard.models import Alert, AlertThreshold, Condition
from dashboard.services import alert_evaluate

pytestmark = pytest.mark.django_db

SENTENCE = "drops by more than 10.0% from the previous period"
OLD_LABEL = "(% of the previous period)"
OCT = {"start": "2026-10-01", "end": "2026-10-31"}


@pytest.fixture
def drop_threshold(db):
    # Seeded with the defaults: average order value alerts when it drops by more than 10%.
    return AlertThreshold.objects.get(kpi="average_order_value", condition=Condition.DROPS_BY)


@pytest.fixture
def drop_alert(drop_threshold):
    return Alert.objects.create(
        threshold=drop_threshold, kpi="average_order_value", period_start=date(2026, 10, 2), period_end=date(2026, 10, 31),
        value=48.2, baseline=60.0, threshold_value=Decimal("10.00"),
        opened_at=datetime(2026, 11, 1, 6, 0, tzinfo=dt_timezone.utc),
        evidence={"numerator": 4820.0, "denominator": 100, "extra": {}, "as_of": "2026-10-31", "window_days": 30,
                  "previous": {"value": 60.0, "numerator": 6000.0, "denominator": 100}},
    )


def _page(client, user, url, params=None):
    client.force_login(user)
    response = client.get(url, params)
    assert response.status_code == 200
    return response.content.decode()


def test_threshold_list_reads_each_threshold_as_a_sentence(client, admin_user, drop_threshold):
    page = _page(client, admin_user, reverse("admin:dashboard_alertthreshold_changelist"))

    assert SENTENCE in page and "is above 5.0%" in page
    assert OLD_LABEL not in page


def test_threshold_page_is_titled_with_its_sentence(client, admin_user, drop_threshold):
    page = _page(client, admin_user, reverse("admin:dashboard_alertthreshold_change", args=[drop_threshold.pk]))

    assert f"Average order value {SENTENCE}" in page
    assert OLD_LABEL not in page and "10.00</h2>" not in page


def test_alert_list_and_page_show_the_drop_as_a_sentence(client, admin_user, drop_alert):
    listing = _page(client, admin_user, reverse("admin:dashboard_alert_changelist"))
    alert_page = _page(client, admin_user, reverse("admin:dashboard_alert_change", args=[drop_alert.pk]))

    for page in (listing, alert_page):
        assert SENTENCE in page and OLD_LABEL not in page


def test_dashboard_shows_the_open_drop_alert_and_the_tile_rule_as_sentences(client, admin_user, drop_alert):
    client.force_login(admin_user)

    response = client.get("/admin/dashboard/", OCT)

    page = response.content.decode()
    assert f"(threshold {SENTENCE}" in page and OLD_LABEL not in page
    assert response.context["tables"]["alerts"].rows[0][4] == SENTENCE
    notes = {tile["key"]: tile["state_note"] for tile in response.context["report"].tiles}
    assert notes["repeat_purchase_rate"] == f"alert if it {SENTENCE}"


def test_alert_email_names_the_drop_as_a_sentence(drop_threshold, monkeypatch):
    def average_order_value(*, key, period, group_by=None, segment=None):
        # $60 in the previous 30 days, $48 in the 30 days to 31 October: a 20% drop.
        value = KpiValue(48.0 if period.end == date(2026, 10, 31) else 60.0, 4800.0, 100)
        return {"ceramics": value} if group_by else {"all": value}

    monkeypatch.setattr(services, "kpi_compute", average_order_value)

    alert_evaluate(threshold_id=drop_threshold.pk, as_of=date(2026, 10, 31))

    mail = OutboxMessage.objects.get(subject__startswith="KPI alert: Average order value")
    assert mail.subject == f"KPI alert: Average order value {SENTENCE}"
    assert f"Threshold: {SENTENCE}." in mail.body


def test_alert_email_states_values_in_their_unit_and_days_as_the_back_office_writes_them(drop_threshold, monkeypatch):
    def average_order_value(*, key, period, group_by=None, segment=None):
        value = KpiValue(48.0 if period.end == date(2026, 10, 31) else 60.0, 4800.0, 100)
        return {"ceramics": value} if group_by else {"all": value}

    monkeypatch.setattr(services, "kpi_compute", average_order_value)

    alert_evaluate(threshold_id=drop_threshold.pk, as_of=date(2026, 10, 31))

    body = OutboxMessage.objects.get(subject__startswith="KPI alert: Average order value").body
    assert "Average order value for 2 Oct 2026 to 31 Oct 2026: $48.00." in body
    assert "Previous period: $60.00." in body and "Based on 4,800 of 100." in body
    assert "(money)" not in body and "2026-10-31" not in body
