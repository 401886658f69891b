"""The block-wise (whole-array) top-k ranking gives exactly the lists of the per-buyer loop it
replaced. The loop is kept here, as it was, as the reference."""

from datetime import timedelta

import numpy as np
import pytest
from django.utils import timezone

from buyers.factories import BuyerFactory
from marketplace.factories import EngagementEventFactory, OrderFactory, OrderLineFactory
from marketplace.models import EngagementKind
from retention import recommendations
from retention.recommendations import MAX_PER_ARTISAN, TOP_K, Recommender, _first_not_in, purchase_data_load
from sellers.factories import ListingFactory, SellerFactory


def _row(matrix, i):
    lo, hi = matrix.indptr[i], matrix.indptr[i + 1]
    return matrix.indices[lo:hi], matrix.data[lo:hi]


def _leaders(cols, values, k):
    if len(values) <= k:
        return cols, values
    kth = np.partition(values, len(values) - k)[len(values) - k]
    keep = values >= kth
    return cols[keep], values[keep]




def _best(cols, values, fill, fill_scores, ids, k, positive_only=False, group=None, cap=MAX_PER_ARTISAN):
    fill = np.asarray(fill, dtype=np.int64)
    cols = np.concatenate([cols, fill])
    values = np.concatenate([values, fill_scores[fill]])
    if positive_only:
        cols, values = cols[values > 0], values[values > 0]
    order = np.lexsort((ids[cols], -values))
    if group is None:
        return [int(ids[j]) for j in cols[order[:k]]]
    picked, per_group = [], {}
    for j in cols[order]:
        g = int(group[j])
        if per_group.get(g, 0) < cap:
            per_group[g] = per_group.get(g, 0) + 1
            picked.append(int(ids[j]))
            if len(picked) == k:
                break
    return picked


def _per_buyer_loop(rec: Recommender, buyer_ids, k=TOP_K):
    """The ranking as it was written before: one Python iteration and a few np.isin per buyer."""
    result = {}
    known = [b for b in buyer_ids if b in rec.buyer_index]
    rows = np.array([rec.buyer_index[b] for b in known], dtype=np.int64)
    owned = rec.owned[rows]
    relevance = (
        owned @ rec.similarity
        + recommendations.ARTISAN_WEIGHT * (rec.affinity[rows] @ rec.seller_listing)
        + recommendations.REPURCHASE_WEIGHT * owned.multiply(rec.repurchase_rate[None, :])
    ).tocsr()
    relevance.sum_duplicates()
    artisan_terms = rec._artisan_terms(relevance, owned)
    bought_from = rec.bought_from[rows].tocsr()
    for i, row in enumerate(rows):
        own = _row(owned, i)[0]
        cols, values = _row(relevance, i)
        excluded = own[rec.repurchase_rate[own] <= 0]
        keep = rec.allowed[cols] & ~np.isin(cols, excluded)
        pool = k * k
        lc, lv = _leaders(cols[keep], values[keep] + rec.popularity_term[cols[keep]], pool)
        fill = _first_not_in(rec.popular_listings, {*lc.tolist(), *own.tolist()}, pool)
        listings = _best(lc, lv, fill, rec.popularity_term, rec.listing_ids, k, group=rec.listing_seller_pos)
        cols, values = _row(artisan_terms, i)
        bought = _row(bought_from, i)[0]
        keep = ~np.isin(cols, bought)
        ac, av = _leaders(cols[keep], values[keep] + rec.artisan_baseline[cols[keep]], k)
        fill = _first_not_in(rec.popular_artisans, {*ac.tolist(), *bought.tolist()}, k)
        artisans = _best(ac, av, fill, rec.artisan_baseline, rec.seller_ids, k, positive_only=True)
        result[int(rec.buyer_ids[row])] = (listings, artisans)
    return result


@pytest.mark.django_db
def test_block_ranking_gives_the_per_buyer_loops_lists_on_a_factory_population(monkeypatch):
    rng = np.random.default_rng(17)
    now = timezone.now()
    sellers = SellerFactory.create_batch(6)
    # One artisan with many pieces, so the diversity cap has work to do; one piece retired.
    listings = [ListingFactory(seller=sellers[0]) for _ in range(12)]
    listings += [ListingFactory(seller=s) for s in sellers[1:] for _ in range(3)]
    listings[-1].is_active = False
    listings[-1].save(update_fields=["is_active"])
    buyers = BuyerFactory.create_batch(40)
    for buyer in buyers:
        for _ in range(int(rng.integers(1, 5))):
            listing = listings[int(rng.zipf(1.5)) % len(listings)]
            order = OrderFactory(buyer=buyer, seller=listing.seller, placed_at=now - timedelta(days=int(rng.integers(5, 300))))
            OrderLineFactory(order=order, listing=listing)
            # Some buyers come back for the same piece: it becomes re-buyable.
            if rng.random() < 0.3:
                again = OrderFactory(buyer=buyer, seller=listing.seller, placed_at=order.placed_at + timedelta(days=3))
                OrderLineFactory(order=again, listing=listing)
        if rng.random() < 0.4:
            EngagementEventFactory(
                buyer=buyer, kind=EngagementKind.FOLLOW_ARTISAN, target_seller=sellers[int(rng.integers(0, 6))],
                occurred_at=now - timedelta(days=2),
            )
    data = purchase_data_load(as_of=now)
    buyer_ids = [b.pk for b in buyers] + [BuyerFactory().pk]  # one buyer who never bought anything
    recommender = Recommender(lines=data.lines, follows=data.follows, listings=data.listings, buyer_ids=buyer_ids)
    monkeypatch.setattr(recommendations, "SCORE_BLOCK", 7)  # several blocks, the last one short

    for k in (TOP_K, 3):
        assert recommender.recommend(buyer_ids, k=k) == _per_buyer_loop(recommender, buyer_ids, k=k)
    assert any(len(listings) == TOP_K for listings, _ in recommender.recommend(buyer_ids).values())


@pytest.mark.parametrize("wide", [False, True])
def test_rank_order_is_lexsorts_order_with_tied_scores(wide):
    rng = np.random.default_rng(3)
    rows = np.sort(rng.integers(0, 50, 5000))
    values = rng.integers(0, 20, 5000) / 7.0  # many exact ties within a row
    cols = rng.permutation(5000)  # distinct (row, column) pairs, as in a ranking
    width = 2**60 if wide else 5000  # the too-wide key takes the lexsort path
    order = recommendations._rank_order(rows, values, cols, width=width)
    np.testing.assert_array_equal(order, np.lexsort((cols, -values, rows)))


def test_occurrence_counts_earlier_equal_keys_sorted_or_not():
    keys = np.array([4, 4, 1, 4, 1, 9])
    np.testing.assert_array_equal(recommendations._occurrence(keys), [0, 1, 0, 2, 1, 0])
    np.testing.assert_array_equal(recommendations._occurrence(np.sort(keys)), [0, 1, 0, 1, 2, 0])
