"""One day's work per role, in Chromium, on a small demo marketplace built by ``setup_demo``.

Every page each tab loads must be served within 300 ms (Navigation Timing: request sent to
last byte received).
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils import timezone

from buyers.models import BuyerRetention
from casework.models import Case, CaseKind, CaseStatus
from casework.services import case_open
from loyalty.models import Badge, Tier
from sellers.factories import SellerFactory
from sellers.models import AssignmentStatus, OnboardingStatus, WorkshopAssignment, WorkshopSession
from tests.dashboard.browser import ARTIFACTS, BROWSER_MARKS, chromium, login  # noqa: F401

pytestmark = BROWSER_MARKS

DEMO_PASSWORD = "demo-browser-pass"


@pytest.fixture
def demo(transactional_db):
    call_command("setup_demo", "--sellers", "20", "--buyers", "150", "--months", "8", "--password", DEMO_PASSWORD,
                 stdout=open("/dev/null", "w"))  # noqa: SIM115
    users = get_user_model().objects
    return {name: users.get(username=name) for name in ("cs", "support", "admin")}


def _page_width(tab) -> int:
    return tab.page.evaluate("() => document.documentElement.scrollWidth")


def _assert_fast(tab):
    assert tab.timings, "no page was timed"
    assert not tab.slow_pages(), f"pages over budget: {tab.slow_pages()}"


def test_customer_success_works_a_churn_case_from_the_queue_through_the_buyer_360_to_resolved(login, demo):
    retention = BuyerRetention.objects.select_related("buyer").order_by("-churn_probability").first()
    case = (Case.objects.active().filter(kind=CaseKind.BUYER_CHURN_RISK).select_related("buyer").first()
            or case_open(kind=CaseKind.BUYER_CHURN_RISK, buyer=retention.buyer, reason="High-value buyer at churn risk.",
                         evidence={"churn_probability": retention.churn_probability})[0])
    tab = login(demo["cs"], password=DEMO_PASSWORD, width=1366)

    tab.go("/admin/")
    tab.click_and_wait(f'#kiln-your-work a[href*="kind__exact={CaseKind.BUYER_CHURN_RISK}"]')
    # The case table fits a 1366 px screen: no horizontal scrolling.
    assert _page_width(tab) <= 1366
    tab.click_and_wait(f'#result_list a[href*="/casework/case/{case.pk}/change/"]')
    tab.click_and_wait("#subject-360")
    retention_panel = tab.page.inner_text("#buyer-retention")
    assert "Churn risk" in retention_panel and "%" in retention_panel
    assert "Recent orders" in tab.page.inner_text("#buyer-orders")
    tab.page.go_back()
    tab.timed()

    tab.click_and_wait("#assign-me")
    assert "Assigned to you" in tab.page.inner_text(".messagelist")
    assert tab.page.locator("#unassign").count() == 1
    tab.click_and_wait("#resolve-case")  # no outcome chosen yet: explained on the page
    assert "Choose an outcome" in tab.page.inner_text(".messagelist")
    tab.page.select_option("#case-actions #id_outcome", "contacted")
    tab.page.fill("#resolve-form input[name=note]", "Called; sent a voucher for the next order.")
    tab.click_and_wait("#resolve-case")
    assert "Resolved: contacted" in tab.page.inner_text(".messagelist")

    case.refresh_from_db()
    assert (case.status, case.outcome, case.assignee) == (CaseStatus.RESOLVED, "contacted", demo["cs"])
    assert not tab.errors
    _assert_fast(tab)


def test_seller_support_seats_an_artisan_from_the_queue_and_marks_attendance(login, demo):
    seller = SellerFactory(name="Ines Workshop-Ready", onboarding_status=OnboardingStatus.WORKSHOP_PENDING,
                           approved_at=timezone.now() - timedelta(days=2), onboarded_at=None)
    case = case_open(kind=CaseKind.WORKSHOP_ASSIGNMENT, seller=seller, reason="Approved after manual review: assign a workshop.")[0]
    session = WorkshopSession.objects.filter(starts_at__gt=timezone.now()).order_by("starts_at").first()
    tab = login(demo["support"], password=DEMO_PASSWORD, width=1366)

    tab.go("/admin/")
    tab.click_and_wait("#kiln-menu a[href$='/admin/sellers/onboardingqueuecase/']")
    tab.go(f"/admin/sellers/onboardingqueuecase/?kind__exact={CaseKind.WORKSHOP_ASSIGNMENT}")
    assert _page_width(tab) <= 1366
    tab.click_and_wait(f'#result_list a[href*="/onboardingqueuecase/{case.pk}/change/"]')
    option = tab.page.locator(f"#session-seat option[value='{session.pk}']").inner_text()
    assert "seats free" in option
    tab.page.select_option("#session-seat", str(session.pk))
    tab.click_and_wait("#verb-seat")
    assert f"Seated {seller.name}" in tab.page.inner_text(".messagelist")

    tab.go("/admin/sellers/inventoryauditcase/")
    assert _page_width(tab) <= 1366
    tab.go("/admin/sellers/workshopsession/")
    tab.click_and_wait(f"a[href$='session__id__exact={session.pk}']")
    seat = WorkshopAssignment.objects.get(seller=seller)
    tab.page.check(f"#result_list input[value='{seat.pk}']")
    tab.page.select_option("select[name=action]", "mark_passed")
    tab.click_and_wait("button[name=index]")
    assert "Attendance recorded for 1 seat." in tab.page.inner_text(".messagelist")

    seat.refresh_from_db()
    seller.refresh_from_db()
    case.refresh_from_db()
    assert case.outcome == "workshop_assigned" and seat.status == AssignmentStatus.ATTENDED
    assert seller.onboarded_at is not None
    assert not tab.errors
    _assert_fast(tab)


def test_an_admin_edits_a_tier_and_a_badge_and_sees_the_tier_preview(login, demo):
    tier = Tier.objects.get(code="glaze")
    badge = Badge.objects.get(code="storyteller")
    tab = login(demo["admin"], password=DEMO_PASSWORD, width=1366)

    tab.go("/admin/")
    tab.click_and_wait("#kiln-menu a[href$='/admin/loyalty/tier/']")
    assert "After the next recompute" in tab.page.inner_text("#tier-preview")
    tab.click_and_wait(f"#result_list a[href*='/loyalty/tier/{tier.pk}/change/']")
    tab.page.fill("#id_threshold", "300")
    tab.click_and_wait("input[name=_save]")
    assert "was changed successfully" in tab.page.inner_text(".messagelist")
    preview = tab.page.inner_text("#tier-preview")
    assert "Glaze" in preview and "300" in preview

    tab.go(f"/admin/loyalty/badge/{badge.pk}/change/")
    tab.page.fill("#id_threshold", str(badge.threshold + 2))
    tab.click_and_wait("input[name=_save]")
    assert "was changed successfully" in tab.page.inner_text(".messagelist")

    tier.refresh_from_db()
    old = badge.threshold
    badge.refresh_from_db()
    assert tier.threshold == Decimal("300") and badge.threshold == old + 2
    assert not tab.errors
    _assert_fast(tab)
