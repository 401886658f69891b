"""Planner statistics after bulk writes.

A bulk load or a nightly award writes millions of rows at once. Until the table is analysed,
PostgreSQL plans with empty or stale statistics: with none at all it read 1.9 million orders
through the status index to find one chunk's 2,000 (0.4 s a chunk instead of milliseconds).
Autovacuum catches up eventually, or never where it is switched off, so the writers that
bulk-load analyse what they wrote before anything reads it.

SQLite (the embedded demo) never analyses by itself: without statistics it judged each repeat
purchase of the points award through the status index, 36 s for one chunk of the demo's
13,000 orders against 0.8 s once analysed.
"""

from django.db import connection


def statistics_refresh(*models) -> None:
    """ANALYZE the tables of ``models`` (on PostgreSQL a sample: about a second for millions of rows)."""
    if not models:
        return
    tables = [connection.ops.quote_name(m._meta.db_table) for m in models]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ANALYZE " + ", ".join(tables))
        elif connection.vendor == "sqlite":
            for table in tables:  # SQLite's ANALYZE takes one table at a time
                cursor.execute(f"ANALYZE {table}")


# Like autovacuum's own analyze threshold (50 rows + 10% of the table), but for a writer that
# cannot wait for autovacuum (or runs where it is off).
STALE_MIN_ROWS = 10_000
STALE_FRACTION = 0.2


def statistics_refresh_if_stale(model) -> bool:
    """ANALYZE ``model``'s table when the rows changed since its last analyse exceed
    STALE_MIN_ROWS and STALE_FRACTION of the table. Returns whether it analysed.

    For a stage that reads the table it is filling: the nightly award reads each chunk's
    earlier lots (cap usage) from the ledger its earlier chunks wrote. Planned with the
    statistics of an empty ledger, that read took 17 s for one chunk of a 2-million-order
    night, against 22 ms once analysed (docs/benchmarks.md).
    """
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT n_mod_since_analyze, n_live_tup FROM pg_stat_user_tables WHERE relid = %s::regclass",
            [model._meta.db_table],
        )
        row = cursor.fetchone()
    if row is None:
        return False
    changed, live = row
    if changed < max(STALE_MIN_ROWS, STALE_FRACTION * live):
        return False
    statistics_refresh(model)
    return True
