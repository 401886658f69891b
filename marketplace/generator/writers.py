"""Bulk writers: psycopg COPY on PostgreSQL, bulk_create in batches elsewhere (SQLite)."""

from __future__ import annotations

import queue
import threading
import time
from collections import defaultdict
from contextlib import contextmanager
from datetime import UTC
from decimal import Decimal

import numpy as np
import pandas as pd
from django.db import connection, models

from core import pgbinary
from core.bulk import copy_binary

BULK_BATCH = 2_000


class TableWriter:
    """Writes DataFrames to their tables.

    On PostgreSQL the rows are binary-encoded in the calling thread and COPYed by one background
    thread on the same connection, so sampling and encoding the next chunk overlap with the
    database loading the previous one. The caller must not run other queries between
    ``write`` and ``close``.
    """

    QUEUE_DEPTH = 3  # encoded tables waiting for COPY; bounds memory to a few chunks

    def __init__(self) -> None:
        self.copy = connection.vendor == "postgresql"
        self.seconds: dict[str, float] = defaultdict(float)  # per table (or stage), seconds spent
        self._queue: queue.Queue | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def write(self, model: type[models.Model], frame: pd.DataFrame) -> int:
        if frame.empty:
            return 0
        if self.copy:
            self._enqueue_copy(model, frame)
        else:
            started = time.perf_counter()
            self._bulk_create(model, frame)
            self.seconds[model._meta.db_table] += time.perf_counter() - started
        return len(frame)

    def close(self, *, raise_error: bool = True) -> None:
        """Wait until every queued COPY finished; re-raise the first COPY error."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        if self._error is not None and raise_error:
            with connection.wrap_database_errors:  # psycopg errors surface as django.db errors
                raise self._error

    def _enqueue_copy(self, model: type[models.Model], frame: pd.DataFrame) -> None:
        if self._error is not None:
            self.close()
        if self._thread is None:
            connection.ensure_connection()
            self._queue = queue.Queue(maxsize=self.QUEUE_DEPTH)
            self._thread = threading.Thread(target=self._copy_worker, args=(connection.connection,), daemon=True)
            self._thread.start()
        table = model._meta.db_table
        fields = {f.attname: f for f in model._meta.concrete_fields}
        columns = list(frame.columns)
        started = time.perf_counter()
        data = pgbinary.encode(frame, [pgbinary.field_kind(fields[c], connection) for c in columns])
        self.seconds["binary_encode"] += time.perf_counter() - started
        self._queue.put((table, columns, data))

    def _copy_worker(self, raw) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self._error is not None:
                continue  # drain; the transaction is going to roll back anyway
            table, columns, data = item
            started = time.perf_counter()
            try:
                with raw.cursor() as cursor:
                    copy_binary(cursor, table=table, columns=columns, data=data)
            except BaseException as exc:  # re-raised in the calling thread by close()
                self._error = exc
            self.seconds[table] += time.perf_counter() - started

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


@contextmanager
def postgres_bulk_load(tables: list[str]):
    """Drop secondary indexes and foreign keys of empty tables, load, then rebuild them.

    Incremental btree maintenance made COPY ~10x slower than building the indexes once after the
    load (measured: 530k events 29 s with indexes, 1.8 s without). That holds even for indexes the
    rows arrive in order of: keeping the ones led by a buyer or order id made the generator 1.65x
    its fair floor at 200,000 orders, against 1.34x with every one rebuilt (docs/benchmarks.md).
    Foreign keys are re-added with their exact definitions, which validates every row in one
    set-based query instead of one deferred trigger per row at commit. Must run inside the
    transaction that loads the rows, so a failure restores the schema too. Primary keys and
    unique constraints stay in place.
    """
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT t.relname, i.relname, pg_get_indexdef(x.indexrelid)
            FROM pg_index x
            JOIN pg_class i ON i.oid = x.indexrelid
            JOIN pg_class t ON t.oid = x.indrelid
            LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid
            WHERE t.relname = ANY(%s) AND t.relnamespace = 'public'::regnamespace AND c.oid IS NULL
            ORDER BY t.relname, i.relname
            """,
            [tables],
        )
        indexes = cursor.fetchall()
        cursor.execute(
            """
            SELECT t.relname, c.conname, pg_get_constraintdef(c.oid)
            FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
            WHERE c.contype = 'f' AND t.relname = ANY(%s) AND t.relnamespace = 'public'::regnamespace
            ORDER BY t.relname, c.conname
            """,
            [tables],
        )
        foreign_keys = cursor.fetchall()
        for table, name, _ in foreign_keys:
            cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for _, name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
    yield
    with connection.cursor() as cursor:
        # Index builds sort in memory up to this limit instead of spilling to disk.
        cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for _, _, definition in indexes:
            cursor.execute(definition)
        for table, name, definition in foreign_keys:
            cursor.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')


def reset_sequences(tables: list[str]) -> None:
    """After explicit ids were copied in, make the id sequences continue past them (PostgreSQL)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence(%s, 'id'), COALESCE(MAX(id), 1), MAX(id) IS NOT NULL) "
                f"FROM {table}",
                [table],
            )
