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


def redis_keys_delete(url: str, prefix: str) -> int:
    """Deletes the keys under ``prefix`` (this benchmark's queues) and nothing else in the database."""
    import redis

    client = redis.Redis.from_url(url)
    deleted = 0
    for key in client.scan_iter(match=f"{prefix}*", count=1000):
        deleted += client.delete(key)
    return deleted
