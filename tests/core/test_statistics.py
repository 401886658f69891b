"""Planner statistics refreshed when a stage has changed much of the table it reads."""

import pytest
from django.db import connection

from buyers.factories import BuyerFactory
from buyers.models import Buyer
from core.statistics import statistics_refresh, statistics_refresh_if_stale

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="planner statistics are PostgreSQL's"),
]


def _analysed_rows() -> float:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [Buyer._meta.db_table])
        return cursor.fetchone()[0]


def _flush_counters() -> None:
    # Table counters reach pg_stat_user_tables when a backend flushes them; do it now.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
        cursor.execute("SELECT pg_stat_clear_snapshot()")


def test_a_table_filled_since_its_last_analyse_is_analysed_once_and_then_left_alone(monkeypatch):
    monkeypatch.setattr("core.statistics.STALE_MIN_ROWS", 100)
    statistics_refresh(Buyer)
    _flush_counters()
    assert statistics_refresh_if_stale(Buyer) is False

    BuyerFactory.create_batch(300)
    _flush_counters()

    assert statistics_refresh_if_stale(Buyer) is True
    assert _analysed_rows() == 300
    _flush_counters()
    assert statistics_refresh_if_stale(Buyer) is False
