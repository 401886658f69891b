"""Bulk writers: psycopg COPY on PostgreSQL, bulk_create in batches elsewhere (SQLite)."""

from __future__ import annotations

import io
from datetime import UTC
from decimal import Decimal

import numpy as np
import pandas as pd
from django.db import connection, models

BULK_BATCH = 2_000
# Columns that are NOT NULL text and may legitimately be empty strings.
EMPTY_TEXT_COLUMNS = {"phone", "cancel_reason", "text", "detail"}


class TableWriter:
    def __init__(self) -> None:
        self.copy = connection.vendor == "postgresql"

    def write(self, model: type[models.Model], frame: pd.DataFrame) -> int:
        if frame.empty:
            return 0
        if self.copy:
            self._copy(model, frame)
        else:
            self._bulk_create(model, frame)
        return len(frame)

    def _copy(self, model: type[models.Model], frame: pd.DataFrame) -> None:
        table = model._meta.db_table
        columns = list(frame.columns)
        buf = io.StringIO()
        frame.to_csv(buf, index=False, header=False, date_format="%Y-%m-%d %H:%M:%S")
        force = [c for c in columns if c in EMPTY_TEXT_COLUMNS]
        options = "FORMAT csv" + (f", FORCE_NOT_NULL ({', '.join(force)})" if force else "")
        sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH ({options})"
        with connection.cursor() as cursor:
            with cursor.cursor.copy(sql) as copy:
                copy.write(buf.getvalue())

    def _bulk_create(self, model: type[models.Model], frame: pd.DataFrame) -> None:
        fields = {f.attname: f for f in model._meta.concrete_fields}
        columns = {}
        for name in frame.columns:
            col = frame[name]
            field = fields[name]
            if isinstance(field, models.DateTimeField):
                values = col.to_numpy().astype("datetime64[us]").astype(object)  # NaT -> None
                columns[name] = [None if v is None else v.replace(tzinfo=UTC) for v in values]
            elif isinstance(field, models.DecimalField):
                columns[name] = [Decimal(f"{v:.2f}") for v in col.to_numpy()]
            elif col.dtype == object:
                columns[name] = col.tolist()
            else:
                arr = col.to_numpy(dtype=object, na_value=None) if hasattr(col, "array") else col
                columns[name] = [v.item() if isinstance(v, np.generic) else v for v in arr]
        names = list(columns)
        rows = zip(*(columns[n] for n in names))
        objs = [model(**dict(zip(names, row))) for row in rows]
        model.objects.bulk_create(objs, batch_size=BULK_BATCH)


def reset_sequences(tables: list[str]) -> None:
    """After explicit ids were copied in, make the id sequences continue past them (PostgreSQL)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence(%s, 'id'), COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) FROM {table}",
                [table],
            )
