from datetime import timedelta

import numpy as np
import pandas as pd

from buyers.factories import BuyerFactory
from buyers.models import BuyerRetention
import pytest

from retention.recommendations import (
    ARTISAN_WEIGHT,
    MAX_PER_ARTISAN,
    POPULARITY_WEIGHT,
    REPURCHASE_WEIGHT,
    Recommender,
    buyer_recommendations_recompute,
    recommendations_evaluate,
)
from retention.services import retention_recompute
from marketplace.factories import EngagementEventFactory, OrderFactory, OrderLineFactory
from marketplace.models import EngagementKind, OrderLine
from sellers.factories import ListingFactory, SellerFactory

from tests.buyers.synthetic import build_marketplace


def test_evaluation_reports_hit_rate_and_ndcg_with_paired_intervals_against_both_baselines(db):
    market = build_marketplace(buyers=300, days=400, seed=5)

    report = recommendations_evaluate(as_of=market["now"])

    assert report["buyers"] > 100
    for metric in ("hit_rate", "ndcg"):
        assert set(report[metric]) == {"model", "popularity", "own_artisans"}
        for name in ("popularity", "own_artisans"):
            row = report[metric][name]
            assert row["diff"] == pytest.approx(report[metric]["model"]["value"] - row["value"], abs=1e-3)
            assert row["diff_ci"][0] <= row["diff"] <= row["diff_ci"][1]
    assert report["max_per_artisan"] <= MAX_PER_ARTISAN
    assert 0.0 <= report["repurchase_share"] <= 1.0


def test_a_listing_buyers_keep_re_buying_is_recommended_again_and_a_one_off_is_not(db):
    seller = SellerFactory()
    candle, ring = ListingFactory(seller=seller), ListingFactory(seller=seller)
    others = [ListingFactory(seller=SellerFactory()) for _ in range(3)]
    buyer = BuyerFactory()
    OrderLineFactory(order=OrderFactory(buyer=buyer, seller=seller), listing=candle)
    OrderLineFactory(order=OrderFactory(buyer=buyer, seller=seller), listing=ring)
    for _ in range(4):
        regular = BuyerFactory()
        for _ in range(3):
            OrderLineFactory(order=OrderFactory(buyer=regular, seller=seller), listing=candle)
        OrderLineFactory(order=OrderFactory(buyer=regular, seller=seller), listing=ring)
    retention_recompute()

    buyer_recommendations_recompute()

    row = BuyerRetention.objects.get(buyer=buyer)
    assert row.recommended_listing_ids[0] == candle.pk
    assert ring.pk not in row.recommended_listing_ids
    assert set(row.recommended_listing_ids) <= {candle.pk, *(o.pk for o in others)}


def test_a_top_ten_holds_at_most_the_capped_number_of_one_artisans_listings():
    listings = pd.DataFrame({"listing_id": np.arange(1, 31), "seller_id": [1] * 20 + list(range(2, 12)), "is_active": True})
    # Everyone buys from artisan 1; its twenty listings would fill any top ten uncapped.
    rng = np.random.default_rng(2)
    lines = pd.DataFrame({"order_id": np.arange(600), "buyer_id": rng.integers(1, 60, 600), "listing_id": rng.integers(1, 21, 600)})
    lines["seller_id"] = 1
    recommender = Recommender(lines=lines, follows=pd.DataFrame(columns=["buyer_id", "seller_id"]), listings=listings, buyer_ids=range(1, 61))

    picked = recommender.recommend(list(range(1, 61)))

    for listings_picked, _ in picked.values():
        assert len(listings_picked) == 10
        assert sum(1 for j in listings_picked if j <= 20) <= MAX_PER_ARTISAN


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
    owned_dense = owned.toarray() > 0
    scores += REPURCHASE_WEIGHT * owned_dense * recommender.repurchase_rate[None, :]
    scores[:, ~recommender.allowed] = -np.inf
    artisan_scores = scores.copy()
    artisan_scores[owned.nonzero()] = -np.inf
    # Owned listings stay only when they are re-bought.
    scores[owned_dense & (recommender.repurchase_rate[None, :] <= 0)] = -np.inf
    finite = np.where(np.isfinite(artisan_scores), artisan_scores, 0.0)
    artisan = np.asarray((recommender.seller_listing @ finite.T).T)
    artisan[recommender.bought_from[rows].nonzero()] = -np.inf
    artisan[artisan <= 0] = -np.inf
    return scores, artisan


def _capped_best(recommender, row, k=10):
    """The k best finite scores of a dense row, at most MAX_PER_ARTISAN per artisan (ties: lower id)."""
    order = np.lexsort((recommender.listing_ids, -row))
    picked, per = [], {}
    for j in order:
        if not np.isfinite(row[j]):
            break
        artisan = recommender.listing_seller_pos[j]
        if per.get(artisan, 0) < MAX_PER_ARTISAN:
            per[artisan] = per.get(artisan, 0) + 1
            picked.append(row[j])
            if len(picked) == k:
                break
    return picked


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
        assert np.allclose([scores[i, listing_pos[j]] for j in listings_picked], _capped_best(recommender, scores[i]), rtol=0, atol=1e-12), buyer_id
        best_artisans = np.sort(artisan[i][np.isfinite(artisan[i])])[::-1][:10]
        assert np.allclose([artisan[i, seller_pos[s]] for s in artisans_picked], best_artisans, rtol=0, atol=1e-12), buyer_id


def test_similarity_built_in_blocks_equals_the_whole_cosine_matrix_pruned_to_the_nearest(monkeypatch):
    from scipy import sparse

    from retention import recommendations

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
