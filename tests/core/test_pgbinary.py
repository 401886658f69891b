"""core/pgbinary.py: the binary COPY rows, byte for byte, against a plain per-value encoder."""

import struct
from datetime import datetime

import numpy as np
import pandas as pd

from core import pgbinary


def _reference(columns: dict, kinds: list[str]) -> bytes:
    """The format spelled out one value at a time (text, jsonb and int8 columns only)."""
    n = len(next(iter(columns.values())))
    out = [pgbinary.HEADER]
    for i in range(n):
        out.append(struct.pack(">h", len(columns)))
        for kind, values in zip(kinds, columns.values()):
            value = values[i]
            if value is None:
                out.append(struct.pack(">i", -1))
                continue
            if kind == "int8":
                payload = struct.pack(">q", value)
            else:
                payload = (b"\x01" if kind == "jsonb" else b"") + str(value).encode()
            out.append(struct.pack(">i", len(payload)) + payload)
    out.append(pgbinary.TRAILER)
    return b"".join(out)


def test_text_and_jsonb_columns_encode_as_each_value_on_its_own():
    columns = {
        "id": [1, 2, 3, 4, 5],
        "ascii": ["Order K-1 delivered", "", None, "a\tb\nc", "x" * 300],
        "unicode": ["délivré", "ünïcode ☃", None, "", "日本"],
        "json": ['{"a": 1}', None, '{"note": "ü"}', "{}", '{"b": [1, 2]}'],
        "nulls": [None, None, None, None, None],
    }
    kinds = ["int8", "text", "text", "jsonb", "text"]
    frame = pd.DataFrame({k: pd.Series(v, dtype="int64" if k == "id" else object) for k, v in columns.items()})

    assert pgbinary.encode(frame, kinds) == _reference(columns, kinds)


def test_many_rows_over_several_blocks(monkeypatch):
    monkeypatch.setattr(pgbinary, "ROWS_PER_BLOCK", 7)
    rng = np.random.default_rng(3)
    n = 50
    columns = {
        "id": [int(v) for v in rng.integers(0, 10**12, n)],
        "reason": [None if i % 11 == 0 else f"Order {i} {'é' * (i % 3)}" for i in range(n)],
        "breakdown": [f'{{"rule": {i}}}' for i in range(n)],
    }
    kinds = ["int8", "text", "jsonb"]
    frame = pd.DataFrame({k: pd.Series(v, dtype="int64" if k == "id" else object) for k, v in columns.items()})

    assert pgbinary.encode(frame, kinds) == _reference(columns, kinds)


def test_fixed_width_columns_are_unchanged():
    frame = pd.DataFrame({"at": pd.to_datetime([datetime(2026, 1, 2, 3, 4, 5, 6), None]), "n": pd.array([7, None], dtype="Int64")})
    data = pgbinary.encode(frame, ["timestamptz", "int8"])
    micros = (datetime(2026, 1, 2, 3, 4, 5, 6) - datetime(2000, 1, 1)) // pd.Timedelta(microseconds=1)
    expected = (
        pgbinary.HEADER
        + struct.pack(">h", 2) + struct.pack(">i", 8) + struct.pack(">q", micros) + struct.pack(">i", 8) + struct.pack(">q", 7)
        + struct.pack(">h", 2) + struct.pack(">i", -1) + struct.pack(">i", -1)
        + pgbinary.TRAILER
    )
    assert data == expected


def test_a_missing_float_is_written_as_null_not_as_nan():
    data = pgbinary.encode(pd.DataFrame({"x": [1.5, np.nan]}), ["float8"])
    expected = (
        pgbinary.HEADER
        + struct.pack(">h", 1) + struct.pack(">i", 8) + struct.pack(">d", 1.5)
        + struct.pack(">h", 1) + struct.pack(">i", -1)
        + pgbinary.TRAILER
    )
    assert data == expected
