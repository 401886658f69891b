from buyers.factories import BuyerFactory, BuyerRetentionFactory
from buyers.models import Segment
from buyers.selectors import buyer_segments


def test_buyer_segments_returns_stored_segment_and_new_for_uncomputed_buyers(db, django_assert_max_num_queries):
    lapsing = BuyerRetentionFactory(segment=Segment.LAPSING)
    valuable = BuyerRetentionFactory(segment=Segment.HIGH_VALUE)
    uncomputed = BuyerFactory()

    with django_assert_max_num_queries(1):
        segments = buyer_segments(buyer_ids=[lapsing.buyer_id, valuable.buyer_id, uncomputed.pk, 999_999])

    assert segments == {
        lapsing.buyer_id: "lapsing",
        valuable.buyer_id: "high_value",
        uncomputed.pk: "new",
        999_999: "new",
    }
