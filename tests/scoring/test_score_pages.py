"""Score pages as staff read them: titles, reasons with their points, plural wording."""

from datetime import datetime, timezone as dt_timezone

import pytest
from django.urls import reverse

from django.utils import timezone

from scoring.explain import describe
from scoring.factories import SellerScoreFactory
from scoring.models import ModelVersion, ScoreBasis, SellerScoreHistory
from scoring.training import KIND
from sellers.factories import SellerFactory

pytestmark = pytest.mark.django_db


def test_a_score_history_row_reads_as_the_artisan_and_its_reasons(client, support_user):
    seller = SellerFactory(name="Mara Clay")
    row = SellerScoreHistory.objects.create(
        seller=seller, score=None, basis=ScoreBasis.NOT_ENOUGH_HISTORY, run_key="run:1",
        computed_at=datetime(2026, 12, 3, 10, tzinfo=dt_timezone.utc),
        reasons=[{"text": "late shipments 18% of orders", "contribution": -14}],
    )
    client.force_login(support_user)

    page = client.get(reverse("admin:scoring_sellerscorehistory_change", args=[row.pk])).content.decode()

    assert str(row) == "Mara Clay: not scored, 3 Dec 2026"
    assert "Mara Clay: not scored, 3 Dec 2026" in page
    assert "<td>late shipments 18% of orders</td><td style='text-align:right'>-14</td>" in page
    assert "&quot;contribution&quot;" not in page and "None" not in page


def test_counts_in_reasons_use_proper_plurals():
    assert describe("years_experience", {"years_experience": 1}) == "1 year of craft experience (application)"
    assert describe("years_experience", {"years_experience": 4}) == "4 years of craft experience (application)"
    assert describe("listing_count", {"listing_count": 1}) == "1 listing on the shop"
    assert describe("inventory_issues", {"inventory_issues": 2}).startswith("2 inventory problems:")
    assert describe("flagged_feedback_count", {"flagged_feedback_count": 1}) == "1 flagged feedback point in the last year"


def _version(number, category=None):
    now = timezone.now()
    return ModelVersion.objects.create(
        kind=KIND, category=category, version=number, window_start=now, window_end=now, seed=0,
        features=[], metrics={}, baseline_metrics={}, artifact=b"", artifact_sha256="0" * 64,
    )


def test_the_score_list_leaves_zero_point_reasons_out_of_the_signed_top_reasons(client, support_user):
    SellerScoreFactory(seller=SellerFactory(name="Mara Clay"), reasons=[
        {"feature": "late_rate", "text": "late shipments 18% of orders", "contribution": -14},
        {"feature": "tenure_days", "text": "on the marketplace for 2 years", "contribution": 0},
        {"feature": "rating_mean", "text": "average rating 4.8 stars", "contribution": 6},
    ])
    SellerScoreFactory(seller=SellerFactory(name="Ines Loom"), score=None, probability=None, basis=ScoreBasis.NO_MODEL, reasons=[
        {"feature": "", "text": "no validated scoring model is active yet: not scored", "contribution": 0},
    ])
    client.force_login(support_user)

    page = client.get(reverse("admin:scoring_sellerscore_changelist")).content.decode()

    assert "late shipments 18% of orders (-14); average rating 4.8 stars (+6)</td>" in page
    assert ">no validated scoring model is active yet: not scored</td>" in page
    assert "+0" not in page


def test_score_pages_name_the_model_version_in_words(client, support_user):
    global_version, category_version = _version(3), _version(2, category="ceramics")
    SellerScoreFactory(seller=SellerFactory(name="Mara Clay"), model_version=global_version)
    SellerScoreFactory(seller=SellerFactory(name="Ines Loom"), model_version=category_version)
    client.force_login(support_user)

    page = client.get(reverse("admin:scoring_sellerscore_changelist")).content.decode()

    assert "Seller score model, version 3" in page
    assert "Seller score model (Ceramics), version 2" in page
    assert "seller_score/" not in page and " v3" not in page
