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


def _analysed_columns() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT attname FROM pg_stats WHERE tablename = %s", [Buyer._meta.db_table])
        return {name for (name,) in cursor.fetchall()}


def test_analysing_some_columns_counts_the_rows_and_gathers_only_those_columns():
    BuyerFactory.create_batch(50)
    with connection.cursor() as cursor:  # forget what earlier analyses of the table gathered
        cursor.execute("DELETE FROM pg_statistic WHERE starelid = %s::regclass", [Buyer._meta.db_table])

    statistics_refresh(Buyer, columns=["id", "email"])

    assert _analysed_rows() == 50
    assert _analysed_columns() == {"id", "email"}


def test_a_table_analysed_on_some_columns_is_not_analysed_again_until_it_has_doubled(monkeypatch):
    # PostgreSQL does not reset its count of changed rows after an ANALYZE of some columns, so a
    # check on that count would analyse again after every chunk of a night.
    monkeypatch.setattr("core.statistics.STALE_MIN_ROWS", 100)
    BuyerFactory.create_batch(300)
    _flush_counters()
    assert statistics_refresh_if_stale(Buyer, columns=["id"]) is True
    _flush_counters()
    assert statistics_refresh_if_stale(Buyer, columns=["id"]) is False

    BuyerFactory.create_batch(200)  # 500 rows: grown by 40%, not yet by half the table
    _flush_counters()
    assert statistics_refresh_if_stale(Buyer, columns=["id"]) is False

    BuyerFactory.create_batch(150)  # 650 rows: grown by 350, more than half
    _flush_counters()
    assert statistics_refresh_if_stale(Buyer, columns=["id"]) is True
    assert _analysed_rows() == 650
