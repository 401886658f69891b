"""The buyer retention and seller dormancy pages read as numbers and words, not raw values."""

import pytest
from django.urls import reverse

from buyers.factories import BuyerFactory, BuyerRetentionFactory
from buyers.models import SellerDormancy
from sellers.factories import ListingFactory, SellerFactory

pytestmark = pytest.mark.django_db


def test_buyer_retention_page_is_formatted_for_people(client, cs_user):
    artisan = SellerFactory(name="Juniper Pottery")
    listing = ListingFactory(seller=artisan, title="Speckled mug")
    row = BuyerRetentionFactory(
        buyer=BuyerFactory(name="Ada Lovelace"), segment="churned", order_count=3, age_days=728.5882848513658,
        p_alive=0.00020849265411287092, churn_probability=0.9895833333333334, total_spend="637.85",
        recommended_seller_ids=[artisan.pk], recommended_listing_ids=[listing.pk],
        reasons=["No purchase for 400 days; P(alive) 0.00.", {"text": "late shipments", "contribution": -14}],
    )
    client.force_login(cs_user)

    body = client.get(reverse("admin:buyers_buyerretention_change", args=[row.pk])).content.decode()

    for raw in ("728.588", "0.000208", "0.98958", "[" + str(artisan.pk) + "]", '["No purchase'):
        assert raw not in body
    assert "728.6 days" in body
    assert "0.0%" in body and "99.0%" in body
    assert "$637.85" in body
    assert f'<a href="{reverse("admin:sellers_seller_360", args=[artisan.pk])}">Juniper Pottery</a>' in body
    assert f'<a href="{reverse("admin:sellers_listing_change", args=[listing.pk])}">Speckled mug</a>' in body
    assert "<li>late shipments (-14)</li>" in body
    assert "Ada Lovelace: Churned" in body
    assert f"{row.pk}: churned" not in body


def test_seller_dormancy_signals_are_labelled(client, support_user):
    from django.utils import timezone

    seller = SellerFactory()
    SellerDormancy.objects.create(
        seller=seller, computed_at=timezone.now(), is_flagged=True,
        signals={"baseline": "previous 90 days", "sales": [2, 10], "late_share": [0.25, 0.05], "sales_falling": True},
    )
    client.force_login(support_user)

    body = client.get(reverse("admin:buyers_sellerdormancy_change", args=[seller.pk])).content.decode()

    assert "Sales: 2 in the last 90 days vs 10 (previous 90 days)" in body
    assert "Late shipments: 25% vs 5% the 90 days before" in body
    assert "Sales falling: yes" in body
    assert "{&quot;baseline" not in body
