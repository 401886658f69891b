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

from collections.abc import Sequence

from django.db import connection


def statistics_refresh(*models, columns: Sequence[str] = ()) -> None:
    """ANALYZE the tables of ``models`` (on PostgreSQL a sample: about a second for millions of rows).

    ``columns`` (PostgreSQL) limits the distributions gathered to those columns; the table's row
    and page counts are refreshed either way. A wide table's text and JSON columns cost most of
    an ANALYZE, and a stage that only needs its own reads planned need not pay for them.
    """
    if not models:
        return
    tables = [connection.ops.quote_name(m._meta.db_table) for m in models]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            if columns:
                quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
                tables = [f"{table} ({quoted})" for table in tables]
            cursor.execute("ANALYZE " + ", ".join(tables))
        elif connection.vendor == "sqlite":
            for table in tables:  # SQLite's ANALYZE takes one table at a time
                cursor.execute(f"ANALYZE {table}")


# Like autovacuum's own analyze threshold (50 rows + 10% of the table), but for a writer that
# cannot wait for autovacuum (or runs where it is off). Half the table, i.e. once it has doubled:
# the planner scales the analysed row count to the table's current size by itself, so what goes
# stale as a table fills is the shape of its distributions, which moves slowly. At a fifth, the
# nightly award analysed the ledger it fills after every quarter more.
STALE_MIN_ROWS = 10_000
STALE_FRACTION = 0.5


def statistics_refresh_if_stale(model, *, columns: Sequence[str] = ()) -> bool:
    """ANALYZE ``model``'s table (or only ``columns``, see ``statistics_refresh``) when it has
    grown since its last analyse by at least STALE_MIN_ROWS rows and STALE_FRACTION of its
    size. Returns whether it analysed.

    For a stage that reads the table it is filling: the nightly award reads each chunk's
    earlier lots (cap usage) from the ledger its earlier chunks wrote. Planned with the
    statistics of an empty ledger, that read took 17 s for one chunk of a 2-million-order
    night, against 22 ms once analysed (docs/benchmarks.md).

    Growth is the live rows against the rows the last analyse counted (``reltuples``), not
    ``n_mod_since_analyze``: an ANALYZE of some columns only does not reset that counter.
    """
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT s.n_live_tup, c.reltuples FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid"
            " WHERE s.relid = %s::regclass",
            [model._meta.db_table],
        )
        row = cursor.fetchone()
    if row is None:
        return False
    live, analysed = row[0], max(row[1], 0)  # reltuples is -1 until the first analyse
    if live - analysed < max(STALE_MIN_ROWS, STALE_FRACTION * live):
        return False
    statistics_refresh(model, columns=columns)
    return True
