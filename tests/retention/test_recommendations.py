from datetime import timedelta

import numpy as np
import pandas as pd

from buyers.factories import BuyerFactory
from buyers.models import BuyerRetention
from buyers.recommendations import (
    ARTISAN_WEIGHT,
    POPULARITY_WEIGHT,
    Recommender,
    buyer_recommendations_recompute,
    recommendations_evaluate,
)
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


def _dense_reference(recommender, buyer_ids, k=10):
    """Every listing and artisan scored densely, as the recommender's docstring defines the score."""
    rows = np.array([recommender.buyer_index[b] for b in buyer_ids])
    owned = recommender.owned[rows]
    scores = (owned @ recommender.similarity).toarray()
    scores += ARTISAN_WEIGHT * (recommender.affinity[rows] @ recommender.seller_listing).toarray()
    scores += POPULARITY_WEIGHT * recommender.popularity[None, :]
    scores[:, ~recommender.allowed] = -np.inf
    scores[owned.nonzero()] = -np.inf
    finite = np.where(np.isfinite(scores), scores, 0.0)
    artisan = np.asarray((recommender.seller_listing @ finite.T).T)
    artisan[recommender.bought_from[rows].nonzero()] = -np.inf
    artisan[artisan <= 0] = -np.inf
    return scores, artisan


def test_sparse_ranking_equals_ranking_the_full_dense_score_rows():
    rng = np.random.default_rng(3)
    n_listings, n_sellers, n_buyers = 400, 40, 600
    listings = pd.DataFrame({"listing_id": np.arange(1, n_listings + 1), "seller_id": rng.integers(1, n_sellers + 1, n_listings),
                             "is_active": rng.random(n_listings) > 0.1})
    picks = rng.zipf(1.6, 4000) % n_listings  # a long tail: a few best sellers, many rarely bought pieces
    seller_of = dict(zip(listings["listing_id"], listings["seller_id"]))
    lines = pd.DataFrame({"order_id": np.arange(4000), "buyer_id": rng.integers(1, n_buyers + 1, 4000), "listing_id": picks + 1})
    lines["seller_id"] = lines["listing_id"].map(seller_of)
    # A few listings changed hands after the sale: the order's artisan is not the listing's.
    lines.loc[::40, "seller_id"] = lines.loc[::40, "seller_id"] % n_sellers + 1
    follows = pd.DataFrame({"buyer_id": rng.integers(1, n_buyers + 1, 300), "seller_id": rng.integers(1, n_sellers + 1, 300)})
    buyer_ids = list(range(1, n_buyers + 1))
    recommender = Recommender(lines=lines, follows=follows, listings=listings, buyer_ids=buyer_ids)

    picked = recommender.recommend(buyer_ids)
    scores, artisan = _dense_reference(recommender, buyer_ids)

    listing_pos = {int(v): j for j, v in enumerate(recommender.listing_ids)}
    seller_pos = {int(v): j for j, v in enumerate(recommender.seller_ids)}
    for i, buyer_id in enumerate(buyer_ids):
        listings_picked, artisans_picked = picked[buyer_id]
        assert len(set(listings_picked)) == len(listings_picked) and len(set(artisans_picked)) == len(artisans_picked)
        best = np.sort(scores[i][np.isfinite(scores[i])])[::-1][:10]
        assert np.allclose([scores[i, listing_pos[j]] for j in listings_picked], best, rtol=0, atol=1e-12), buyer_id
        best_artisans = np.sort(artisan[i][np.isfinite(artisan[i])])[::-1][:10]
        assert np.allclose([artisan[i, seller_pos[s]] for s in artisans_picked], best_artisans, rtol=0, atol=1e-12), buyer_id


def test_similarity_built_in_blocks_equals_the_whole_cosine_matrix_pruned_to_the_nearest(monkeypatch):
    from scipy import sparse

    from buyers import recommendations

    rng = np.random.default_rng(11)
    owned = sparse.csr_matrix((rng.random((300, 40)) < 0.15).astype(float))
    counts = np.asarray(owned.sum(axis=0)).ravel()
    co = (owned.T @ owned).tocsr()
    co.setdiag(0)
    co.eliminate_zeros()
    inv = sparse.diags(1.0 / np.sqrt(np.maximum(counts, 1.0)))
    whole = recommendations._keep_nearest((inv @ co @ inv).tocsr(), 5)

    monkeypatch.setattr(recommendations, "SIMILARITY_BLOCK", 7)  # 40 listings: six blocks, the last one short
    blocked = recommendations._cosine_neighbours(owned, counts, 5)

    assert blocked.shape == whole.shape
    assert np.diff(blocked.indptr).max() == 5
    assert abs(blocked - whole).max() < 1e-12
