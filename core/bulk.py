"""Bulk SQL on PostgreSQL: COPY rows into a table, or into a staging table that one statement
then merges into the real one (INSERT ... ON CONFLICT, UPDATE ... FROM).

The ORM's bulk_create and bulk_update spend most of their time building statements for
thousands of rows; COPY moves the same rows in a fraction of that (bench/loyalty.py,
bench/retention_recompute.py). The loyalty ledger, buyer retention and survey responses write
through ``copy_rows`` and ``staging_table``; the points award and the synthetic generator write
whole numpy-encoded columns through ``copy_binary`` (core/pgbinary.py encodes them), the
generator from a background thread (marketplace/generator/writers.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from django.db import connection


def quoted_columns(columns: Sequence[str]) -> str:
    return ", ".join(connection.ops.quote_name(column) for column in columns)


def copy_rows(cursor, *, table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> None:
    """COPY ``rows`` (one value per column, JSON already encoded) into ``table``."""
    with cursor.cursor.copy(f"COPY {table} ({quoted_columns(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def copy_binary(raw_cursor, *, table: str, columns: Sequence[str], data: bytes) -> None:
    """COPY ``data``, rows already in PostgreSQL's binary format (core/pgbinary.py), into ``table``.

    Takes a psycopg cursor, so a writer thread holding its own raw connection can use it too.
    """
    with raw_cursor.copy(f"COPY {table} ({quoted_columns(columns)}) FROM STDIN WITH (FORMAT binary)") as copy:
        copy.write(data)


@contextmanager
def staging_table(cursor, *, stage: str, table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> Iterator[str]:
    """COPY ``rows`` into ``stage``, a temporary table shaped like ``columns`` of ``table``, and
    yield the quoted column list for the merge statement. The table lives for the session, is
    empty when the block starts and is emptied after it (and at commit), so a connection can
    reuse it chunk after chunk."""
    quoted = quoted_columns(columns)
    cursor.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS SELECT {quoted} FROM {table} WITH NO DATA"
    )
    cursor.execute(f"TRUNCATE {stage}")
    copy_rows(cursor, table=stage, columns=columns, rows=rows)
    yield quoted
    cursor.execute(f"TRUNCATE {stage}")
