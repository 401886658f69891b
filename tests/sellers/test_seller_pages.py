"""Seller pages as staff read them: no "None", no raw JSON, proper plurals."""

import pytest
from django.urls import reverse

from scoring.factories import SellerScoreFactory
from scoring.models import ScoreBasis
from sellers.factories import ListingFactory, SellerFactory, WorkshopSessionFactory
from sellers.models import OnboardingAction, OnboardingDecision, OnboardingPolicy, RiskTier

pytestmark = pytest.mark.django_db


def test_the_seller_page_says_not_scored_yet_instead_of_none(client, admin_user):
    scored_without_model = SellerScoreFactory(score=None, probability=None, basis=ScoreBasis.NOT_ENOUGH_HISTORY, reasons=[]).seller
    never_scored = SellerFactory()
    client.force_login(admin_user)

    for seller in (scored_without_model, never_scored):
        page = client.get(reverse("admin:sellers_seller_change", args=[seller.pk])).content.decode()
        assert "Not scored yet" in page
        assert "None" not in page


def test_the_listing_list_shows_prices_as_money(client, admin_user):
    from decimal import Decimal

    ListingFactory(title="Celadon teapot", price=Decimal("1480.00"))
    client.force_login(admin_user)

    page = client.get(reverse("admin:sellers_listing_changelist")).content.decode()

    assert "Celadon teapot" in page and "$1,480.00" in page and ">1480.00<" not in page


def test_the_listing_list_says_when_stock_is_not_tracked(client, support_user):
    ListingFactory(title="Made-to-order mug", stock_quantity=None)
    ListingFactory(title="Glazed bowl", stock_quantity=3)
    client.force_login(support_user)

    page = client.get(reverse("admin:sellers_listing_changelist")).content.decode()

    assert "Stock not tracked (made to order)" in page and "3 in stock" in page
    assert "None" not in page


def test_an_onboarding_decision_shows_its_bands_and_reasons_as_labelled_fields(client, support_user):
    policy = OnboardingPolicy.objects.get(is_active=True)
    decision = OnboardingDecision.objects.create(
        seller=SellerFactory(), policy=policy, bands=policy.bands(), score=None, tier=RiskTier.MID,
        action=OnboardingAction.ONBOARDING_CALL, reason="Not scored: schedule a call.",
        reasons=[{"text": "1 year of craft experience (application)", "contribution": -4}],
    )
    client.force_login(support_user)

    page = client.get(reverse("admin:sellers_onboardingdecision_change", args=[decision.pk])).content.decode()

    assert "High risk</th><td>scores 0–29" in page and "Low risk</th><td>scores 70–100" in page
    assert "1 year of craft experience (application): <b style='color:#b00'>-4</b>" in page
    assert '"high"' not in page and "[0, 29]" not in page and "&quot;contribution&quot;" not in page
    assert "Routed without a score" in page


def test_lowering_capacity_below_bookings_names_the_seats_in_plain_plural(client, admin_user):
    session = WorkshopSessionFactory(capacity=5)
    session.booked = 1
    session.save(update_fields=["booked"])
    client.force_login(admin_user)

    response = client.post(reverse("admin:sellers_workshopsession_change", args=[session.pk]), {
        "workshop": session.workshop_id, "starts_at_0": session.starts_at.strftime("%Y-%m-%d"),
        "starts_at_1": session.starts_at.strftime("%H:%M:%S"), "format": session.format, "location": session.location,
        "capacity": 0, "assignments-TOTAL_FORMS": 0, "assignments-INITIAL_FORMS": 0,
    })

    assert "is below the 1 seat already booked." in response.content.decode()
