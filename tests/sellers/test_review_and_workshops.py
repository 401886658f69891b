import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import close_old_connections, connection
from django.utils import timezone

from casework.models import Case, CaseKind, CaseStatus, Outcome
from core.models import OutboxMessage
from scoring.factories import SellerScoreFactory
from sellers import services
from sellers.factories import SellerFactory, WorkshopSessionFactory
from sellers.models import AssignmentStatus, OnboardingStatus, WorkshopAssignment, WorkshopOutcome, WorkshopSession


def _high_risk(applicant):
    services.seller_route(seller=applicant, score=SellerScoreFactory(seller=applicant, score=10))
    return applicant


def _workshop_pending(db_seller, cs_user):
    _high_risk(db_seller)
    return services.onboarding_review_decide(seller=db_seller, decision="approve", actor=cs_user)


@pytest.mark.django_db
def test_customer_success_approval_opens_the_mandatory_workshop_assignment(applicant, cs_user):
    _high_risk(applicant)

    seller = services.onboarding_review_decide(seller=applicant, decision="approve", actor=cs_user)

    review = Case.objects.get(seller=applicant, kind=CaseKind.ONBOARDING_REVIEW)
    workshop_case = Case.objects.get(seller=applicant, kind=CaseKind.WORKSHOP_ASSIGNMENT)
    assert (review.status, review.outcome) == (CaseStatus.RESOLVED, Outcome.APPROVED)
    assert workshop_case.status == CaseStatus.OPEN and workshop_case.evidence["score"] == 10
    assert seller.onboarding_status == OnboardingStatus.WORKSHOP_PENDING
    assert seller.onboarded_at is None


@pytest.mark.django_db
def test_seller_support_cannot_work_manual_reviews(applicant, support_user):
    _high_risk(applicant)

    with pytest.raises(PermissionDenied, match="customer success"):
        services.onboarding_review_decide(seller=applicant, decision="approve", actor=support_user)

    applicant.refresh_from_db()
    assert applicant.onboarding_status == OnboardingStatus.MANUAL_REVIEW


@pytest.mark.django_db
def test_rejection_and_information_request(applicant, cs_user):
    _high_risk(applicant)

    services.onboarding_review_decide(seller=applicant, decision="request_info", note="Photos of your workshop", actor=cs_user)
    applicant.refresh_from_db()
    assert applicant.onboarding_status == OnboardingStatus.INFO_REQUESTED
    assert OutboxMessage.objects.filter(to=applicant.email, category="onboarding_info_request").count() == 1

    services.onboarding_review_decide(seller=applicant, decision="reject", note="Not handmade", actor=cs_user)
    applicant.refresh_from_db()
    assert applicant.onboarding_status == OnboardingStatus.REJECTED and applicant.rejected_at is not None


@pytest.mark.django_db
def test_call_completion_onboards_a_mid_risk_artisan(applicant, support_user, cs_user):
    services.seller_route(seller=applicant, score=SellerScoreFactory(seller=applicant, score=50))

    with pytest.raises(PermissionDenied):
        services.onboarding_call_complete(seller=applicant, actor=cs_user)
    seller = services.onboarding_call_complete(seller=applicant, actor=support_user, note="Walked through shipping")

    assert seller.onboarding_status == OnboardingStatus.APPROVED and seller.onboarded_at is not None
    assert Case.objects.get(seller=applicant).outcome == Outcome.CALL_COMPLETED


@pytest.mark.django_db
def test_assignment_books_a_seat_emails_the_artisan_through_the_outbox_and_closes_the_case(
    applicant, cs_user, support_user, django_capture_on_commit_callbacks
):
    _workshop_pending(applicant, cs_user)
    session = WorkshopSessionFactory(capacity=2)

    with django_capture_on_commit_callbacks(execute=True):
        assignment = services.workshop_assign(session=session, seller=applicant, actor=support_user)

    session.refresh_from_db()
    assert session.booked == 1
    message = OutboxMessage.objects.get(dedupe_key=f"workshop-assignment:{assignment.pk}")
    assert message.to == applicant.email and session.workshop.topic in message.subject
    assert [m.to for m in mail.outbox if "workshop" in m.subject.lower()] == [[applicant.email]]
    assert Case.objects.get(seller=applicant, kind=CaseKind.WORKSHOP_ASSIGNMENT).outcome == Outcome.WORKSHOP_ASSIGNED


@pytest.mark.django_db
def test_customer_success_cannot_assign_workshops(applicant, cs_user):
    session = WorkshopSessionFactory()

    with pytest.raises(PermissionDenied, match="seller support"):
        services.workshop_assign(session=session, seller=applicant, actor=cs_user)

    assert WorkshopSession.objects.get(pk=session.pk).booked == 0


@pytest.mark.django_db
def test_a_full_session_refuses_another_seat_and_saves_nothing(support_user):
    session = WorkshopSessionFactory(capacity=1)
    first, second = SellerFactory(), SellerFactory()
    services.workshop_assign(session=session, seller=first, actor=support_user)

    with pytest.raises(ValidationError, match=r"is full \(1 seat\)"):
        services.workshop_assign(session=session, seller=second, actor=support_user)

    session.refresh_from_db()
    assert session.booked == 1
    assert not WorkshopAssignment.objects.filter(seller=second).exists()
    assert not OutboxMessage.objects.filter(to=second.email).exists()


@pytest.mark.django_db
def test_the_same_artisan_twice_is_refused_and_the_seat_is_not_taken(support_user):
    session = WorkshopSessionFactory(capacity=5)
    seller = SellerFactory()
    services.workshop_assign(session=session, seller=seller, actor=support_user)

    with pytest.raises(ValidationError, match="already has an upcoming seat"):
        services.workshop_assign(session=session, seller=seller, actor=support_user)

    session.refresh_from_db()
    assert session.booked == 1


@pytest.mark.django_db
def test_capacity_below_current_bookings_is_refused(support_user):
    session = WorkshopSessionFactory(capacity=3)
    for _ in range(2):
        services.workshop_assign(session=session, seller=SellerFactory(), actor=support_user)

    with pytest.raises(ValidationError) as error:
        services.workshop_session_set_capacity(session=session, capacity=1, actor=support_user)

    assert error.value.message_dict == {"capacity": ["Capacity 1 is below the 2 seats already booked."]}
    assert WorkshopSession.objects.get(pk=session.pk).capacity == 3
    assert services.workshop_session_set_capacity(session=session, capacity=2, actor=support_user).capacity == 2


@pytest.mark.django_db
def test_session_admin_refuses_capacity_below_bookings(client, support_user):
    session = WorkshopSessionFactory(capacity=3)
    for _ in range(2):
        services.workshop_assign(session=session, seller=SellerFactory(), actor=support_user)
    client.force_login(support_user)

    response = client.post(
        f"/admin/sellers/workshopsession/{session.pk}/change/",
        {"workshop": session.workshop_id, "starts_at_0": "2030-01-01", "starts_at_1": "10:00:00", "format": "virtual",
         "location": "x", "capacity": 1, "assignments-TOTAL_FORMS": 2, "assignments-INITIAL_FORMS": 2},
    )

    assert response.status_code == 200
    assert "Capacity 1 is below the 2 seats already booked." in response.content.decode()
    assert WorkshopSession.objects.get(pk=session.pk).capacity == 3


@pytest.mark.django_db
def test_passing_the_workshop_completes_onboarding(applicant, cs_user, support_user):
    _workshop_pending(applicant, cs_user)
    assignment = services.workshop_assign(session=WorkshopSessionFactory(), seller=applicant, actor=support_user)

    services.workshop_attendance_record(assignment=assignment, attended=True, outcome=WorkshopOutcome.PASSED, actor=support_user)

    applicant.refresh_from_db()
    assert applicant.onboarding_status == OnboardingStatus.APPROVED
    assert applicant.onboarded_at is not None
    assert services.onboarding_required_steps(applicant) == {"approved": True, "mandatory_workshop": True}


@pytest.mark.django_db
def test_a_no_show_sends_the_artisan_back_to_the_assignment_queue(applicant, cs_user, support_user):
    _workshop_pending(applicant, cs_user)
    assignment = services.workshop_assign(session=WorkshopSessionFactory(), seller=applicant, actor=support_user)

    services.workshop_attendance_record(assignment=assignment, attended=False, actor=support_user)

    applicant.refresh_from_db()
    assert applicant.onboarding_status == OnboardingStatus.WORKSHOP_PENDING
    assert Case.objects.active().filter(seller=applicant, kind=CaseKind.WORKSHOP_ASSIGNMENT).count() == 1
    assert WorkshopAssignment.objects.get(pk=assignment.pk).status == AssignmentStatus.NO_SHOW


@pytest.mark.django_db
def test_attended_without_an_outcome_is_refused(support_user):
    assignment = services.workshop_assign(session=WorkshopSessionFactory(), seller=SellerFactory(), actor=support_user)

    with pytest.raises(ValidationError, match="Say how the workshop went"):
        services.workshop_attendance_record(assignment=assignment, attended=True, outcome="", actor=support_user)
    assert WorkshopAssignment.objects.get(pk=assignment.pk).status == AssignmentStatus.ASSIGNED


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs real row locks (PostgreSQL)")
@pytest.mark.django_db(transaction=True)
def test_concurrent_assignments_never_overbook_a_session(support_user):
    session = WorkshopSessionFactory(capacity=3, starts_at=timezone.now() + timedelta(days=3))
    sellers = [SellerFactory() for _ in range(8)]
    barrier = threading.Barrier(len(sellers))
    outcomes = []

    def assign(seller):
        try:
            barrier.wait()
            services.workshop_assign(session=session, seller=seller, actor=support_user)
            outcomes.append("booked")
        except ValidationError:
            outcomes.append("full")
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=assign, args=(seller,)) for seller in sellers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    session.refresh_from_db()
    assert sorted(outcomes) == ["booked"] * 3 + ["full"] * 5
    assert session.booked == 3
    assert WorkshopAssignment.objects.filter(session=session).count() == 3
    assert OutboxMessage.objects.filter(category="workshop_invitation").count() == 3
