"""Every page that shows a case lets its team work it, with plain-words feedback and refusals."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from buyers.factories import BuyerFactory
from casework import services
from casework.models import Case, CaseKind, CaseStatus
from core import roles
from core.factories import UserFactory
from sellers.factories import ListingFactory, SellerFactory, WorkshopSessionFactory
from sellers.models import OnboardingStatus, WorkshopSession

pytestmark = pytest.mark.django_db

EVIDENCE = {"score": 22, "reasons": [{"text": "late shipments 18% of orders", "contribution": -14}]}

# (admin URL prefix, kind shown there, user fixture that works it)
PAGES = [
    ("casework_case", CaseKind.BUYER_CHURN_RISK, "cs_user"),
    ("casework_case", CaseKind.SELLER_DORMANT, "support_user"),
    ("sellers_onboardingqueuecase", CaseKind.ONBOARDING_REVIEW, "cs_user"),
    ("sellers_onboardingqueuecase", CaseKind.ONBOARDING_CALL, "support_user"),
    ("sellers_onboardingqueuecase", CaseKind.WORKSHOP_ASSIGNMENT, "support_user"),
    ("sellers_inventoryauditcase", CaseKind.INVENTORY_AUDIT, "support_user"),
]


def _open(kind, **subject):
    if not subject:
        subject = {"buyer": BuyerFactory()} if kind == CaseKind.BUYER_CHURN_RISK else {"seller": SellerFactory()}
    return services.case_open(kind=kind, reason="flagged", evidence=EVIDENCE, **subject)[0]


def _page(prefix, case):
    return reverse(f"admin:{prefix}_change", args=[case.pk])


def _act(prefix, case, verb):
    return reverse(f"admin:{prefix}_act", args=[case.pk, verb])


@pytest.mark.parametrize("prefix,kind,who", PAGES)
def test_every_case_page_has_the_work_panel_and_no_save_button(client, request, prefix, kind, who):
    case = _open(kind)
    client.force_login(request.getfixturevalue(who))

    page = client.get(_page(prefix, case)).content.decode()

    assert "Work this case" in page and 'id="assign-me"' in page
    # A workshop assignment closes only by seating the artisan, so its page offers no generic Resolve.
    assert ('id="resolve-case"' in page) != (kind == CaseKind.WORKSHOP_ASSIGNMENT)
    assert 'id="dismiss-case"' in page and 'id="comment-case"' in page
    assert 'name="_save"' not in page and 'name="_continue"' not in page


@pytest.mark.parametrize("prefix,kind,who", PAGES)
def test_every_case_page_assigns_then_unassigns_with_plain_messages(client, request, prefix, kind, who):
    case = _open(kind)
    user = request.getfixturevalue(who)
    client.force_login(user)

    assigned = client.post(_act(prefix, case, "assign_me"), follow=True).content.decode()
    case.refresh_from_db()
    assert case.assignee == user and "Assigned to you" in assigned
    assert 'id="unassign"' in assigned and 'id="assign-me"' not in assigned

    unassigned = client.post(_act(prefix, case, "unassign"), follow=True).content.decode()
    case.refresh_from_db()
    assert case.assignee is None and case.status == CaseStatus.OPEN
    assert "Unassigned" in unassigned and 'id="assign-me"' in unassigned


def test_resolving_gives_the_outcome_in_words(client, cs_user):
    case = _open(CaseKind.BUYER_CHURN_RISK)
    client.force_login(cs_user)

    page = client.post(_act("casework_case", case, "resolve"), {"outcome": "contacted"}, follow=True).content.decode()

    case.refresh_from_db()
    assert (case.status, case.outcome) == (CaseStatus.RESOLVED, "contacted")
    assert "Resolved: contacted" in page


def test_resolving_without_an_outcome_explains_on_the_page_and_changes_nothing(client, cs_user):
    case = _open(CaseKind.BUYER_CHURN_RISK)
    client.force_login(cs_user)

    page = client.post(_act("casework_case", case, "resolve"), {"outcome": ""}, follow=True).content.decode()

    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN
    assert "Choose an outcome to resolve this case: Contacted, Retained, No action needed." in page


def test_an_outcome_of_another_kind_is_refused(client, cs_user):
    case = _open(CaseKind.BUYER_CHURN_RISK)
    client.force_login(cs_user)

    page = client.post(_act("casework_case", case, "resolve"), {"outcome": "workshop_assigned"}, follow=True).content.decode()

    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN and "is not an outcome for a Buyer at churn risk case" in page


def test_dismissing_needs_a_reason_and_keeps_it(client, cs_user):
    case = _open(CaseKind.BUYER_CHURN_RISK)
    client.force_login(cs_user)

    refused = client.post(_act("casework_case", case, "dismiss"), {"note": " "}, follow=True).content.decode()
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN and "Say why the case is dismissed" in refused

    client.post(_act("casework_case", case, "dismiss"), {"note": "Duplicate of a call yesterday"})
    case.refresh_from_db()
    assert (case.status, case.resolution_note) == (CaseStatus.DISMISSED, "Duplicate of a call yesterday")


def test_a_stale_form_says_who_closed_the_case_and_changes_nothing(client, cs_user):
    case = _open(CaseKind.BUYER_CHURN_RISK)
    colleague = UserFactory(username="amira", roles=[roles.CUSTOMER_SUCCESS])
    services.case_resolve(case=case, outcome="retained", actor=colleague)
    client.force_login(cs_user)

    page = client.post(_act("casework_case", case, "resolve"), {"outcome": "contacted"}, follow=True).content.decode()

    case.refresh_from_db()
    assert case.outcome == "retained"
    assert f"Case #{case.pk} was already resolved by amira; nothing was changed." in page


def test_another_teams_case_page_says_whose_it_is(client, support_user):
    case = _open(CaseKind.BUYER_CHURN_RISK)
    client.force_login(support_user)

    response = client.get(_page("casework_case", case))

    assert response.status_code == 403
    page = response.content.decode()
    assert "belongs to the Customer success team" in page and reverse("admin:index") in page


def test_a_comment_lands_in_the_history(client, cs_user):
    case = _open(CaseKind.BUYER_CHURN_RISK)
    client.force_login(cs_user)

    page = client.post(_act("casework_case", case, "comment"), {"note": "Left a voicemail"}, follow=True).content.decode()

    assert "Comment added" in page and "Left a voicemail" in page


def test_manual_review_approval_from_the_queue_page_sends_the_artisan_to_workshops(client, cs_user):
    seller = SellerFactory(onboarding_status=OnboardingStatus.MANUAL_REVIEW, approved_at=None)
    case = _open(CaseKind.ONBOARDING_REVIEW, seller=seller)
    client.force_login(cs_user)

    page = client.post(_act("sellers_onboardingqueuecase", case, "approve"), follow=True).content.decode()

    seller.refresh_from_db()
    case.refresh_from_db()
    assert seller.onboarding_status == OnboardingStatus.WORKSHOP_PENDING and case.outcome == "approved"
    assert Case.objects.active().filter(kind=CaseKind.WORKSHOP_ASSIGNMENT, seller=seller).exists()
    assert f"Approved: {seller} now waits in the workshop queue" in page


def test_requesting_information_needs_a_note(client, cs_user):
    seller = SellerFactory(onboarding_status=OnboardingStatus.MANUAL_REVIEW, approved_at=None)
    case = _open(CaseKind.ONBOARDING_REVIEW, seller=seller)
    client.force_login(cs_user)

    refused = client.post(_act("sellers_onboardingqueuecase", case, "request_info"), {"note": ""}, follow=True).content.decode()
    assert "Say what information the artisan must send." in refused

    client.post(_act("sellers_onboardingqueuecase", case, "request_info"), {"note": "Photos of the kiln"})
    seller.refresh_from_db()
    assert seller.onboarding_status == OnboardingStatus.INFO_REQUESTED


def test_the_workshop_picker_offers_only_sessions_with_free_seats_and_seats_the_artisan(client, support_user):
    seller = SellerFactory(onboarding_status=OnboardingStatus.WORKSHOP_PENDING)
    case = _open(CaseKind.WORKSHOP_ASSIGNMENT, seller=seller)
    free = WorkshopSessionFactory(capacity=12, booked=4)
    full = WorkshopSessionFactory(capacity=3, booked=3)
    client.force_login(support_user)

    page = client.get(_page("sellers_onboardingqueuecase", case)).content.decode()
    assert f'value="{free.pk}"' in page and "8 of 12 seats free" in page
    assert f'value="{full.pk}"' not in page

    done = client.post(_act("sellers_onboardingqueuecase", case, "seat"), {"session": free.pk}, follow=True).content.decode()

    case.refresh_from_db()
    assert case.outcome == "workshop_assigned" and WorkshopSession.objects.get(pk=free.pk).booked == 5
    assert f"Seated {seller} in {free.workshop.topic}" in done


def test_seating_without_a_session_says_so(client, support_user):
    case = _open(CaseKind.WORKSHOP_ASSIGNMENT, seller=SellerFactory(onboarding_status=OnboardingStatus.WORKSHOP_PENDING))
    client.force_login(support_user)

    page = client.post(_act("sellers_onboardingqueuecase", case, "seat"), {"session": ""}, follow=True).content.decode()

    case.refresh_from_db()
    assert case.is_active and "Choose a workshop session with a free seat." in page


def test_an_inventory_audit_links_its_listings_and_resolves_as_fixed(client, support_user):
    listing = ListingFactory(title="Blue vase")
    case = services.case_open(
        kind=CaseKind.INVENTORY_AUDIT, seller=listing.seller, reason="stock",
        evidence={"flagged_listings": 1, "listings": [{"listing_id": listing.pk, "title": "Blue vase", "problems": ["sold while out of stock"]}]},
    )[0]
    client.force_login(support_user)

    page = client.get(_page("sellers_inventoryauditcase", case)).content.decode()
    assert reverse("admin:sellers_listing_change", args=[listing.pk]) in page and "sold while out of stock" in page

    done = client.post(_act("sellers_inventoryauditcase", case, "fixed"), follow=True).content.decode()
    case.refresh_from_db()
    assert case.outcome == "fixed" and "Resolved: issue fixed" in done


def test_evidence_shows_as_labelled_fields_with_people_numbers(client, cs_user):
    buyer = BuyerFactory()
    case = services.case_open(
        kind=CaseKind.BUYER_CHURN_RISK, buyer=buyer, reason="risk",
        evidence={"churn_probability": 0.9954116121248251, "clv_12m": "1234.5", "reasons": ["No order for 200 days"]},
    )[0]
    client.force_login(cs_user)

    page = client.get(_page("casework_case", case)).content.decode()

    assert "99.5%" in page and "$1,234.50" in page and "No order for 200 days" in page
    assert "0.9954116121248251" not in page and "churn_probability" not in page
    assert reverse("admin:buyers_buyer_360", args=[buyer.pk]) in page


def test_bulk_workshop_assignment_from_the_queue_seats_every_selected_artisan(client, support_user):
    cases = [_open(CaseKind.WORKSHOP_ASSIGNMENT, seller=SellerFactory(onboarding_status=OnboardingStatus.WORKSHOP_PENDING)) for _ in range(2)]
    session = WorkshopSessionFactory(capacity=5)
    client.force_login(support_user)
    url = reverse("admin:sellers_onboardingqueuecase_changelist")
    ids = [c.pk for c in cases]

    picker = client.post(url, {"action": "assign_workshop", "_selected_action": ids}).content.decode()
    assert "Assign to a workshop session: 2 cases." in picker and "5 of 5 seats free" in picker

    done = client.post(url, {"action": "assign_workshop", "_selected_action": ids, "apply": "1", "session": session.pk}, follow=True)

    assert "Seated 2 cases." in done.content.decode()
    assert WorkshopSession.objects.get(pk=session.pk).booked == 2


def test_bulk_workshop_assignment_with_no_workshop_case_selected_says_so(client, support_user):
    call = _open(CaseKind.ONBOARDING_CALL)
    client.force_login(support_user)

    page = client.post(reverse("admin:sellers_onboardingqueuecase_changelist"),
                       {"action": "assign_workshop", "_selected_action": [call.pk]}, follow=True).content.decode()

    assert "None of the selected cases can be worked with" in page


def test_bulk_resolve_without_an_outcome_asks_again(client, cs_user):
    case = _open(CaseKind.BUYER_CHURN_RISK)
    client.force_login(cs_user)

    page = client.post(reverse("admin:casework_case_changelist"),
                       {"action": "resolve_selected", "_selected_action": [case.pk], "apply": "1", "outcome": ""}).content.decode()

    case.refresh_from_db()
    assert case.is_active and "Choose an outcome." in page


def test_bulk_unassign_returns_cases_to_the_team_queue(client, cs_user):
    case = _open(CaseKind.BUYER_CHURN_RISK)
    services.case_assign(case=case, assignee=cs_user, actor=cs_user)
    client.force_login(cs_user)

    page = client.post(reverse("admin:casework_case_changelist"),
                       {"action": "unassign_selected", "_selected_action": [case.pk]}, follow=True).content.decode()

    case.refresh_from_db()
    assert case.assignee is None and "Unassigned 1 case." in page


def test_bulk_fixed_on_the_inventory_queue(client, support_user):
    case = _open(CaseKind.INVENTORY_AUDIT)
    client.force_login(support_user)

    page = client.post(reverse("admin:sellers_inventoryauditcase_changelist"),
                       {"action": "mark_fixed", "_selected_action": [case.pk]}, follow=True).content.decode()

    case.refresh_from_db()
    assert case.outcome == "fixed" and "Resolved as fixed 1 case." in page


def test_a_case_due_tomorrow_shows_hours_left(client, cs_user):
    case = _open(CaseKind.BUYER_CHURN_RISK)
    Case.objects.filter(pk=case.pk).update(due_at=timezone.now() + timedelta(hours=30, minutes=5))
    client.force_login(cs_user)

    assert "30h left" in client.get(reverse("admin:casework_case_changelist")).content.decode()


def test_the_case_page_names_sessions_by_day_and_year_and_its_history_rows_read_as_words(client, support_user):
    seller = SellerFactory(onboarding_status=OnboardingStatus.WORKSHOP_PENDING)
    case = _open(CaseKind.WORKSHOP_ASSIGNMENT, seller=seller)
    starts = (timezone.now() + timedelta(days=30)).replace(hour=16, minute=0, second=0, microsecond=0)
    WorkshopSessionFactory(capacity=12, booked=4, starts_at=starts)
    client.force_login(support_user)

    page = client.get(_page("sellers_onboardingqueuecase", case)).content.decode()

    assert f"{starts:%a} {starts.day} {starts:%b %Y} 16:00" in page
    assert "opened status:" not in page and "Opened · " in page
