"""The one COPY helper (core/bulk.py) behind every bulk writer, on PostgreSQL."""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from core.bulk import copy_rows, staging_table
from integrations.models import PendingReaction
from loyalty.bulk import COPY_MIN_ROWS, insert_ignoring_conflicts, update_rows

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY is PostgreSQL's"),
]


def test_rows_copied_into_a_table_are_stored_as_given():
    now = timezone.now()
    with transaction.atomic(), connection.cursor() as cursor:
        copy_rows(
            cursor, table=PendingReaction._meta.db_table, columns=["task_path", "subject_id", "created_at"],
            rows=(("probe", i, now) for i in range(3)),
        )

    assert sorted(PendingReaction.objects.values_list("task_path", "subject_id")) == [("probe", 0), ("probe", 1), ("probe", 2)]


def test_a_staging_table_holds_the_rows_for_the_merge_and_is_empty_afterwards():
    table = PendingReaction._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        with staging_table(cursor, stage="stage_probe", table=table, columns=["task_path", "subject_id"], rows=[("a", 1), ("b", 2)]) as columns:
            cursor.execute(f"SELECT {columns} FROM stage_probe ORDER BY subject_id")
            staged = cursor.fetchall()
        cursor.execute("SELECT count(*) FROM stage_probe")
        left = cursor.fetchone()[0]

    assert staged == [("a", 1), ("b", 2)] and left == 0


def test_a_large_insert_through_copy_skips_rows_that_already_exist():
    PendingReaction.objects.bulk_create([PendingReaction(task_path="probe", subject_id=i) for i in range(100)])
    now = timezone.now()
    rows = [{"task_path": "probe", "subject_id": i, "created_at": now} for i in range(COPY_MIN_ROWS + 100)]

    inserted = insert_ignoring_conflicts(PendingReaction, rows)

    assert inserted == COPY_MIN_ROWS
    assert PendingReaction.objects.count() == COPY_MIN_ROWS + 100


def test_a_large_update_through_copy_changes_exactly_the_given_rows():
    PendingReaction.objects.bulk_create([PendingReaction(task_path="probe", subject_id=i) for i in range(COPY_MIN_ROWS + 10)])
    old = timezone.now() - timedelta(days=1)
    rows = list(PendingReaction.objects.order_by("pk")[:COPY_MIN_ROWS])
    for row in rows:
        row.created_at = old

    updated = update_rows(PendingReaction, rows, ["created_at"])

    assert updated == COPY_MIN_ROWS
    assert PendingReaction.objects.filter(created_at=old).count() == COPY_MIN_ROWS


def test_json_text_is_read_back_by_postgresql_as_the_same_document():
    import json

    import numpy as np

    from core.bulk import json_text

    document = {"rule_name": "Käse & Töpfe ✓", "promotion_points": {5: 42}, "counts": [np.int64(3), 1.5, None, True], "nested": {"a": []}}
    with connection.cursor() as cursor:
        cursor.execute("SELECT %s::jsonb::text", [json_text(document)])
        stored = json.loads(cursor.fetchone()[0])

    assert stored == {"rule_name": "Käse & Töpfe ✓", "promotion_points": {"5": 42}, "counts": [3, 1.5, None, True], "nested": {"a": []}}
