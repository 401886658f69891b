"""Seller 360 of unscored artisans, dashboard tile links, the alert page and its formatting."""

from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from casework.factories import CaseFactory
from casework.models import CaseKind, Team
from dashboard.churn_review import churn_review
from dashboard.models import Alert, AlertAction, AlertEvent, AlertStatus, AlertThreshold, Condition
from scoring.models import ScoreBasis, SellerScore, SellerScoreHistory
from sellers.factories import SellerFactory

pytestmark = pytest.mark.django_db
DASHBOARD = "/admin/dashboard/"
OCT = {"start": "2026-10-01", "end": "2026-10-31"}


# --- 1. Seller 360 of an artisan with unscored runs ---------------------------------------------


def _history(seller, scores):
    start = timezone.now() - timedelta(days=len(scores))
    for i, score in enumerate(scores):
        SellerScoreHistory.objects.create(
            seller=seller, score=score, basis=ScoreBasis.MODEL if score is not None else ScoreBasis.NO_MODEL,
            computed_at=start + timedelta(days=i), run_key=f"run:{i}",
        )


def test_seller_360_loads_when_the_history_has_unscored_runs_and_skips_them_in_the_chart(client, support_user):
    seller = SellerFactory(name="Onboarding-call artisan")
    _history(seller, [40, None, 60, None])
    SellerScore.objects.create(seller=seller, score=None, basis=ScoreBasis.NO_MODEL, computed_at=timezone.now())
    client.force_login(support_user)

    response = client.get(reverse("admin:sellers_seller_360", args=[seller.pk]))

    page = response.content.decode()
    assert response.status_code == 200
    assert "Not scored yet" in page and "None / 100" not in page and "None" not in page.split('id="seller-score"')[1][:2000]
    chart = response.context["chart"]
    assert chart["first"].score == 40 and chart["last"].score == 60
    assert len(chart["points"].split()) == 2 and "(2 scores)" in page


def test_seller_360_with_only_unscored_history_shows_no_chart(client, support_user):
    seller = SellerFactory()
    _history(seller, [None, None, None])
    client.force_login(support_user)

    response = client.get(reverse("admin:sellers_seller_360", args=[seller.pk]))

    assert response.status_code == 200 and response.context["chart"] is None
    assert "Not scored yet" in response.content.decode()


# --- 2. Tiles link only where the user may open the list --------------------------------------


@pytest.mark.parametrize("role_user", ["cs_user", "support_user"])
def test_engagement_tile_is_not_a_link_for_operational_staff(client, market, role_user, request):
    user = request.getfixturevalue(role_user)
    client.force_login(user)

    page = client.get(DASHBOARD, OCT).content.decode()
    tiles = {t["key"]: t for t in client.get(DASHBOARD, OCT).context["report"].tiles}

    assert tiles["engagement_rate"]["href"] is None
    assert '<div class="kd-tile' in page and 'id="tile-engagement_rate"' in page
    assert "marketplace/engagementevent" not in page
    # Lists the role may open stay linked.
    assert tiles["cancellation_rate"]["href"].startswith("/admin/marketplace/order/")
    assert client.get(tiles["cancellation_rate"]["href"]).status_code == 200


def test_engagement_tile_links_for_admins_and_the_link_opens(client, market, admin_user):
    client.force_login(admin_user)

    tiles = {t["key"]: t for t in client.get(DASHBOARD, OCT).context["report"].tiles}

    assert tiles["engagement_rate"]["href"].startswith("/admin/marketplace/engagementevent/")
    assert client.get(tiles["engagement_rate"]["href"]).status_code == 200


# --- 3. The KPI alert page ------------------------------------------------------------------------


@pytest.fixture
def alert(db):
    threshold = AlertThreshold.objects.get(kpi="return_rate", condition=Condition.ABOVE)
    seller = SellerFactory(name="Leaky Pots")
    return Alert.objects.create(
        threshold=threshold, kpi="return_rate", period_start=date(2026, 10, 2), period_end=date(2026, 10, 31),
        value=22.7493, threshold_value=Decimal("5.00"), cases_opened=1,
        opened_at=datetime(2026, 12, 3, 14, 7, tzinfo=dt_timezone.utc),
        evidence={"numerator": 235, "denominator": 1033, "extra": {}, "as_of": "2026-10-31", "window_days": 30,
                  "by_category": {"ceramics": 30.5, "jewelry": 10.0},
                  "sellers": [{"seller_id": seller.pk, "bad_orders": 12, "orders": 40, "rate": 30.0}]},
    )


def _change(alert):
    return reverse("admin:dashboard_alert_change", args=[alert.pk])


def _act(alert, verb):
    return reverse("admin:dashboard_alert_act", args=[alert.pk, verb])


def test_alert_page_shows_evidence_as_labelled_formatted_fields(client, alert, admin_user):
    client.force_login(admin_user)

    page = client.get(_change(alert)).content.decode()

    assert '{"numerator"' not in page and "&quot;numerator&quot;" not in page
    for text in ("Numerator", "235", "Denominator", "1,033", "22.7%", "is above 5.0%", "31 Oct 2026",
                 "Ceramics: 30.5%", "Leaky Pots", "12 of 40 orders (30.0%)", "3 Dec 2026"):
        assert text in page, text
    assert "22.7493" not in page
    assert "/admin/dashboard/?start=2026-10-02&amp;end=2026-10-31" in page
    assert reverse("admin:dashboard_alertthreshold_change", args=[alert.threshold_id]) in page


def test_alert_list_and_page_write_days_without_a_leading_zero(client, alert, admin_user):
    client.force_login(admin_user)

    listing = client.get(reverse("admin:dashboard_alert_changelist")).content.decode()
    page = client.get(_change(alert)).content.decode()

    assert "2 Oct 2026 – 31 Oct 2026" in listing and "02 Oct 2026" not in listing
    assert "30 days: 2 Oct 2026 to 31 Oct 2026" in page and "02 Oct 2026" not in page


def test_time_to_first_sale_alert_shows_its_numerator_and_longest_wait_in_days(client, admin_user):
    threshold = AlertThreshold.objects.get(kpi="time_to_first_sale", condition=Condition.ABOVE)
    alert = Alert.objects.create(
        threshold=threshold, kpi="time_to_first_sale", period_start=date(2026, 11, 3), period_end=date(2026, 12, 2),
        value=48.7667, threshold_value=Decimal("7.00"), opened_at=datetime(2026, 12, 3, 2, 0, tzinfo=dt_timezone.utc),
        evidence={"numerator": 146.3, "denominator": 3, "extra": {"max_days": 91.25}, "as_of": "2026-12-02", "window_days": 30},
    )
    client.force_login(admin_user)

    page = client.get(_change(alert)).content.decode()
    listing = client.get(reverse("admin:dashboard_alert_changelist")).content.decode()

    assert "<th>Numerator</th><td>146.3 d</td>" in page and "<th>Max days</th><td>91.2 d</td>" in page
    assert "146.30" not in page and "91.25" not in page
    assert "48.8 d" in page and "is above 7.0 d" in page
    assert "3 Nov 2026 – 2 Dec 2026" in listing


def test_admin_acknowledges_then_closes_an_alert_with_a_note_kept_in_its_history(client, alert, admin_user):
    client.force_login(admin_user)
    assert 'id="acknowledge-alert"' in client.get(_change(alert)).content.decode()

    reply = client.post(_act(alert, "acknowledge"), {"note": "Checking the carrier"}, follow=True)
    assert "Acknowledged alert" in reply.content.decode()
    assert Alert.objects.get().status == AlertStatus.OPEN

    page = client.post(_act(alert, "close"), {"note": "Carrier strike, known"}, follow=True).content.decode()

    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED and alert.resolved_by == admin_user
    assert alert.resolution_note == "Carrier strike, known"
    assert [e.action for e in AlertEvent.objects.order_by("at", "pk")] == [AlertAction.ACKNOWLEDGED, AlertAction.CLOSED]
    assert "Closed alert" in page and "Checking the carrier" in page and "Carrier strike, known" in page
    assert 'id="close-alert"' not in page


def test_closing_without_a_note_is_refused_and_changes_nothing(client, alert, admin_user):
    client.force_login(admin_user)

    page = client.post(_act(alert, "close"), {"note": "  "}, follow=True).content.decode()

    assert "Say why the alert is closed." in page
    assert Alert.objects.get().status == AlertStatus.OPEN and not AlertEvent.objects.exists()


def test_closing_an_alert_closed_meanwhile_says_so(client, alert, admin_user):
    client.force_login(admin_user)
    client.post(_act(alert, "close"), {"note": "first"})

    page = client.post(_act(alert, "close"), {"note": "second"}, follow=True).content.decode()

    assert f"Alert #{alert.pk} was already closed by {admin_user}; nothing was changed." in page
    assert AlertEvent.objects.count() == 1


@pytest.mark.parametrize("role_user", ["cs_user", "support_user"])
def test_read_only_roles_see_the_alert_without_buttons_and_cannot_act(client, alert, role_user, request):
    client.force_login(request.getfixturevalue(role_user))

    page = client.get(_change(alert))
    refused = client.post(_act(alert, "close"), {"note": "not mine"})

    assert page.status_code == 200 and "1,033" in page.content.decode()
    assert 'id="alert-actions"' not in page.content.decode() and 'id="close-alert"' not in page.content.decode()
    assert refused.status_code == 403 and "Only marketplace admins" in refused.content.decode()
    assert Alert.objects.get().status == AlertStatus.OPEN



@pytest.mark.parametrize("role_user", ["admin_user", "cs_user"])
def test_alert_history_link_leads_to_the_alert_s_own_history_section(client, alert, role_user, request):
    client.force_login(request.getfixturevalue(role_user))
    generic = reverse("admin:dashboard_alert_history", args=[alert.pk])

    page = client.get(_change(alert)).content.decode()
    answer = client.get(generic)

    assert '<a href="#alert-history" class="historylink">History</a>' in page and 'id="alert-history"' in page
    assert generic not in page
    assert answer.status_code == 302 and answer["Location"] == f"{_change(alert)}#alert-history"

def test_bulk_close_asks_for_a_note_first(client, alert, admin_user):
    client.force_login(admin_user)
    url = reverse("admin:dashboard_alert_changelist")

    asked = client.post(url, {"action": "close_selected", "_selected_action": [alert.pk], "index": 0})
    assert asked.status_code == 200 and "Why close these alerts?" in asked.content.decode()
    assert Alert.objects.get().status == AlertStatus.OPEN

    client.post(url, {"action": "close_selected", "_selected_action": [alert.pk], "apply": "1", "note": "Seasonal dip"})

    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED and alert.resolution_note == "Seasonal dip"
    assert AlertEvent.objects.get().note == "Seasonal dip"


# --- 4. Formatting ------------------------------------------------------------------------------------


def test_alert_list_formats_values_like_the_dashboard(client, alert, admin_user):
    client.force_login(admin_user)

    page = client.get(reverse("admin:dashboard_alert_changelist")).content.decode()

    assert "22.7%" in page and "22.7493" not in page and "is above 5.0%" in page


def test_dashboard_open_alerts_show_human_dates_and_kpi_formatting(client, market, alert, admin_user):
    client.force_login(admin_user)

    response = client.get(DASHBOARD, OCT)

    page = response.content.decode()
    assert "2026-12-03T14:07" not in page
    assert "3 Dec 2026" in page and "22.7%" in page and "22.75" not in page
    opened = response.context["tables"]["alerts"].rows[0][0]
    assert opened.startswith("3 Dec 2026")


def test_money_tiles_show_the_currency(client, market, admin_user):
    client.force_login(admin_user)

    tiles = {t["key"]: t for t in client.get(DASHBOARD, OCT).context["report"].tiles}

    assert tiles["average_order_value"]["display"] == "$60.00"
    assert tiles["lifetime_value"]["display"].startswith("$")


def test_churn_review_kpi_and_case_tables_show_team_labels(db):
    CaseFactory(kind=CaseKind.ONBOARDING_CALL, team=Team.SELLER_SUPPORT)
    review = churn_review(week_start=timezone.localdate())

    teams = {row[7] for row in review.tables["kpis"].rows}
    assert "Seller support" in teams and "seller_support" not in teams
    assert all(row[0] in ("Customer success", "Seller support") for row in review.tables["cases"].rows)
