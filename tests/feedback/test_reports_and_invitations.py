from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.utils import timezone

from buyers.factories import BuyerFactory
from core.models import OutboxMessage
from feedback.factories import ResponseFactory, SurveyFactory
from feedback.invitations import invitations_send, quarter_of
from feedback.models import Moment, SurveyInvitation
from feedback.selectors import nps_report
from marketplace.factories import OrderFactory
from marketplace.models import OrderStatus
from sellers.factories import SellerFactory
from sellers.models import CraftCategory

pytestmark = pytest.mark.django_db


def test_nps_and_csat_per_survey_with_counts(survey):
    other = SurveyFactory(slug="ad-hoc")
    for nps in (10, 9, 8, 6, 0):
        ResponseFactory(source__survey=survey, nps=nps)
    ResponseFactory(source__survey=survey, csat=5)
    ResponseFactory(source__survey=survey, csat=2)
    ResponseFactory(source__survey=other, nps=10)

    rows = {row["group"]: row for row in nps_report(group_by="survey")}

    mine = rows["post-purchase"]
    assert (mine["responses"], mine["nps_responses"], mine["promoters"], mine["passives"], mine["detractors"]) == (7, 5, 2, 1, 2)
    assert mine["nps"] == 0.0  # 40% promoters - 40% detractors
    assert (mine["csat_responses"], mine["csat"], mine["csat_mean"]) == (2, 50.0, 3.5)
    assert rows["ad-hoc"]["nps"] == 100.0


def test_nps_per_category_and_seller(survey):
    jeweller = SellerFactory(craft_category=CraftCategory.JEWELRY)
    potter = SellerFactory(craft_category=CraftCategory.CERAMICS)
    ResponseFactory(source__survey=survey, seller=jeweller, nps=10)
    ResponseFactory(source__survey=survey, seller=potter, nps=2)
    ResponseFactory(source__survey=survey, seller=potter, nps=9)

    by_category = {row["group"]: row["nps"] for row in nps_report(group_by="category")}
    by_seller = {row["group"]: row["responses"] for row in nps_report(group_by="seller")}

    assert by_category == {"jewelry": 100.0, "ceramics": 0.0}
    assert by_seller == {jeweller.external_id: 1, potter.external_id: 2}


def test_nps_per_period_and_segment(survey):
    january = datetime(2026, 1, 15, tzinfo=UTC)
    buyer_a, buyer_b = BuyerFactory(), BuyerFactory()
    ResponseFactory(source__survey=survey, buyer=buyer_a, nps=10, submitted_at=january)
    ResponseFactory(source__survey=survey, buyer=buyer_b, nps=0, submitted_at=january + timedelta(days=31))

    by_month = [(row["group"][:7], row["nps"]) for row in nps_report(group_by="period", period="month")]
    with mock.patch("buyers.selectors.buyer_segments", return_value={buyer_a.pk: "loyal", buyer_b.pk: "at_risk"}):
        by_segment = {row["group"]: (row["responses"], row["nps"]) for row in nps_report(group_by="segment")}

    assert by_month == [("2026-01", 100.0), ("2026-02", -100.0)]
    assert by_segment == {"loyal": (1, 100.0), "at_risk": (1, -100.0)}


def test_report_api_needs_read_scope_and_returns_rows(client, survey):
    ResponseFactory(source__survey=survey, nps=9)

    reply = client.get("/api/v1/feedback/reports/nps/", {"group_by": "survey"})
    bad = client.get("/api/v1/feedback/reports/nps/", {"group_by": "planet"})

    assert reply.status_code == 200
    assert reply.data["rows"][0]["nps"] == 100.0
    assert bad.status_code == 400 and "group_by" in bad.data["errors"]


def test_post_purchase_invites_delivered_orders_after_delay_once(survey):
    now = timezone.now()
    survey.delay_days, survey.min_gap_days = 7, 60
    survey.save()
    due = OrderFactory(placed_at=now - timedelta(days=14))  # delivered 9 days ago
    OrderFactory(placed_at=now - timedelta(days=6))  # delivered 1 day ago: too early
    OrderFactory(placed_at=now - timedelta(days=14), status=OrderStatus.CANCELLED)

    first = invitations_send(now=now)
    second = invitations_send(now=now + timedelta(hours=1))

    assert first == {"post-purchase": 1} and second == {"post-purchase": 0}
    invitation = SurveyInvitation.objects.get()
    assert (invitation.buyer, invitation.order) == (due.buyer, due)
    message = OutboxMessage.objects.get()
    assert message.to == due.buyer.email and message.category == "survey_invitation"


def test_minimum_gap_stops_over_surveying_a_buyer(survey):
    now = timezone.now()
    buyer = BuyerFactory()
    OrderFactory(buyer=buyer, placed_at=now - timedelta(days=14))
    invitations_send(now=now)
    OrderFactory(buyer=buyer, placed_at=now - timedelta(days=13))

    assert invitations_send(now=now + timedelta(days=1)) == {"post-purchase": 0}
    survey.min_gap_days = 0
    survey.save()
    assert invitations_send(now=now + timedelta(days=1)) == {"post-purchase": 1}


def test_quarterly_artisan_survey_invites_each_approved_artisan_once_per_quarter(artisan_survey):
    artisan_survey.min_gap_days = 30
    artisan_survey.save()
    now = datetime(2026, 5, 10, tzinfo=UTC)
    SellerFactory.create_batch(2)
    SellerFactory(onboarding_status="applied")

    assert invitations_send(now=now) == {"artisan-quarterly": 2}
    assert invitations_send(now=now + timedelta(days=20)) == {"artisan-quarterly": 0}
    assert invitations_send(now=now + timedelta(days=60)) == {"artisan-quarterly": 2}
    assert set(SurveyInvitation.objects.values_list("period", flat=True)) == {quarter_of(now), "2026Q3"}


def test_post_onboarding_survey_invites_artisans_n_days_after_onboarding(db):
    SurveyFactory(slug="onboarded", moment=Moment.POST_ONBOARDING, delay_days=14)
    now = timezone.now()
    ready = SellerFactory(onboarded_at=now - timedelta(days=15))
    SellerFactory(onboarded_at=now - timedelta(days=3))

    assert invitations_send(now=now) == {"onboarded": 1}
    assert SurveyInvitation.objects.get().seller == ready


def test_theme_summary_counts_coded_responses_per_theme(shipping_theme, urgent_theme):
    from feedback.models import CodingOrigin, ResponseTheme
    from feedback.selectors import theme_summary

    late = [ResponseFactory(sentiment=-0.5, is_flagged=True), ResponseFactory(sentiment=0.1)]
    for response in late:
        ResponseTheme.objects.create(response=response, theme=shipping_theme, origin=CodingOrigin.RULE)
    ResponseTheme.objects.create(response=ResponseFactory(sentiment=-1.0, is_flagged=True), theme=urgent_theme,
                                 origin=CodingOrigin.STAFF)

    rows = {row["theme"]: row for row in theme_summary()}

    assert (rows["shipping-delay"]["responses"], rows["shipping-delay"]["flagged"]) == (2, 1)
    assert rows["shipping-delay"]["mean_sentiment"] == pytest.approx(-0.2)
    assert rows["damaged"]["is_urgent"] and rows["damaged"]["responses"] == 1
