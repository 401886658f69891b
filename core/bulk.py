"""Bulk SQL on PostgreSQL: COPY rows into a table, or into a staging table that one statement
then merges into the real one (INSERT ... ON CONFLICT, UPDATE ... FROM).

The ORM's bulk_create and bulk_update spend most of their time building statements for
thousands of rows; COPY moves the same rows in a fraction of that (bench/loyalty.py,
bench/retention_recompute.py). The loyalty ledger, buyer retention and survey responses write
through ``copy_rows`` and ``staging_table``; the points award and the synthetic generator write
whole numpy-encoded columns through ``copy_binary`` (core/pgbinary.py encodes them), the
generator from a background thread (marketplace/generator/writers.py). Recomputes that change
columns of existing rows (tiers, recommendations, intervention cases) go through
``update_by_key``: one UPDATE ... FROM unnest per batch, with a bulk_update fallback on SQLite.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

import orjson
from django.db import connection
from django.db.models.expressions import RawSQL

_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def json_text(value) -> str:
    """``value`` as JSON text for a jsonb column written in bulk. The ledger's breakdowns, retention
    reasons and recommendations are a JSON document per row: a 2-million-order night encodes
    millions of them, and orjson does it in about an eighth of the standard library's time."""
    return orjson.dumps(value, option=_JSON_OPTIONS).decode()


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
def staging_table(
    cursor, *, stage: str, table: str, columns: Sequence[str], rows: Iterable[Sequence] = (), data: bytes | None = None
) -> Iterator[str]:
    """COPY ``rows`` (or ``data``, rows already in the binary format, see ``copy_binary``) into
    ``stage``, a temporary table shaped like ``columns`` of ``table``, and yield the quoted column
    list for the merge statement. The table lives for the session, is empty when the block starts
    and is emptied after it (and at commit), so a connection can reuse it chunk after chunk."""
    quoted = quoted_columns(columns)
    cursor.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS SELECT {quoted} FROM {table} WITH NO DATA"
    )
    cursor.execute(f"TRUNCATE {stage}")
    if data is None:
        copy_rows(cursor, table=stage, columns=columns, rows=rows)
    else:
        copy_binary(cursor.cursor, table=stage, columns=columns, data=data)
    yield quoted
    cursor.execute(f"TRUNCATE {stage}")


def update_by_key(model, *, key: str, columns: dict[str, Sequence], batch_size: int = 5000) -> int:
    """Set ``columns`` (field name -> one value per row) on the rows whose ``key`` field takes
    the values in ``columns[key]``; returns the rows updated.

    On PostgreSQL this is one ``UPDATE ... FROM unnest(...)`` per batch: the values travel as one
    array per column, so the statement stays the same size however many rows it updates.
    Django's bulk_update builds a CASE WHEN per column with a branch per row, and building and
    planning that dominates large recomputes (~2 s per 1,000 rows for the recommendations).
    On SQLite (the demo) it is one ``UPDATE ... FROM (VALUES ...)`` per batch.
    """
    keys = list(columns[key])
    if not keys:
        return 0
    fields = {name: model._meta.get_field(name) for name in columns}
    targets = [name for name in columns if name != key]
    if connection.vendor != "postgresql":
        return _update_by_key_sqlite(model, key=key, fields=fields, columns=columns, targets=targets)
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    names = [key, *targets]
    arrays, selects = [], []
    for name in names:
        field = fields[name]
        # A foreign key's column has its target's type (bigint), not the relation's.
        db_type = field.target_field.rel_db_type(connection) if field.is_relation else field.db_type(connection)
        if field.get_internal_type() == "JSONField":
            # Sent as text and cast per element: an array of jsonb needs the adapter on every value.
            arrays.append(("text[]", [None if v is None else json_text(v) for v in columns[name]]))
            selects.append(f"v.c{len(selects)}::jsonb")
        else:
            arrays.append((f"{db_type}[]", list(columns[name])))
            selects.append(f"v.c{len(selects)}")
    assignments = ", ".join(f"{quote(fields[n].column)} = {s}" for n, s in zip(names[1:], selects[1:]))
    aliases = ", ".join(f"c{i}" for i in range(len(names)))
    unnest = ", ".join(f"%s::{db_type}" for db_type, _ in arrays)
    sql = (
        f"UPDATE {table} AS t SET {assignments} FROM unnest({unnest}) AS v({aliases}) "
        f"WHERE t.{quote(fields[key].column)} = v.c0"
    )
    updated = 0
    with connection.cursor() as cursor:
        for start in range(0, len(keys), batch_size):
            cursor.execute(sql, [values[start : start + batch_size] for _, values in arrays])
            updated += cursor.rowcount
    return updated


def _update_by_key_sqlite(model, *, key: str, fields: dict, columns: dict[str, Sequence], targets: list[str]) -> int:
    """SQLite (3.33+): one ``UPDATE ... FROM (VALUES ...)`` per batch, the same shape as the
    PostgreSQL statement. bulk_update's CASE WHEN builds an ORM condition per row, which was most
    of the demo's recompute time."""
    quote = connection.ops.quote_name
    names = [key, *targets]
    assignments = ", ".join(f"{quote(fields[n].column)} = v.column{i + 1}" for i, n in enumerate(names) if i)
    # SQLite allows 32,766 parameters per statement.
    rows_per_batch = max(1, min(2000, 32000 // len(names)))
    prepared = [[fields[n].get_db_prep_save(columns[n][i], connection) for n in names] for i in range(len(columns[key]))]
    updated = 0
    with connection.cursor() as cursor:
        for start in range(0, len(prepared), rows_per_batch):
            batch = prepared[start : start + rows_per_batch]
            values = ", ".join(["(" + ", ".join(["%s"] * len(names)) + ")"] * len(batch))
            cursor.execute(
                f"UPDATE {quote(model._meta.db_table)} SET {assignments} FROM (VALUES {values}) AS v "
                f"WHERE {quote(model._meta.db_table)}.{quote(fields[key].column)} = v.column1",
                [value for row in batch for value in row],
            )
            updated += cursor.rowcount
    return updated


def id_list(ids: Iterable[int]) -> RawSQL:
    """``ids`` as one query parameter, for ``filter(field__in=id_list(ids))``.

    An ``__in`` list of thousands of ids costs the ORM and the driver a few microseconds per id
    (each one prepared, quoted and spliced into the statement). Here the ids travel whole: one
    bigint array on PostgreSQL, one JSON array read by ``json_each`` elsewhere (SQLite).
    """
    # Written as the array's text form in one join: the driver's own list adaptation walks the
    # ids one by one in Python.
    text = ",".join(str(int(i)) for i in ids)
    if connection.vendor == "postgresql":
        return RawSQL("SELECT unnest(%s::bigint[])", ["{" + text + "}"])
    return RawSQL("SELECT value FROM json_each(%s)", ["[" + text + "]"])
