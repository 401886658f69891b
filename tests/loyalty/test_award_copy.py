"""The nightly award writes its ledger rows once, by binary COPY, and yields to a concurrent award."""

from datetime import datetime, timedelta, timezone

import pytest
from django.db import connection

from buyers.factories import BuyerFactory
from loyalty.bulk import COPY_MIN_ROWS, copy_rows, insert_ignoring_conflicts
from loyalty.factories import EarningRuleFactory
from loyalty.models import EntryKind, EntryState, PointsEntry, SourceType
from sellers.factories import SellerFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="binary COPY is PostgreSQL's"),
]

WHEN = datetime(2026, 10, 1, 3, 0, 17, 123456, tzinfo=timezone.utc)


def _rows(count, buyer, seller, rule):
    return [
        {
            "buyer_id": buyer.pk,
            "amount": 10 + i,
            "remaining": 10 + i,
            "kind": EntryKind.EARN,
            "state": EntryState.PENDING if i % 2 else EntryState.ACTIVE,
            "source_type": SourceType.ORDER,
            "source_id": 1_000_000_000_000 + i,
            "rule_id": rule.pk if i % 3 else None,
            "reason": f"Order K-{i} délivré",
            "comment": "",
            "breakdown": {"base": i, "rules": [{"name": "Spend", "points": 10 + i}], "note": "ünïcode"},
            "seller_id": seller.pk if i % 5 else None,
            "category": "ceramics",
            "occurred_at": WHEN - timedelta(days=i),
            "available_at": WHEN + timedelta(days=14, microseconds=i),
            "expires_at": None if i % 4 else WHEN + timedelta(days=365),
            "reminded_at": None,
            "created_by_id": None,
            "created_at": WHEN,
        }
        for i in range(count)
    ]


def _stored():
    fields = [f.attname for f in PointsEntry._meta.concrete_fields if not f.primary_key]
    return sorted(PointsEntry.objects.values_list(*fields))


def test_binary_copy_stores_exactly_what_the_orm_stores():
    buyer, seller, rule = BuyerFactory(), SellerFactory(), EarningRuleFactory()
    rows = _rows(COPY_MIN_ROWS + 20, buyer, seller, rule)
    PointsEntry.objects.bulk_create([PointsEntry(**row) for row in rows])
    through_orm = _stored()
    PointsEntry.objects.all().delete()

    assert copy_rows(PointsEntry, rows) == len(rows)
    assert _stored() == through_orm
    assert PointsEntry.objects.get(source_id=1_000_000_000_003).breakdown["note"] == "ünïcode"


def test_a_source_awarded_meanwhile_is_skipped_not_counted_twice():
    buyer, seller, rule = BuyerFactory(), SellerFactory(), EarningRuleFactory()
    rows = _rows(COPY_MIN_ROWS + 5, buyer, seller, rule)
    PointsEntry.objects.create(**rows[7])  # a concurrent reaction awarded this order first

    inserted = insert_ignoring_conflicts(PointsEntry, rows, conflicts_expected=False)

    assert inserted == len(rows) - 1
    assert PointsEntry.objects.count() == len(rows)
    assert PointsEntry.objects.filter(source_id=rows[7]["source_id"]).count() == 1
