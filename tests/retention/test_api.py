import csv
import io

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from buyers.factories import BuyerFactory, BuyerRetentionFactory, CampaignAudienceFactory
from buyers.models import CampaignAudience
from retention.recommendations import buyer_recommendations_recompute
from retention.services import retention_recompute
from marketplace.factories import OrderFactory, OrderLineFactory
from sellers.factories import ListingFactory, SellerFactory


def test_profile_requires_authentication(db):
    buyer = BuyerFactory()

    response = APIClient().get(reverse("retention-buyer-profile", args=[buyer.pk]))

    assert response.status_code in (401, 403)


def test_profile_of_unknown_buyer_is_404(cs_client):
    response = cs_client.get(reverse("retention-buyer-profile", args=[424242]))

    assert response.status_code == 404


def test_profile_returns_computed_retention_figures(small_base, cs_client, django_assert_max_num_queries):
    retention_recompute()
    loyal = small_base["loyal"]

    with django_assert_max_num_queries(8):
        response = cs_client.get(reverse("retention-buyer-profile", args=[loyal.pk]))

    assert response.status_code == 200
    body = response.json()
    assert body["computed"] is True
    assert body["segment"] == "high_value"
    assert body["order_count"] == 8
    assert 0 <= body["p_alive"] <= 1
    assert body["cadence_state"] in ("early", "due")
    assert body["segment_history"][0]["to"] == "high_value"
    assert body["reasons"]


def test_profile_of_a_buyer_never_computed_has_defined_defaults(cs_client):
    buyer = BuyerFactory()

    body = cs_client.get(reverse("retention-buyer-profile", args=[buyer.pk])).json()

    assert (body["computed"], body["segment"], body["order_count"], body["p_alive"]) == (False, "new", 0, 1.0)


def test_recommendations_endpoint_lists_listings_and_artisans(cs_client):
    seller, other = SellerFactory(), SellerFactory()
    mug, vase = ListingFactory(seller=seller), ListingFactory(seller=other)
    buyer = BuyerFactory()
    OrderLineFactory(order=OrderFactory(buyer=buyer, seller=seller), listing=mug)
    peer = BuyerFactory()
    OrderLineFactory(order=OrderFactory(buyer=peer, seller=seller), listing=mug)
    OrderLineFactory(order=OrderFactory(buyer=peer, seller=other), listing=vase)
    retention_recompute()
    buyer_recommendations_recompute()

    body = cs_client.get(reverse("retention-buyer-recommendations", args=[buyer.pk])).json()

    assert [item["id"] for item in body["listings"]] == [vase.pk]
    assert body["listings"][0]["artisan"] == other.name
    assert [a["id"] for a in body["artisans"]] == [other.pk]
    assert cs_client.get(reverse("retention-buyer-recommendations", args=[999999])).status_code == 404


def test_admin_creates_an_audience_and_invalid_filters_name_the_field(admin_client):
    ok = admin_client.post(
        reverse("retention-audience-list"), {"name": "Win back", "segments": ["lapsing"], "churn_bands": ["high"]}, format="json"
    )
    bad = admin_client.post(
        reverse("retention-audience-list"), {"name": "Oops", "segments": ["vip"], "cadence_states": ["late"]}, format="json"
    )

    assert ok.status_code == 201
    assert CampaignAudience.objects.get().segments == ["lapsing"]
    assert bad.status_code == 400
    assert "vip" in bad.json()["errors"]["segments"][0]
    assert "late" in bad.json()["errors"]["cadence_states"][0]


def test_only_admins_define_audiences(cs_client):
    response = cs_client.post(reverse("retention-audience-list"), {"name": "Mine", "segments": ["new"]}, format="json")

    assert response.status_code == 403
    assert not CampaignAudience.objects.exists()


def test_preview_rejects_an_unknown_churn_band_naming_the_field(cs_client):
    response = cs_client.get(reverse("retention-audience-preview"), {"churn_bands": "extreme"})

    assert response.status_code == 400
    assert "churn_bands" in response.json()["errors"]


def test_audience_members_and_csv_carry_personalisation_fields(cs_client, django_assert_max_num_queries):
    artisan = SellerFactory(name="Clay Studio")
    listing = ListingFactory(title="Blue mug")
    lapsing = [
        BuyerRetentionFactory(segment="lapsing", churn_band="high", top_seller=artisan, recommended_listing_ids=[listing.pk], cadence_days=45, days_since_last_order=120)
        for _ in range(3)
    ]
    BuyerRetentionFactory(segment="high_value", churn_band="low")
    audience = CampaignAudienceFactory(segments=["lapsing"], churn_bands=["high"])

    with django_assert_max_num_queries(10):
        members = cs_client.get(reverse("retention-audience-members", args=[audience.pk])).json()
    export = cs_client.get(reverse("retention-audience-export", args=[audience.pk]))
    rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))

    assert members["count"] == 3
    assert {m["buyer_id"] for m in members["results"]} == {r.buyer_id for r in lapsing}
    first = members["results"][0]
    assert first["top_artisan"] == "Clay Studio"
    assert first["recommended_listings"] == [{"id": listing.pk, "title": "Blue mug"}]
    assert "every 45 days" in first["reason_for_contact"]
    assert export.status_code == 200 and export["Content-Type"] == "text/csv"
    assert len(rows) == 3
    assert rows[0]["recommended_listings"] == "Blue mug" and rows[0]["top_artisan"] == "Clay Studio"
    assert rows[0]["reason_for_contact"].startswith("Lapsing")


def test_audience_of_buyers_with_points_expiring_soon(cs_client):
    from datetime import timedelta

    from django.utils import timezone
    from loyalty.factories import EarnLotFactory

    expiring = BuyerRetentionFactory(segment="high_value")
    later = BuyerRetentionFactory(segment="high_value")
    EarnLotFactory(buyer=expiring.buyer, expires_at=timezone.now() + timedelta(days=10))
    EarnLotFactory(buyer=later.buyer, expires_at=timezone.now() + timedelta(days=200))

    body = cs_client.get(reverse("retention-audience-preview"), {"points_expiring_within_days": 30}).json()
    bad = cs_client.get(reverse("retention-audience-preview"), {"points_expiring_within_days": "soon"})

    assert [m["buyer_id"] for m in body["results"]] == [expiring.buyer_id]
    assert "expiring within 30 days" in body["results"][0]["reason_for_contact"]
    assert bad.status_code == 400 and "points_expiring_within_days" in bad.json()["errors"]
