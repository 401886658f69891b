"""A late-shipment coaching case is "assigned to a workshop" only with a seat booked: Resolve does not record
that outcome, refuses a request naming it, and names the button that seats the artisan and closes the case."""

import pytest
from django.urls import reverse

from casework import services
from casework.models import CaseKind, CaseStatus, Outcome
from core.models import OutboxMessage
from sellers.factories import SellerFactory, WorkshopSessionFactory
from sellers.models import WorkshopAssignment, WorkshopSession

pytestmark = pytest.mark.django_db

CASE_LIST = reverse("admin:casework_case_changelist")
SEAT_BUTTON = "Use “Assign to this workshop session” to coach this artisan in a workshop"


def _late_case():
    seller = SellerFactory(name="Slow Kiln Pottery")
    return services.case_open(
        kind=CaseKind.SELLER_LATE_SHIPMENTS, seller=seller, reason="9 of 20 orders shipped late",
        evidence={"orders": 20, "late": 9, "rate": 45.0, "threshold": 20.0, "window_days": 30},
    )[0]


def _page(case):
    return reverse("admin:casework_case_change", args=[case.pk])


def _post_act(client, case, verb, **data):
    return client.post(reverse("admin:casework_case_act", args=[case.pk, verb]), data, follow=True).content.decode()


def _bulk(client, cases, action, **data):
    ids = [case.pk for case in cases]
    return client.post(CASE_LIST, {"action": action, "_selected_action": ids, **data}, follow=True).content.decode()


def test_late_shipment_page_offers_resolve_without_workshop_and_a_seat_button(client, support_user):
    case = _late_case()
    WorkshopSessionFactory(capacity=10, booked=0)
    client.force_login(support_user)

    page = client.get(_page(case)).content.decode()

    assert 'id="resolve-case"' in page and 'value="contacted"' in page and 'value="fixed"' in page
    assert 'value="workshop_assigned"' not in page
    assert 'id="verb-seat"' in page and "Assign to this workshop session" in page


def test_resolving_a_late_shipment_case_as_assigned_to_a_workshop_is_refused_and_seats_no_one(client, support_user):
    case = _late_case()
    client.force_login(support_user)

    page = _post_act(client, case, "resolve", outcome="workshop_assigned")

    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN and case.outcome == ""
    assert SEAT_BUTTON in page and "Nothing was changed." in page
    assert not WorkshopAssignment.objects.filter(seller=case.seller).exists()


def test_resolving_a_late_shipment_case_as_contacted_still_closes_it(client, support_user):
    case = _late_case()
    client.force_login(support_user)

    page = _post_act(client, case, "resolve", outcome="contacted", note="Called about lead times")

    case.refresh_from_db()
    assert (case.status, case.outcome) == (CaseStatus.RESOLVED, Outcome.CONTACTED) and "Resolved: contacted" in page


def test_the_seat_button_seats_the_artisan_and_closes_the_case_as_assigned_to_a_workshop(client, support_user):
    case = _late_case()
    session = WorkshopSessionFactory(capacity=10, booked=3)
    client.force_login(support_user)

    page = _post_act(client, case, "seat", session=session.pk)

    case.refresh_from_db()
    assert (case.status, case.outcome) == (CaseStatus.RESOLVED, Outcome.WORKSHOP_ASSIGNED)
    assert WorkshopAssignment.objects.filter(seller=case.seller, session=session).exists()
    assert WorkshopSession.objects.get(pk=session.pk).booked == 4
    assert OutboxMessage.objects.filter(to=case.seller.email, category="workshop_invitation").exists()
    assert f"Seated {case.seller} in {session.workshop.topic}" in page


def test_a_full_session_seats_no_one_and_leaves_the_case_open(client, support_user):
    case = _late_case()
    full = WorkshopSessionFactory(capacity=2, booked=2)
    client.force_login(support_user)

    page = _post_act(client, case, "seat", session=full.pk)

    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN and "is full" in page
    assert not WorkshopAssignment.objects.filter(seller=case.seller).exists()


def test_bulk_resolve_does_not_offer_assigned_to_a_workshop_for_late_shipment_cases(client, support_user):
    cases = [_late_case(), _late_case()]
    client.force_login(support_user)

    form = _bulk(client, cases, "resolve_selected")

    assert 'value="contacted"' in form and 'value="workshop_assigned"' not in form


def test_bulk_resolve_naming_assigned_to_a_workshop_is_refused_for_each_late_shipment_case(client, support_user):
    case = _late_case()
    client.force_login(support_user)

    page = _bulk(client, [case], "resolve_selected", apply="1", outcome="workshop_assigned", note="")

    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN and "Resolved 0 cases." in page
    assert f"Case #{case.pk}: {SEAT_BUTTON}" in page
    assert not WorkshopAssignment.objects.filter(seller=case.seller).exists()


def test_bulk_workshop_assignment_seats_late_shippers_and_closes_their_cases(client, support_user):
    cases = [_late_case(), _late_case()]
    session = WorkshopSessionFactory(capacity=5, booked=0)
    client.force_login(support_user)

    page = _bulk(client, cases, "assign_workshop", apply="1", session=session.pk)

    assert "Seated 2 cases." in page
    assert WorkshopSession.objects.get(pk=session.pk).booked == 2
    for case in cases:
        case.refresh_from_db()
        assert (case.status, case.outcome) == (CaseStatus.RESOLVED, Outcome.WORKSHOP_ASSIGNED)
