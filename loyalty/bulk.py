"""Fast bulk inserts: COPY into a staging table (core/bulk.py), then INSERT ... ON CONFLICT DO NOTHING.

On PostgreSQL this is several times faster than bulk_create for thousands of rows (the ORM
spends most of its time building the statement; see bench/loyalty.py). Elsewhere it falls
back to bulk_create(ignore_conflicts=True), which has the same meaning.
"""

from __future__ import annotations


import numpy as np
import pandas as pd
from django.db import IntegrityError, connection, transaction


from core import pgbinary
from core.bulk import copy_binary, json_text, staging_table, update_by_key

# Below this many rows bulk_create is as fast and simpler.
COPY_MIN_ROWS = 500


def _value(field, obj):
    if isinstance(obj, dict):
        value = obj[field.attname] if field.attname in obj else field.get_default()
    else:
        value = getattr(obj, field.attname)
    if value is not None and field.get_internal_type() == "JSONField":
        return json_text(value)
    return value


def insert_ignoring_conflicts(model, objs: list, *, batch_size: int = 5000, conflicts_expected: bool = True) -> int:
    """Insert ``objs`` (instances, or dicts keyed by attname); rows that hit a unique constraint
    are skipped. Returns rows inserted (PostgreSQL) or the number attempted (fallback).

    ``conflicts_expected=False`` (the caller already left out what exists, as the nightly award
    does) writes the rows once, by binary COPY straight into the table; only if a concurrent
    writer got there first is the COPY undone and the rows written through the staging table.
    """
    if not objs:
        return 0
    if connection.vendor != "postgresql" or len(objs) < COPY_MIN_ROWS:
        objs = [model(**obj) if isinstance(obj, dict) else obj for obj in objs]
        model.objects.bulk_create(objs, ignore_conflicts=True, batch_size=batch_size)
        return len(objs)
    if not conflicts_expected and all(isinstance(obj, dict) for obj in objs):
        try:
            with transaction.atomic():
                return copy_rows(model, objs)
        except (IntegrityError, connection.Database.IntegrityError):
            pass  # psycopg's own error: COPY runs on the raw cursor, outside Django's error wrapping
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    table = model._meta.db_table
    stage = f"stage_{table}"
    rows = ([_value(f, obj) for f in fields] for obj in objs)
    with transaction.atomic(), connection.cursor() as cursor:
        with staging_table(cursor, stage=stage, table=table, columns=[f.column for f in fields], rows=rows) as columns:
            cursor.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {stage} ON CONFLICT DO NOTHING")
            inserted = cursor.rowcount
    return inserted


def copy_rows(model, rows: list[dict]) -> int:
    """Binary COPY of plain rows (dicts keyed by attname) straight into the model's table.

    Columns are encoded whole with numpy (core/pgbinary.py) instead of one
    Python call per cell. Returns the rows written; a unique violation raises IntegrityError.
    """
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    columns = {
        f.attname: [row[f.attname] if f.attname in row else f.get_default() for row in rows] for f in fields
    }
    return copy_columns(model, columns, len(rows))


def is_column(value) -> bool:
    """A column of ``columns`` (one value per row) rather than one value for every row."""
    return isinstance(value, (list, tuple, np.ndarray, pd.Series))


def rows_of(columns: dict, count: int) -> list[dict]:
    """The rows (dicts keyed by attname) that ``columns`` hold."""
    varying = {name: value for name, value in columns.items() if is_column(value)}
    constant = {name: value for name, value in columns.items() if not is_column(value)}
    return [{**constant, **{name: value[i] for name, value in varying.items()}} for i in range(count)]


def insert_columns(model, columns: dict, count: int, *, conflicts_expected: bool = True) -> int:
    """``insert_ignoring_conflicts`` for rows given as columns: attname -> one value per row (a
    list or array), or a single value that every row takes; an attname left out takes the field's
    default. With ``conflicts_expected=False`` on PostgreSQL the columns go to binary COPY as
    they are, with no row built; elsewhere, and if a concurrent writer got there first, the rows
    are built and written as ``insert_ignoring_conflicts`` writes them."""
    if not count:
        return 0
    if connection.vendor == "postgresql" and count >= COPY_MIN_ROWS and not conflicts_expected:
        try:
            with transaction.atomic():
                return copy_columns(model, columns, count)
        except (IntegrityError, connection.Database.IntegrityError):
            pass  # psycopg's own error: COPY runs on the raw cursor, outside Django's error wrapping
    return insert_ignoring_conflicts(model, rows_of(columns, count), conflicts_expected=True)


def copy_columns(model, columns: dict, count: int) -> int:
    """Binary COPY of ``count`` rows given as columns (see ``insert_columns``) into the model's table.
    Returns the rows written; a unique violation raises IntegrityError."""
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    kinds = [pgbinary.field_kind(f, connection) for f in fields]
    frame = pd.DataFrame(
        {f.column: _column_values(f, kind, columns.get(f.attname, f.get_default()), count) for f, kind in zip(fields, kinds)}
    )
    with connection.cursor() as cursor:
        copy_binary(cursor.cursor, table=model._meta.db_table, columns=[f.column for f in fields], data=pgbinary.encode(frame, kinds))
    return count


def _column_values(field, kind: str, values, count: int):
    if not is_column(values):
        # One value for every row: converted once, then repeated.
        return _column_values(field, kind, [values], 1).repeat(count).reset_index(drop=True)
    if kind == "jsonb":
        return pd.Series([None if v is None else json_text(v) for v in values], dtype=object)
    if kind == "timestamptz":
        # pgbinary takes naive UTC datetime64 columns.
        return pd.to_datetime(pd.Series(values, dtype=object), utc=True).dt.tz_convert(None)
    if kind in ("int8", "int4", "int2"):
        return pd.Series(pd.array(values, dtype="Int64"))
    if kind == "numeric2":
        return pd.Series([None if v is None else float(v) for v in values], dtype="float64")
    return pd.Series(values, dtype=object)


def update_rows(model, objs: list, fields: list[str], *, batch_size: int = 5000) -> int:
    """bulk_update for instances or dicts keyed by attname, through core.bulk.update_by_key: one
    UPDATE ... FROM unnest per batch on PostgreSQL (bulk_update's CASE expressions grow with
    every row and dominate large recomputes), bulk_update elsewhere."""
    if not objs:
        return 0
    pk = model._meta.pk
    targets = [model._meta.get_field(name) for name in fields]
    columns = {
        field.name: [_raw_value(field, obj) for obj in objs] for field in [pk, *targets]
    }
    return update_by_key(model, key=pk.name, columns=columns, batch_size=batch_size)


def _raw_value(field, obj):
    """The stored value (a related row's id for a foreign key), JSON left as Python."""
    if isinstance(obj, dict):
        return obj[field.attname] if field.attname in obj else field.get_default()
    return getattr(obj, field.attname)
