"""Timing and SQL-statement counting shared by the benchmarks."""

import time
from contextlib import contextmanager

from django.db import connection


class QueryCounter:
    """Counts every SQL statement Django sends (COPY streams bypass it and are not counted)."""

    def __init__(self):
        self.n = 0

    def __call__(self, execute, sql, params, many, context):
        self.n += 1
        return execute(sql, params, many, context)


@contextmanager
def measured():
    """Yields a dict that holds ``seconds`` and ``queries`` once the block ends."""
    counter = QueryCounter()
    out = {}
    start = time.perf_counter()
    with connection.execute_wrapper(counter):
        yield out
    out["seconds"] = round(time.perf_counter() - start, 3)
    out["queries"] = counter.n
