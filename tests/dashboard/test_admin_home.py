from decimal import Decimal

import pytest

from casework.factories import CaseFactory
from casework.models import CaseKind, Team
from dashboard.models import AlertThreshold

pytestmark = pytest.mark.django_db


def test_customer_success_home_lists_their_queues_first(client, cs_user):
    CaseFactory(kind=CaseKind.ONBOARDING_REVIEW, team=Team.CUSTOMER_SUCCESS)
    CaseFactory(kind=CaseKind.ONBOARDING_CALL, team=Team.SELLER_SUPPORT)
    client.force_login(cs_user)
    body = client.get("/admin/").content.decode()
    panel = body.index('id="kiln-your-work"')
    assert panel < body.index('id="kiln-menu"')
    assert "Your work · Customer Success" in body
    assert "Onboarding: manual review" in body
    assert "Onboarding: virtual call" not in body


def test_seller_support_home_shows_their_kinds(client, support_user):
    CaseFactory(kind=CaseKind.ONBOARDING_CALL, team=Team.SELLER_SUPPORT, assignee=support_user, status="in_progress")
    client.force_login(support_user)
    response = client.get("/admin/")
    body = response.content.decode()
    assert "Your work · Seller Support" in body
    assert "Onboarding: virtual call" in body
    assert '<a href="/admin/casework/case/?queue=mine"><strong>1</strong> assigned to you</a>' in body


def test_admin_home_offers_configuration_and_dashboard(client, admin_user):
    client.force_login(admin_user)
    body = client.get("/admin/").content.decode()
    assert "Your work · Marketplace admin" in body
    assert "/admin/dashboard/alertthreshold/" in body
    assert 'id="open-dashboard"' in body


def test_threshold_admin_rejects_out_of_range_values_on_the_page(client, admin_user, cs_user):
    threshold = AlertThreshold.objects.get(kpi="return_rate", condition="above")
    url = f"/admin/dashboard/alertthreshold/{threshold.pk}/change/"
    client.force_login(admin_user)
    data = {"kpi": "return_rate", "condition": "above", "value": "150", "window_days": "30", "min_volume": "50",
            "team": "seller_support", "is_active": "on"}
    response = client.post(url, data)
    assert response.status_code == 200
    assert "Return rate thresholds must be between 0 and 100" in response.content.decode()
    threshold.refresh_from_db()
    assert threshold.value == Decimal("5")
    response = client.post(url, {**data, "value": "3.5"})
    assert response.status_code == 302
    threshold.refresh_from_db()
    assert threshold.value == Decimal("3.5") and threshold.updated_by == admin_user
    client.force_login(cs_user)
    assert client.post(url, {**data, "value": "1"}).status_code == 403
