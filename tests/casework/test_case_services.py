import threading

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection

from buyers.factories import BuyerFactory
from casework import services
from casework.models import Case, CaseKind, CaseStatus, Team
from sellers.factories import SellerFactory

pytestmark = pytest.mark.django_db


def test_case_open_routes_the_case_to_the_kind_team_with_an_sla():
    seller = SellerFactory()
    case, created = services.case_open(
        kind=CaseKind.ONBOARDING_CALL, seller=seller, reason="Score 55 is in the mid band.", evidence={"score": 55}
    )
    assert created
    assert case.team == Team.SELLER_SUPPORT
    assert case.status == CaseStatus.OPEN
    assert case.due_at > case.created_at
    assert case.evidence == {"score": 55}
    assert list(case.history.values_list("action", "to_value")) == [("opened", "open")]


def test_case_open_is_idempotent_for_the_same_kind_and_subject():
    buyer = BuyerFactory()
    first, created_first = services.case_open(kind=CaseKind.BUYER_CHURN_RISK, buyer=buyer, reason="Overdue 40 days")
    second, created_second = services.case_open(kind=CaseKind.BUYER_CHURN_RISK, buyer=buyer, reason="Still overdue")
    assert (created_first, created_second) == (True, False)
    assert first.pk == second.pk
    assert Case.objects.filter(buyer=buyer).count() == 1


def test_a_closed_case_does_not_block_a_new_one(cs_user):
    buyer = BuyerFactory()
    first, _ = services.case_open(kind=CaseKind.BUYER_CHURN_RISK, buyer=buyer, reason="Overdue")
    services.case_resolve(case=first, outcome="contacted", note="Called", actor=cs_user)
    second, created = services.case_open(kind=CaseKind.BUYER_CHURN_RISK, buyer=buyer, reason="Overdue again")
    assert created and second.pk != first.pk


def test_case_open_requires_exactly_one_subject():
    with pytest.raises(ValidationError):
        services.case_open(kind=CaseKind.SELLER_DORMANT, reason="x")
    with pytest.raises(ValidationError):
        services.case_open(kind=CaseKind.SELLER_DORMANT, reason="x", seller=SellerFactory(), buyer=BuyerFactory())


def test_assign_moves_the_case_in_progress_and_records_who(cs_user):
    case, _ = services.case_open(kind=CaseKind.ONBOARDING_REVIEW, seller=SellerFactory(), reason="Score 20")
    services.case_assign(case=case, assignee=cs_user, actor=cs_user)
    case.refresh_from_db()
    assert case.assignee == cs_user
    assert case.status == CaseStatus.IN_PROGRESS
    event = case.history.get(action="assigned")
    assert (event.actor, event.to_value) == (cs_user, str(cs_user))


def test_staff_cannot_work_another_teams_case(support_user):
    case, _ = services.case_open(kind=CaseKind.ONBOARDING_REVIEW, seller=SellerFactory(), reason="Score 20")
    with pytest.raises(PermissionDenied):
        services.case_assign(case=case, assignee=support_user, actor=support_user)
    with pytest.raises(PermissionDenied):
        services.case_resolve(case=case, outcome="approved", actor=support_user)
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN and case.history.count() == 1


def test_resolve_records_the_outcome_and_closes_the_case(cs_user):
    case, _ = services.case_open(kind=CaseKind.DETRACTOR_FOLLOWUP, buyer=BuyerFactory(), reason="NPS 3")
    services.case_resolve(case=case, outcome="contacted", note="Refund offered", actor=cs_user)
    case.refresh_from_db()
    assert (case.status, case.outcome, case.resolution_note) == (CaseStatus.RESOLVED, "contacted", "Refund offered")
    assert case.closed_at is not None
    assert case.history.filter(action="resolved", from_value="open", to_value="resolved").exists()


def test_resolving_twice_is_refused(cs_user):
    case, _ = services.case_open(kind=CaseKind.DETRACTOR_FOLLOWUP, buyer=BuyerFactory(), reason="NPS 3")
    services.case_resolve(case=case, outcome="contacted", actor=cs_user)
    with pytest.raises(ValidationError, match="already resolved"):
        services.case_resolve(case=case, outcome="retained", actor=cs_user)


def test_resolve_rejects_an_unknown_outcome(cs_user):
    case, _ = services.case_open(kind=CaseKind.DETRACTOR_FOLLOWUP, buyer=BuyerFactory(), reason="NPS 3")
    with pytest.raises(ValidationError) as excinfo:
        services.case_resolve(case=case, outcome="vanished", actor=cs_user)
    assert "outcome" in excinfo.value.message_dict


def test_dismiss_needs_a_note(cs_user):
    case, _ = services.case_open(kind=CaseKind.DETRACTOR_FOLLOWUP, buyer=BuyerFactory(), reason="NPS 3")
    with pytest.raises(ValidationError):
        services.case_dismiss(case=case, note="  ", actor=cs_user)
    services.case_dismiss(case=case, note="Duplicate of a phone complaint", actor=cs_user)
    case.refresh_from_db()
    assert case.status == CaseStatus.DISMISSED


def test_bulk_assign_skips_cases_of_other_teams(cs_user):
    cs_case, _ = services.case_open(kind=CaseKind.ONBOARDING_REVIEW, seller=SellerFactory(), reason="a")
    support_case, _ = services.case_open(kind=CaseKind.ONBOARDING_CALL, seller=SellerFactory(), reason="b")
    assigned = services.case_assign_many(case_ids=[cs_case.pk, support_case.pk], assignee=cs_user, actor=cs_user)
    assert assigned == 1
    cs_case.refresh_from_db()
    support_case.refresh_from_db()
    assert cs_case.assignee == cs_user and support_case.assignee is None
    assert cs_case.history.filter(action="assigned").count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent connections")
def test_concurrent_case_open_creates_one_case():
    seller = SellerFactory()
    barrier = threading.Barrier(4)
    results = []

    def flag():
        barrier.wait()
        try:
            results.append(services.case_open(kind=CaseKind.SELLER_DORMANT, seller=seller, reason="No sales in 60 days"))
        finally:
            connection.close()

    threads = [threading.Thread(target=flag) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Case.objects.filter(seller=seller).count() == 1
    assert sorted(created for _, created in results) == [False, False, False, True]
    assert len({case.pk for case, _ in results}) == 1


def test_resolve_refuses_an_outcome_that_does_not_fit_the_kind(cs_user):
    case, _ = services.case_open(kind=CaseKind.BUYER_CHURN_RISK, buyer=BuyerFactory(), reason="Overdue")
    with pytest.raises(ValidationError) as excinfo:
        services.case_resolve(case=case, outcome="approved", actor=cs_user)
    assert "not an outcome for a Buyer at churn risk case" in str(excinfo.value.message_dict["outcome"])
    case.refresh_from_db()
    assert case.status == CaseStatus.OPEN
