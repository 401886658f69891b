from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from casework.models import Case, CaseKind, CaseStatus, Team
from scoring.factories import SellerScoreFactory, trained_seller_model
from sellers import services
from sellers.models import OnboardingAction, OnboardingDecision, OnboardingStatus, RiskTier

BANDS = {"high_min": 0, "high_max": 29, "mid_min": 30, "mid_max": 69, "low_min": 70, "low_max": 100}


@pytest.mark.django_db
def test_low_risk_artisan_is_approved_instantly_with_the_reason(applicant):
    score = SellerScoreFactory(seller=applicant, score=84)

    decision = services.seller_route(seller=applicant, score=score)

    applicant.refresh_from_db()
    assert applicant.onboarding_status == OnboardingStatus.APPROVED
    assert applicant.approved_at is not None and applicant.onboarded_at is not None
    assert (decision.tier, decision.action) == (RiskTier.LOW, OnboardingAction.APPROVED)
    assert decision.reason == "Score 84 is in the low-risk band 70-100 of policy 'Default bands': approved instantly."
    assert not Case.objects.filter(seller=applicant).exists()


@pytest.mark.django_db
def test_mid_risk_artisan_gets_a_seller_support_call_case_with_score_and_reasons(applicant):
    version = trained_seller_model()
    score = SellerScoreFactory(seller=applicant, score=55, model_version=version)

    decision = services.seller_route(seller=applicant, score=score)

    case = Case.objects.get(seller=applicant)
    applicant.refresh_from_db()
    assert (case.kind, case.team, case.status) == (CaseKind.ONBOARDING_CALL, Team.SELLER_SUPPORT, CaseStatus.OPEN)
    assert case.evidence["score"] == 55
    assert case.evidence["reasons"][0] == {"text": "late shipments 18% of orders (category average 6%)", "contribution": -14}
    assert case.evidence["model_version"] == str(version)
    assert applicant.onboarding_status == OnboardingStatus.CALL_PENDING
    assert decision.case_id == case.pk
    assert decision.model_version_id == version.pk


@pytest.mark.django_db
def test_high_risk_artisan_gets_a_customer_success_review_case(applicant):
    score = SellerScoreFactory(seller=applicant, score=12)

    decision = services.seller_route(seller=applicant, score=score)

    case = Case.objects.get(seller=applicant)
    applicant.refresh_from_db()
    assert (case.kind, case.team) == (CaseKind.ONBOARDING_REVIEW, Team.CUSTOMER_SUCCESS)
    assert applicant.onboarding_status == OnboardingStatus.MANUAL_REVIEW
    assert decision.action == OnboardingAction.MANUAL_REVIEW


@pytest.mark.django_db
def test_a_changed_policy_applies_to_new_applications_and_history_keeps_the_old_one(admin_user, applicant):
    from sellers.factories import SellerFactory

    first_decision = services.seller_route(seller=applicant, score=SellerScoreFactory(seller=applicant, score=75))
    stricter = services.onboarding_policy_save(actor=admin_user, name="Stricter", bands={**BANDS, "mid_max": 79, "low_min": 80})
    later = SellerFactory(onboarding_status=OnboardingStatus.APPLIED, applied_at=timezone.now(), approved_at=None)

    second_decision = services.seller_route(seller=later, score=SellerScoreFactory(seller=later, score=75))

    first_decision.refresh_from_db()
    assert first_decision.tier == RiskTier.LOW and first_decision.bands["low"] == [70, 100]
    assert second_decision.tier == RiskTier.MID and second_decision.policy_id == stricter.pk
    assert second_decision.bands["low"] == [80, 100]


@pytest.mark.django_db
def test_routing_twice_is_refused_and_opens_no_second_case(applicant):
    score = SellerScoreFactory(seller=applicant, score=40)
    services.seller_route(seller=applicant, score=score)

    with pytest.raises(ValidationError, match="already routed"):
        services.seller_route(seller=applicant, score=score)

    assert Case.objects.filter(seller=applicant).count() == 1
    assert OnboardingDecision.objects.filter(seller=applicant).count() == 1


@pytest.mark.django_db
def test_application_task_scores_then_routes_and_is_idempotent(applicant):
    from workflows.tasks import seller_application_received_task

    trained_seller_model()

    first = seller_application_received_task(applicant.pk)
    second = seller_application_received_task(applicant.pk)

    applicant.refresh_from_db()
    assert first == second
    assert applicant.onboarding_status != OnboardingStatus.APPLIED
    assert OnboardingDecision.objects.filter(seller=applicant).count() == 1
    # Both calls may fall on the same scoring instant (an application is scored from a second after
    # it was stamped), which writes one history row; never two rows for one instant.
    history = list(applicant.score_history.values_list("run_key", flat=True))
    assert 1 <= len(history) <= 2 and len(set(history)) == len(history)


@pytest.mark.django_db
def test_application_task_for_an_unknown_seller_does_nothing():
    from workflows.tasks import seller_application_received_task

    assert seller_application_received_task(987654) is None
    assert OnboardingDecision.objects.count() == 0


@pytest.mark.django_db
def test_rescore_during_onboarding_escalates_a_pending_call_to_manual_review(applicant):
    services.seller_route(seller=applicant, score=SellerScoreFactory(seller=applicant, score=50))
    worse = SellerScoreFactory.build(seller=applicant, score=20)

    decision = services.seller_route_on_rescore(seller=applicant, score=worse)

    applicant.refresh_from_db()
    assert applicant.onboarding_status == OnboardingStatus.MANUAL_REVIEW
    assert decision.trigger == "rescore" and decision.tier == RiskTier.HIGH
    assert set(Case.objects.filter(seller=applicant).values_list("kind", flat=True)) == {CaseKind.ONBOARDING_CALL, CaseKind.ONBOARDING_REVIEW}


@pytest.mark.django_db
def test_rescore_after_onboarding_does_not_reroute():
    from sellers.factories import SellerFactory

    seller = SellerFactory(onboarding_status=OnboardingStatus.APPROVED, onboarded_at=timezone.now() - timedelta(days=1))

    assert services.seller_route_on_rescore(seller=seller, score=SellerScoreFactory(seller=seller, score=5)) is None
    assert not Case.objects.filter(seller=seller).exists()
