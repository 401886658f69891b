from datetime import timedelta

import pytest
from django.utils import timezone

from buyers.factories import BuyerFactory
from feedback.factories import ResponseFactory
from feedback.models import RespondentKind
from feedback.selectors import NEUTRAL_TRUST, buyer_feedback_sentiment, seller_feedback_signals
from sellers.factories import SellerFactory

pytestmark = pytest.mark.django_db


def test_seller_signals_are_empty_without_feedback():
    frame = seller_feedback_signals(as_of=timezone.now())
    assert frame.empty
    assert list(frame.columns) == ["flagged_feedback_count", "buyer_trust"]


def test_seller_signals_count_flags_and_average_buyer_sentiment():
    seller, quiet = SellerFactory(), SellerFactory()
    buyer = BuyerFactory()
    ResponseFactory(seller=seller, buyer=buyer, sentiment=-0.8, is_flagged=True)
    ResponseFactory(seller=seller, buyer=buyer, sentiment=0.4)
    ResponseFactory(seller=seller, respondent_kind=RespondentKind.SELLER, sentiment=-1.0, is_flagged=True)
    ResponseFactory(seller=seller, buyer=buyer, sentiment=1.0, submitted_at=timezone.now() - timedelta(days=800))

    frame = seller_feedback_signals(as_of=timezone.now(), seller_ids=[seller.pk, quiet.pk])

    assert frame.loc[seller.pk, "flagged_feedback_count"] == 2
    assert frame.loc[seller.pk, "buyer_trust"] == pytest.approx(-0.2)
    assert frame.loc[quiet.pk, "flagged_feedback_count"] == 0
    assert frame.loc[quiet.pk, "buyer_trust"] == NEUTRAL_TRUST


def test_seller_signals_ignore_feedback_after_as_of():
    seller = SellerFactory()
    ResponseFactory(seller=seller, buyer=BuyerFactory(), is_flagged=True, submitted_at=timezone.now())

    frame = seller_feedback_signals(as_of=timezone.now() - timedelta(days=2))

    assert seller.pk not in frame.index


def test_buyer_sentiment_is_mean_of_own_responses():
    buyer, silent = BuyerFactory(), BuyerFactory()
    ResponseFactory(buyer=buyer, sentiment=0.5)
    ResponseFactory(buyer=buyer, sentiment=-0.1)

    frame = buyer_feedback_sentiment(as_of=timezone.now(), buyer_ids=[buyer.pk, silent.pk])

    assert frame.loc[buyer.pk, "feedback_sentiment"] == pytest.approx(0.2)
    assert frame.loc[buyer.pk, "feedback_count"] == 2
    assert frame.loc[silent.pk, "feedback_sentiment"] == 0.0


def test_buyer_sentiment_over_a_key_range_reads_only_that_range_and_keeps_every_wanted_buyer():
    inside, silent, outside = BuyerFactory(), BuyerFactory(), BuyerFactory()
    ResponseFactory(buyer=inside, sentiment=0.6)
    ResponseFactory(buyer=outside, sentiment=-0.9)
    low, high = min(inside.pk, silent.pk), max(inside.pk, silent.pk) + 1
    assert not low <= outside.pk < high

    frame = buyer_feedback_sentiment(as_of=timezone.now(), buyer_ids=[inside.pk, silent.pk], id_range=(low, high))

    assert sorted(frame.index) == sorted([inside.pk, silent.pk])
    assert frame.loc[inside.pk, "feedback_sentiment"] == pytest.approx(0.6)
    assert frame.loc[silent.pk, "feedback_count"] == 0
