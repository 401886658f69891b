"""Buyer and seller 360 pages, the header search and the error pages."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from buyers.factories import BuyerFactory, BuyerRetentionFactory
from casework import services
from casework.models import CaseKind
from feedback.factories import ResponseFactory, ThemeFactory
from feedback.models import ResponseTheme
from loyalty.factories import EarnLotFactory
from marketplace.factories import OrderFactory
from marketplace.models import OrderStatus
from scoring.factories import SellerScoreFactory
from sellers.factories import ListingFactory, SellerFactory

pytestmark = pytest.mark.django_db


def _buyer_with_history(orders=3):
    buyer = BuyerFactory(name="Mira Okafor", email="mira@buyers.example")
    BuyerRetentionFactory(buyer=buyer, churn_probability=0.9954116121248251, churn_band="high", p_alive=0.12345,
                          clv="1234.5", cadence_days=31.27, churn_model_version="churn v3", reasons=["No order for 200 days"])
    for _ in range(orders):
        OrderFactory(buyer=buyer, seller=SellerFactory(), total_amount="42.00")
    EarnLotFactory(buyer=buyer, amount=150)
    response = ResponseFactory(buyer=buyer, nps=3, text="Parcel arrived broken")
    ResponseTheme.objects.create(response=response, theme=ThemeFactory(name="Damaged in transit"), origin="rule")
    services.case_open(kind=CaseKind.BUYER_CHURN_RISK, buyer=buyer, reason="High churn risk")
    return buyer


def test_buyer_360_shows_retention_loyalty_orders_feedback_and_cases_formatted(client, cs_user):
    buyer = _buyer_with_history()
    client.force_login(cs_user)

    page = client.get(reverse("admin:buyers_buyer_360", args=[buyer.pk])).content.decode()

    assert "99.5%" in page and "0.9954116121248251" not in page
    assert "churn v3" in page and "No order for 200 days" in page
    assert "12.3%" in page and "$1,234.50" in page and "31.3 days" in page
    assert "150 points" in page and "$42.00" in page and "Damaged in transit" in page
    assert "Buyer at churn risk" in page and "not in an intervention" in page


def test_buyer_360_query_count_does_not_grow_with_history(client, cs_user, django_assert_max_num_queries):
    client.force_login(cs_user)
    small = _buyer_with_history(orders=1)
    with django_assert_max_num_queries(40) as queries:
        client.get(reverse("admin:buyers_buyer_360", args=[small.pk]))
    big = _buyer_with_history(orders=15)
    with django_assert_max_num_queries(len(queries.captured_queries)):
        client.get(reverse("admin:buyers_buyer_360", args=[big.pk]))


def test_a_buyer_case_links_to_the_buyer_360(client, cs_user):
    buyer = _buyer_with_history()
    client.force_login(cs_user)

    page = client.get(reverse("admin:casework_case_changelist")).content.decode()

    assert reverse("admin:buyers_buyer_360", args=[buyer.pk]) in page


def test_seller_360_compares_kpis_with_the_category(client, support_user):
    seller = SellerFactory(name="Kiln & Co", onboarded_at=timezone.now() - timedelta(days=40))
    peer = SellerFactory(craft_category=seller.craft_category)
    OrderFactory(seller=seller, placed_at=timezone.now() - timedelta(days=30), total_amount="50.00")
    OrderFactory(seller=seller, status=OrderStatus.CANCELLED, placed_at=timezone.now() - timedelta(days=20), total_amount="30.00")
    OrderFactory(seller=peer, placed_at=timezone.now() - timedelta(days=10), total_amount="40.00")
    ListingFactory(seller=seller, title="Speckled mug")
    client.force_login(support_user)

    page = client.get(reverse("admin:sellers_seller_360", args=[seller.pk])).content.decode()

    assert "Cancellation rate" in page and "50.0%" in page and "33.3%" in page
    assert "$40.00" in page and "10.0 days" in page and "Speckled mug" in page


def test_seller_360_signs_each_reason_and_leaves_a_pointless_note_unscored(client, support_user):
    reasons = [
        {"feature": "late_rate", "text": "late shipments 18% of orders", "contribution": -14},
        {"feature": "rating_mean", "text": "average rating 4.8 stars", "contribution": 6},
        {"feature": "", "text": "routed by the onboarding policy", "contribution": 0},
    ]
    score = SellerScoreFactory(reasons=reasons)
    client.force_login(support_user)

    page = client.get(reverse("admin:sellers_seller_360", args=[score.seller.pk])).content.decode()

    assert 'late shipments 18% of orders: <b class="kiln-down">-14</b>' in page
    assert 'average rating 4.8 stars: <b class="kiln-up">+6</b>' in page
    assert "<li>routed by the onboarding policy</li>" in page


def test_seller_360_query_count_does_not_grow_with_orders(client, support_user, django_assert_max_num_queries):
    client.force_login(support_user)
    seller = SellerFactory()
    OrderFactory(seller=seller)
    with django_assert_max_num_queries(40) as queries:
        client.get(reverse("admin:sellers_seller_360", args=[seller.pk]))
    for _ in range(12):
        OrderFactory(seller=seller)
        ListingFactory(seller=seller)
    with django_assert_max_num_queries(len(queries.captured_queries)):
        client.get(reverse("admin:sellers_seller_360", args=[seller.pk]))


@pytest.mark.parametrize("query", ["Okafor", "mira@buyers", "B-EXT-77"])
def test_header_search_finds_buyers_by_name_email_or_external_id(client, cs_user, query):
    buyer = BuyerFactory(name="Mira Okafor", email="mira@buyers.example", external_id="B-EXT-77")
    client.force_login(cs_user)

    page = client.get(reverse("kiln_search"), {"q": query}).content.decode()

    assert reverse("admin:buyers_buyer_360", args=[buyer.pk]) in page


def test_header_search_finds_artisans_too(client, support_user):
    seller = SellerFactory(name="Tomasz Wood", external_id="S-991")
    client.force_login(support_user)

    page = client.get(reverse("kiln_search"), {"q": "s-991"}).content.decode()

    assert reverse("admin:sellers_seller_360", args=[seller.pk]) in page


def test_forbidden_page_is_styled_with_a_way_home(client, cs_user):
    client.force_login(cs_user)

    response = client.get(reverse("admin:core_outboxmessage_changelist"))

    assert response.status_code == 403
    assert 'id="error-403"' in response.content.decode() and reverse("admin:index") in response.content.decode()


def test_missing_page_is_styled_with_a_way_home(client, cs_user, settings):
    settings.DEBUG = False
    client.force_login(cs_user)

    response = client.get("/admin/no-such-page/")

    assert response.status_code == 404 and 'id="error-404"' in response.content.decode()


def test_a_page_of_read_only_fields_has_no_save_button(client, admin_user):
    from core.factories import OutboxMessageFactory

    message = OutboxMessageFactory()
    client.force_login(admin_user)

    page = client.get(reverse("admin:core_outboxmessage_change", args=[message.pk])).content.decode()

    assert 'name="_save"' not in page


def test_an_editable_page_keeps_its_save_button(client, admin_user):
    seller = SellerFactory()
    client.force_login(admin_user)

    page = client.get(reverse("admin:sellers_seller_change", args=[seller.pk])).content.decode()

    assert 'name="_save"' in page


def test_the_retention_list_shows_percentages_and_money(client, cs_user):
    BuyerRetentionFactory(churn_probability=0.9954116121248251, p_alive=0.5, clv="99.5")
    client.force_login(cs_user)

    page = client.get(reverse("admin:buyers_buyerretention_changelist")).content.decode()

    assert "99.5%" in page and "50.0%" in page and "$99.50" in page and "0.9954116121248251" not in page
