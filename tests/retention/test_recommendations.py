from datetime import timedelta

from buyers.factories import BuyerFactory
from buyers.models import BuyerRetention
from buyers.recommendations import buyer_recommendations_recompute, recommendations_evaluate
from buyers.services import retention_recompute
from marketplace.factories import EngagementEventFactory, OrderFactory, OrderLineFactory
from marketplace.models import EngagementKind, OrderLine
from sellers.factories import ListingFactory, SellerFactory

from .synthetic import build_marketplace


def test_recommendations_beat_popularity_on_held_out_last_purchases(db):
    market = build_marketplace(buyers=300, days=400, seed=5)

    report = recommendations_evaluate(as_of=market["now"])

    print(f"hit rate@10 {report['hit_rate']:.3f} vs popularity {report['baseline_hit_rate']:.3f} on {report['buyers']} buyers")
    assert report["buyers"] > 100
    assert report["hit_rate"] > report["baseline_hit_rate"]


def test_recommendations_never_include_listings_the_buyer_owns_and_favour_co_purchases(db):
    seller, other = SellerFactory(), SellerFactory()
    mug, bowl, vase = ListingFactory(seller=seller), ListingFactory(seller=seller), ListingFactory(seller=other)
    unrelated = [ListingFactory(seller=other) for _ in range(3)]
    buyer = BuyerFactory()
    OrderLineFactory(order=OrderFactory(buyer=buyer, seller=seller), listing=mug)
    # Others who bought the mug also bought the vase.
    for _ in range(3):
        peer = BuyerFactory()
        OrderLineFactory(order=OrderFactory(buyer=peer, seller=seller), listing=mug)
        OrderLineFactory(order=OrderFactory(buyer=peer, seller=other), listing=vase)
    retention_recompute()

    buyer_recommendations_recompute()

    row = BuyerRetention.objects.get(buyer=buyer)
    assert mug.pk not in row.recommended_listing_ids
    assert row.recommended_listing_ids[0] == vase.pk
    assert set(row.recommended_listing_ids) <= {bowl.pk, vase.pk, *(u.pk for u in unrelated)}
    assert row.recommended_seller_ids == [other.pk]
    assert not OrderLine.objects.filter(order__buyer=buyer, listing_id__in=row.recommended_listing_ids).exists()


def test_followed_artisan_is_recommended_before_one_never_touched(db):
    followed, ignored, bought = SellerFactory(), SellerFactory(), SellerFactory()
    followed_piece, ignored_piece, bought_piece = (ListingFactory(seller=s) for s in (followed, ignored, bought))
    buyer = BuyerFactory()
    OrderLineFactory(order=OrderFactory(buyer=buyer, seller=bought), listing=bought_piece)
    EngagementEventFactory(buyer=buyer, kind=EngagementKind.FOLLOW_ARTISAN, target_seller=followed, occurred_at=bought_piece.created_at + timedelta(days=1))
    retention_recompute()

    buyer_recommendations_recompute()

    row = BuyerRetention.objects.get(buyer=buyer)
    assert row.recommended_seller_ids[0] == followed.pk
    assert row.recommended_listing_ids.index(followed_piece.pk) < row.recommended_listing_ids.index(ignored_piece.pk)
