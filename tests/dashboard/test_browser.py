"""Staff flows in a real headless Chromium (Debian's package), driven by Playwright against live_server.

Nothing is downloaded: Playwright launches /usr/bin/chromium (tests/dashboard/browser.py).
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.apps import apps
from django.utils import timezone

from casework.models import CaseKind, CaseStatus
from casework.services import case_open
from core import roles
from dashboard.models import AlertThreshold
from dashboard.services import snapshot_record
from marketplace.factories import OrderFactory, ReviewFactory
from marketplace.models import OrderStatus
from sellers.factories import SellerFactory
from sellers.models import OnboardingStatus
from tests.dashboard.browser import ARTIFACTS, BROWSER_MARKS, admin_path, chromium, login, staff  # noqa: F401

pytestmark = BROWSER_MARKS


def small_market():
    now = timezone.now()
    sellers = [SellerFactory(applied_at=now - timedelta(days=200 + i), approved_at=now - timedelta(days=190 + i))
               for i in range(3)]
    for i in range(24):
        order = OrderFactory(seller=sellers[i % 3], placed_at=now - timedelta(days=5 + i * 9),
                             status=OrderStatus.CANCELLED if i % 7 == 0 else OrderStatus.DELIVERED,
                             total_amount=Decimal(20 + i))
        if i % 4 == 0 and order.status == OrderStatus.DELIVERED:
            ReviewFactory(order=order, rating=4)
    return sellers


def test_customer_success_works_a_manual_review_case_to_resolution(login):
    cs = staff(roles.CUSTOMER_SUCCESS, "cs-browser")
    seller = SellerFactory(onboarding_status=OnboardingStatus.MANUAL_REVIEW, approved_at=None)
    case, _ = case_open(kind=CaseKind.ONBOARDING_REVIEW, seller=seller, reason="Score 22 is in the high-risk band.",
                        evidence={"score": 22})

    tab = login(cs)
    tab.go("/admin/")
    assert "Your work · Customer Success" in tab.page.inner_text("#kiln-your-work")
    tab.go("/admin/casework/case/?queue=unassigned")
    ARTIFACTS.mkdir(exist_ok=True)
    tab.page.screenshot(path=str(ARTIFACTS / "queue-cs-unassigned.png"), full_page=True)
    tab.page.click(f'#result_list a[href*="/casework/case/{case.pk}/change/"]')
    tab.page.click("#assign-me")
    tab.page.wait_for_selector(".messagelist")
    case.refresh_from_db()
    assert case.assignee_id == cs.pk and case.status == CaseStatus.IN_PROGRESS

    tab.page.select_option("#case-actions #id_outcome", "approved")
    tab.page.fill("#resolve-form input[name=note]", "Portfolio checked, references fine.")
    tab.page.click("#resolve-case")
    tab.page.wait_for_selector(".messagelist")
    assert "Resolved: approved" in tab.page.inner_text(".messagelist")
    case.refresh_from_db()
    assert (case.status, case.outcome, case.resolution_note) == (
        CaseStatus.RESOLVED, "approved", "Portfolio checked, references fine.")
    assert case.history.filter(action="resolved", actor=cs).exists()
    assert not tab.errors


def test_admin_sees_every_chart_drawn_without_console_errors_and_tunes_a_threshold(login):
    small_market()
    snapshot_record(as_of=timezone.localdate() - timedelta(days=1))
    admin_user = staff(roles.MARKETPLACE_ADMIN, "admin-browser")
    tab = login(admin_user)

    tab.go("/admin/dashboard/")
    tab.page.wait_for_selector("#kpi-tiles .kd-tile")
    for chart in ("cohort", "nps", "scores", "funnel", "onboarding-time", "themes"):
        assert tab.page.locator(f"#chart-{chart} svg").count() == 1, chart
    # Drawn, not just present: the heatmap has cells, the score chart has bars and band cut-off lines.
    assert tab.page.locator("#chart-cohort svg rect").count() >= 12
    assert tab.page.locator("#chart-scores svg rect.bar").count() == 10
    assert tab.page.locator("#chart-scores svg line.marker").count() == 2
    assert tab.page.locator("#chart-funnel svg rect.bar").count() == 5
    box = tab.page.locator("#chart-cohort svg").bounding_box()
    assert box and box["width"] > 100 and box["height"] > 100
    # Eleven KPIs, underperforming listings, and the seller model's input drift and live AUC.
    assert tab.page.locator("#kpi-tiles .kd-tile").count() == 14
    ARTIFACTS.mkdir(exist_ok=True)
    tab.page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)

    # Drill down from the cancellation tile to the cancelled orders behind it.
    tab.page.click("#tile-cancellation_rate")
    tab.page.wait_for_selector("#changelist")
    assert "status__exact=cancelled" in tab.page.url and "e=1" not in tab.page.url
    assert tab.page.locator("#result_list tbody tr").count() >= 1

    # Bad input gets a message on the page, not a server error.
    response = tab.go("/admin/dashboard/?start=2026-05-01&end=2026-04-01")
    assert response.status == 400
    assert "is after the end date" in tab.page.inner_text("#dashboard-errors")
    assert not [e for e in tab.errors if "400" not in e], tab.errors

    # The admin tightens a KPI alert threshold; an out-of-range value is refused on the form.
    threshold = AlertThreshold.objects.get(kpi="cancellation_rate", condition="above")
    tab.errors.clear()
    tab.go(admin_path("dashboard_alertthreshold_change", threshold.pk))
    tab.page.fill("#id_value", "250")
    tab.page.click("input[name=_save]")
    assert "must be between 0 and 100" in tab.page.inner_text(".errorlist")
    tab.page.fill("#id_value", "3.5")
    tab.page.click("input[name=_save]")
    tab.page.wait_for_selector(".messagelist")
    threshold.refresh_from_db()
    assert threshold.value == Decimal("3.5")
    assert not tab.errors


def test_admin_changes_a_loyalty_tier_threshold_and_a_badge_rule(login):
    if not admin_path("loyalty_tier_changelist") or not admin_path("loyalty_badge_changelist"):
        pytest.skip("The loyalty admin (Tier and Badge) is not registered yet.")
    Tier = apps.get_model("loyalty", "Tier")
    Badge = apps.get_model("loyalty", "Badge")
    if not Tier.objects.exists():
        Tier.objects.create(code="bronze", name="Bronze", rank=1, threshold=Decimal("0"), multiplier=Decimal("1.00"))
        Tier.objects.create(code="gold", name="Gold", rank=2, threshold=Decimal("1000"), multiplier=Decimal("1.50"))
    badge = Badge.objects.first() or Badge.objects.create(
        code="support-your-artisan", name="Support your artisan", metric="orders_same_artisan", threshold=3)
    tier = Tier.objects.order_by("-rank").first()
    admin_user = staff(roles.MARKETPLACE_ADMIN, "admin-loyalty")
    tab = login(admin_user)

    new_threshold = tier.threshold + 250
    tab.go(admin_path("loyalty_tier_change", tier.pk))
    tab.page.fill("#id_threshold", str(new_threshold))
    tab.page.click("input[name=_save]")
    tab.page.wait_for_selector(".messagelist")
    tier.refresh_from_db()
    assert tier.threshold == new_threshold

    tab.go(admin_path("loyalty_badge_change", badge.pk))
    tab.page.fill("#id_threshold", str(badge.threshold + 2))
    tab.page.click("input[name=_save]")
    tab.page.wait_for_selector(".messagelist")
    old = badge.threshold
    badge.refresh_from_db()
    assert badge.threshold == old + 2
    assert not tab.errors


def test_seller_support_sees_their_queue_and_assigns_a_seller_to_a_workshop_session(login):
    Session_ = apps.get_model("sellers", "WorkshopSession")
    Workshop = apps.get_model("sellers", "Workshop")
    Assignment = apps.get_model("sellers", "WorkshopAssignment")
    add_path = admin_path("sellers_workshopassignment_add")
    if add_path is None:
        pytest.skip("The workshop assignment admin (sellers) is not registered yet.")
    support = staff(roles.SELLER_SUPPORT, "support-browser")
    seller = SellerFactory(onboarding_status=OnboardingStatus.WORKSHOP_PENDING, approved_at=None)
    workshop = Workshop.objects.create(topic="Packaging fragile ceramics")
    session = Session_.objects.create(workshop=workshop, starts_at=timezone.now() + timedelta(days=7), capacity=5)
    case_open(kind=CaseKind.ONBOARDING_CALL, seller=SellerFactory(), reason="Score 55: mid band, call needed.")
    case_open(kind=CaseKind.ONBOARDING_REVIEW, seller=SellerFactory(), reason="Score 20: not this team's queue.")
    tab = login(support)
    # The team's queue shows only seller-support work.
    tab.go("/admin/casework/case/?queue=active")
    assert tab.page.locator("#result_list tbody tr").count() == 1
    assert "Onboarding: virtual call" in tab.page.inner_text("#result_list")
    ARTIFACTS.mkdir(exist_ok=True)
    tab.page.screenshot(path=str(ARTIFACTS / "queue-seller-support.png"), full_page=True)

    tab.go(add_path)
    if tab.page.locator("#id_session").evaluate("el => el.tagName") == "SELECT":
        tab.page.select_option("#id_session", str(session.pk))
    else:
        tab.page.fill("#id_session", str(session.pk))
    # The artisan is found by typing part of the name into the autocomplete.
    tab.page.click(".field-seller .select2-selection")
    tab.page.fill(".select2-search__field", seller.name.split()[-1])
    tab.page.click(f".select2-results__option:has-text('{seller.name}')")
    tab.page.click("input[name=_save]")
    tab.page.wait_for_selector(".messagelist")
    assignment = Assignment.objects.get(seller=seller)
    assert assignment.session_id == session.pk
    assert not tab.errors
