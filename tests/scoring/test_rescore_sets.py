"""Rescoring a set of artisans at once (a bulk sync's rescore reactions) gives each the score,
reasons and history one rescore per artisan gives, and routes applicants the same way."""

import pytest
from django.utils import timezone

from scoring import services
from scoring.factories import trained_cold_start_model, trained_seller_model
from scoring.models import SellerScore, SellerScoreHistory
from sellers.factories import SellerFactory
from sellers.models import OnboardingStatus, Seller
from tests.scoring.histories import seller_order_history
from workflows import onboarding

pytestmark = pytest.mark.django_db


def _scores() -> dict:
    """Each artisan's score as staff see it; the probability to the last few bits of a float
    (a matrix of several artisans is multiplied in a different order than a row of one)."""
    return {
        row["seller_id"]: (
            row["score"], pytest.approx(row["probability"], rel=1e-9), row["basis"], row["model_version_id"],
            row["computed_at"], [(r["feature"], r["text"]) for r in row["reasons"]],
        )
        for row in SellerScore.objects.values("seller_id", "score", "probability", "basis", "reasons", "model_version_id", "computed_at")
    }


def test_a_set_rescore_gives_every_artisan_its_one_by_one_score_and_one_history_row():
    trained_seller_model()
    careful, sloppy, quiet = SellerFactory(), SellerFactory(), SellerFactory()
    seller_order_history(careful, good=20)
    seller_order_history(sloppy, late=12, good=3)
    as_of = timezone.now()
    ids = [careful.pk, sloppy.pk, quiet.pk]
    for seller_id in ids:
        services.seller_rescore(seller_id=seller_id, as_of=as_of)
    one_by_one = _scores()
    SellerScore.objects.all().delete()
    SellerScoreHistory.objects.all().delete()

    assert services.sellers_rescore(seller_ids=[*ids, 424242], as_of=as_of) == 3
    assert services.sellers_rescore(seller_ids=ids, as_of=as_of) == 3  # the same reaction delivered twice

    assert _scores() == one_by_one
    assert one_by_one[careful.pk][0] > one_by_one[sloppy.pk][0]
    assert sorted(SellerScoreHistory.objects.values_list("seller_id", flat=True)) == sorted(ids)


def test_a_set_rescore_routes_a_fresh_applicant_as_a_single_rescore_does():
    trained_seller_model()
    trained_cold_start_model()
    veteran = SellerFactory()
    seller_order_history(veteran, good=10)
    applicant = SellerFactory(onboarding_status=OnboardingStatus.APPLIED, approved_at=None, years_experience=8, has_portfolio=True)

    onboarding.sellers_rescore(seller_ids=[veteran.pk, applicant.pk])

    assert Seller.objects.get(pk=applicant.pk).onboarding_status != OnboardingStatus.APPLIED
    assert Seller.objects.get(pk=veteran.pk).onboarding_status == veteran.onboarding_status
    assert SellerScore.objects.filter(seller_id__in=[veteran.pk, applicant.pk]).count() == 2
