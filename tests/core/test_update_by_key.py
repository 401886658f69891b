"""core.bulk.update_by_key: one UPDATE ... FROM unnest on PostgreSQL, one UPDATE ... FROM
(VALUES ...) on SQLite; the same rows change either way."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from buyers.factories import BuyerRetentionFactory
from buyers.models import BuyerRetention
from core.bulk import update_by_key
from loyalty.factories import TierFactory
from loyalty.models import BuyerTier

pytestmark = pytest.mark.django_db


def test_json_columns_keyed_by_a_one_to_one_primary_key_are_set_on_the_given_rows_only():
    rows = BuyerRetentionFactory.create_batch(4)
    untouched = rows[3]

    updated = update_by_key(
        BuyerRetention,
        key="buyer",
        columns={
            "buyer": [r.buyer_id for r in rows[:3]],
            "recommended_listing_ids": [[1, 2], [], [3]],
            "recommended_seller_ids": [[9], [8, 7], []],
        },
    )

    assert updated == 3
    stored = {
        r.buyer_id: (r.recommended_listing_ids, r.recommended_seller_ids)
        for r in BuyerRetention.objects.filter(buyer_id__in=[r.buyer_id for r in rows[:3]])
    }
    assert stored == {rows[0].buyer_id: ([1, 2], [9]), rows[1].buyer_id: ([], [8, 7]), rows[2].buyer_id: ([3], [])}
    untouched.refresh_from_db()
    assert untouched.recommended_listing_ids == [] and untouched.recommended_seller_ids == []


def test_foreign_keys_decimals_timestamps_and_nulls_round_trip():
    gold, silver = TierFactory(code="gold"), TierFactory(code="silver")
    now = timezone.now()
    members = [BuyerRetentionFactory().buyer for _ in range(3)]
    tiers = BuyerTier.objects.bulk_create(
        [BuyerTier(buyer=b, tier=silver, since=now, computed_at=now, below_since=now) for b in members]
    )
    later = now + timedelta(days=1)

    update_by_key(
        BuyerTier,
        key="id",
        columns={
            "id": [t.pk for t in tiers],
            "tier": [gold.pk, None, gold.pk],
            "basis_value": [Decimal("12.50"), Decimal("0"), Decimal("999.99")],
            "below_since": [None, later, None],
            "computed_at": [later, later, later],
        },
    )

    got = {t.buyer_id: (t.tier_id, t.basis_value, t.below_since, t.computed_at) for t in BuyerTier.objects.all()}
    assert got == {
        members[0].pk: (gold.pk, Decimal("12.50"), None, later),
        members[1].pk: (None, Decimal("0.00"), later, later),
        members[2].pk: (gold.pk, Decimal("999.99"), None, later),
    }


def test_a_batch_is_one_statement_whatever_its_size():
    rows = BuyerRetentionFactory.create_batch(30)

    with CaptureQueriesContext(connection) as queries:
        update_by_key(
            BuyerRetention,
            key="buyer",
            columns={"buyer": [r.buyer_id for r in rows], "recommended_listing_ids": [[r.buyer_id] for r in rows]},
            batch_size=1000,
        )

    assert len(queries.captured_queries) == 1
    assert ("unnest" if connection.vendor == "postgresql" else "FROM (VALUES") in queries.captured_queries[0]["sql"]
    assert all(r.recommended_listing_ids == [r.buyer_id] for r in BuyerRetention.objects.all())


def test_nothing_to_update_runs_no_statement():
    with CaptureQueriesContext(connection) as queries:
        assert update_by_key(BuyerRetention, key="buyer", columns={"buyer": [], "recommended_listing_ids": []}) == 0
    assert queries.captured_queries == []
