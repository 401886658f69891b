"""Resolving an onboarding case with an outcome does the onboarding step, or refuses and says which button does."""

import pytest
from django.urls import reverse

from casework import services
from casework.models import Case, CaseKind, CaseStatus
from sellers.factories import SellerFactory, WorkshopSessionFactory
from sellers.models import OnboardingStatus, WorkshopAssignment

pytestmark = pytest.mark.django_db

CASE_LIST = reverse("admin:casework_case_changelist")
QUEUE = reverse("admin:sellers_onboardingqueuecase_changelist")


def _onboarding_case(kind, status):
    seller = SellerFactory(onboarding_status=status, approved_at=None)
    return services.case_open(kind=kind, seller=seller, reason="Score 80", evidence={"score": 80})[0]


def _resolve(client, case, outcome, note=""):
    url = reverse("admin:casework_case_act", args=[case.pk, "resolve"])
    return client.post(url, {"outcome": outcome, "note": note}, follow=True).content.decode()


def _bulk_resolve(client, changelist, cases, outcome):
    ids = [case.pk for case in cases]
    data = {"action": "resolve_selected", "_selected_action": ids, "apply": "1", "outcome": outcome, "note": ""}
    return client.post(changelist, data, follow=True).content.decode()


def _page(case):
    return reverse("admin:casework_case_change", args=[case.pk])


# --- Manual review (customer success) ----------------------------------------------------------


def test_resolving_a_review_as_approved_approves_the_artisan_and_opens_the_workshop_case(client, cs_user):
    case = _onboarding_case(CaseKind.ONBOARDING_REVIEW, OnboardingStatus.MANUAL_REVIEW)
    client.force_login(cs_user)

    page = _resolve(client, case, "approved", note="Portfolio checked")

    case.refresh_from_db()
    case.seller.refresh_from_db()
    assert (case.status, case.outcome, case.resolution_note) == (CaseStatus.RESOLVED, "approved", "Portfolio checked")
    assert case.seller.onboarding_status == OnboardingStatus.WORKSHOP_PENDING
    assert Case.objects.active().filter(kind=CaseKind.WORKSHOP_ASSIGNMENT, seller=case.seller).exists()
    assert "Resolved: approved" in page and "now waits in the workshop queue" in page


def test_resolving_a_review_as_rejected_rejects_the_artisan(client, cs_user):
    case = _onboarding_case(CaseKind.ONBOARDING_REVIEW, OnboardingStatus.MANUAL_REVIEW)
    client.force_login(cs_user)

    page = _resolve(client, case, "rejected")

    case.seller.refresh_from_db()
    assert case.seller.onboarding_status == OnboardingStatus.REJECTED and "Resolved: rejected" in page


def test_review_page_offers_only_outcomes_resolve_can_carry_out(client, cs_user):
    case = _onboarding_case(CaseKind.ONBOARDING_REVIEW, OnboardingStatus.MANUAL_REVIEW)
    client.force_login(cs_user)

    page = client.get(_page(case)).content.decode()

    assert 'value="approved"' in page and 'value="rejected"' in page
    assert 'value="workshop_assigned"' not in page and 'value="info_requested"' not in page


@pytest.mark.parametrize("outcome,button", [
    ("workshop_assigned", "Use “Approve and assign a workshop” to seat this artisan"),
    ("info_requested", "Use “Request information” to ask this artisan for more"),
])
def test_a_review_outcome_resolve_cannot_carry_out_is_refused_naming_the_button(client, cs_user, outcome, button):
    case = _onboarding_case(CaseKind.ONBOARDING_REVIEW, OnboardingStatus.MANUAL_REVIEW)
    client.force_login(cs_user)

    page = _resolve(client, case, outcome)

    case.refresh_from_db()
    case.seller.refresh_from_db()
    assert case.status == CaseStatus.OPEN and case.seller.onboarding_status == OnboardingStatus.MANUAL_REVIEW
    assert button in page and "Nothing was changed." in page


def test_bulk_resolve_approved_approves_every_artisan(client, cs_user):
    cases = [_onboarding_case(CaseKind.ONBOARDING_REVIEW, OnboardingStatus.MANUAL_REVIEW) for _ in range(3)]
    client.force_login(cs_user)

    page = _bulk_resolve(client, CASE_LIST, cases, "approved")

    assert "Resolved 3 cases." in page
    for case in cases:
        case.seller.refresh_from_db()
        assert case.seller.onboarding_status == OnboardingStatus.WORKSHOP_PENDING
        assert Case.objects.active().filter(kind=CaseKind.WORKSHOP_ASSIGNMENT, seller=case.seller).exists()


def test_bulk_resolve_refuses_a_review_outcome_it_cannot_carry_out(client, cs_user):
    case = _onboarding_case(CaseKind.ONBOARDING_REVIEW, OnboardingStatus.MANUAL_REVIEW)
    client.force_login(cs_user)

    page = _bulk_resolve(client, QUEUE, [case], "workshop_assigned")

    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN and "Resolved 0 cases." in page
    assert f"Case #{case.pk}: Use “Approve and assign a workshop”" in page


# --- Virtual call (seller support) -------------------------------------------------------------


def test_resolving_a_call_as_completed_onboards_the_artisan(client, support_user):
    case = _onboarding_case(CaseKind.ONBOARDING_CALL, OnboardingStatus.CALL_PENDING)
    client.force_login(support_user)

    page = _resolve(client, case, "call_completed")

    case.refresh_from_db()
    case.seller.refresh_from_db()
    assert (case.status, case.outcome) == (CaseStatus.RESOLVED, "call_completed")
    assert case.seller.onboarding_status == OnboardingStatus.APPROVED and case.seller.onboarded_at is not None
    assert "Resolved: onboarding call completed" in page


@pytest.mark.parametrize("outcome", ["approved", "rejected"])
def test_a_call_cannot_be_resolved_as_approved_or_rejected(client, support_user, outcome):
    case = _onboarding_case(CaseKind.ONBOARDING_CALL, OnboardingStatus.CALL_PENDING)
    client.force_login(support_user)

    assert f'value="{outcome}"' not in client.get(_page(case)).content.decode()
    page = _resolve(client, case, outcome)

    case.refresh_from_db()
    case.seller.refresh_from_db()
    assert case.status == CaseStatus.OPEN and case.seller.onboarding_status == OnboardingStatus.CALL_PENDING
    assert "is not an outcome for a Onboarding: virtual call case" in page


def test_bulk_resolve_call_completed_onboards_every_artisan(client, support_user):
    cases = [_onboarding_case(CaseKind.ONBOARDING_CALL, OnboardingStatus.CALL_PENDING) for _ in range(2)]
    client.force_login(support_user)

    page = _bulk_resolve(client, QUEUE, cases, "call_completed")

    assert "Resolved 2 cases." in page
    for case in cases:
        case.seller.refresh_from_db()
        assert case.seller.onboarding_status == OnboardingStatus.APPROVED


# --- Workshop assignment (seller support) -----------------------------------------------------


def test_workshop_case_page_offers_no_generic_resolve(client, support_user):
    case = _onboarding_case(CaseKind.WORKSHOP_ASSIGNMENT, OnboardingStatus.WORKSHOP_PENDING)
    WorkshopSessionFactory(capacity=10, booked=0)
    client.force_login(support_user)

    page = client.get(_page(case)).content.decode()

    assert 'id="resolve-case"' not in page and 'value="approved"' not in page
    assert "This case closes when you use the action above" in page and 'id="verb-seat"' in page


@pytest.mark.parametrize("outcome,refusal", [
    ("workshop_assigned", "Use “Assign to this workshop session” to seat this artisan"),
    ("approved", "is not an outcome for a Onboarding: workshop assignment case"),
])
def test_resolving_a_workshop_case_is_refused_and_seats_no_one(client, support_user, outcome, refusal):
    case = _onboarding_case(CaseKind.WORKSHOP_ASSIGNMENT, OnboardingStatus.WORKSHOP_PENDING)
    client.force_login(support_user)

    page = _resolve(client, case, outcome)

    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN and refusal in page
    assert not WorkshopAssignment.objects.filter(seller=case.seller).exists()


def test_bulk_resolve_of_workshop_cases_says_no_outcome_fits(client, support_user):
    case = _onboarding_case(CaseKind.WORKSHOP_ASSIGNMENT, OnboardingStatus.WORKSHOP_PENDING)
    client.force_login(support_user)

    asked = client.post(QUEUE, {"action": "resolve_selected", "_selected_action": [case.pk]}, follow=True).content.decode()
    assert "No outcome fits all the selected cases." in asked

    page = _bulk_resolve(client, QUEUE, [case], "workshop_assigned")
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN and "Resolved 0 cases." in page
    assert f"Case #{case.pk}: Use “Assign to this workshop session”" in page
