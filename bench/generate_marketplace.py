"""Benchmark: generate_marketplace on PostgreSQL against a plain COPY of the same rows.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kiln_bench_gen \
        .venv/bin/python bench/generate_marketplace.py --orders 2000000

The generator writes about 2.73 orders per buyer over 12 months at seed 7 (docs/generator.md:
163,710 for 60,000 buyers), so the buyer count is derived from --orders; sellers = buyers / 15.
Every generated table is dumped with a COPY TO into memory, then two baselines are timed:

- the fair floor (``ratio_generate_over_fair_floor``): what a bulk load cannot avoid. A binary
  COPY FROM into copies of the tables without indexes, then building the same indexes (every
  index of the real table, primary keys included) and adding and validating the same foreign
  keys (between the copies where both ends are generated, else to the real table).
- the older baseline (``ratio_generate_over_plain_copy``): a text COPY into copies that already
  carry their indexes. Index maintenance row by row makes it slower than building the indexes
  afterwards, so it flatters the generator; it is kept for comparison with earlier figures
  (``--no-plain-copy`` skips it).
"""

from __future__ import annotations

import argparse
import io
import re
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

ORDERS_PER_BUYER = 2.73
BUYERS_PER_SELLER = 15


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--end", default="2026-11-01")
    parser.add_argument(
        "--no-plain-copy", action="store_true",
        help="Skip the older text-COPY baseline (about 8 minutes at 2,000,000 orders).",
    )
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from marketplace.generator.services import GENERATED_MODELS, generate_marketplace

    if connection.vendor != "postgresql":
        sys.exit("Set DATABASE_URL to a PostgreSQL database (e.g. .../kiln_bench_gen).")
    call_command("migrate", verbosity=0)
    buyers = max(1, round(args.orders / ORDERS_PER_BUYER))
    sellers = max(1, buyers // BUYERS_PER_SELLER)

    started = time.perf_counter()
    summary = generate_marketplace(
        sellers=sellers, buyers=buyers, months=args.months, seed=args.seed, end=args.end, clear=True, progress=False
    )
    generate_seconds = time.perf_counter() - started

    tables = [model._meta.db_table for model in GENERATED_MODELS]
    rows = {}
    raw = connection.connection
    with raw.cursor() as cursor:
        for table in tables:
            cursor.execute(f"SELECT count(*) FROM {table}")
            rows[table] = cursor.fetchone()[0]
    copy_seconds = None if args.no_plain_copy else _plain_copy(raw, tables)

    fair = _fair_floor(raw, tables)

    result = {
        "benchmark": "generate_marketplace",
        "orders_requested": args.orders,
        "sellers": sellers,
        "buyers": buyers,
        "months": args.months,
        "rows": rows,
        "total_rows": sum(rows.values()),
        "generate_seconds": round(generate_seconds, 2),
        "baseline_plain_copy_seconds": copy_seconds and round(copy_seconds, 2),
        "ratio_generate_over_plain_copy": copy_seconds and round(generate_seconds / copy_seconds, 2),
        "fair_floor_seconds": fair["seconds"],
        "fair_floor_parts": fair["parts"],
        "ratio_generate_over_fair_floor": round(generate_seconds / fair["seconds"], 2),
        "summary": summary,
    }
    out = ROOT / "bench" / "results" / "generate_marketplace.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"orders={summary['counts']['orders']} rows={result['total_rows']}")
    print(f"generate_marketplace: {generate_seconds:.2f} s")
    if copy_seconds:
        print(f"baseline plain COPY of the same rows: {copy_seconds:.2f} s")
        print(f"ratio generate / plain COPY: {result['ratio_generate_over_plain_copy']:.2f}x")
    print(f"fair floor (binary COPY unindexed + indexes + foreign keys): {fair['seconds']:.2f} s {fair['parts']}")
    print(f"ratio generate / fair floor: {result['ratio_generate_over_fair_floor']:.2f}x")
    print(f"wrote {out.relative_to(ROOT)}")


def _dump(cursor, tables: list[str], options: str) -> dict[str, bytes]:
    """Each table's rows as COPY TO writes them with ``options``, held in memory."""
    dumps = {}
    for table in tables:
        buf = io.BytesIO()
        with cursor.copy(f"COPY {table} TO STDOUT {options}") as copy:
            for block in copy:
                buf.write(block)
        dumps[table] = buf.getvalue()
    return dumps


def _plain_copy(raw, tables: list[str]) -> float:
    """The older baseline: a text COPY into copies of the tables that already carry their indexes."""
    with raw.cursor() as cursor:
        dumps = _dump(cursor, tables, "")
        for table in tables:
            cursor.execute(f"DROP TABLE IF EXISTS bench_{table}")
            cursor.execute(f"CREATE TABLE bench_{table} (LIKE {table} INCLUDING ALL)")
        raw.commit()
        started = time.perf_counter()
        for table in tables:
            with cursor.copy(f"COPY bench_{table} FROM STDIN") as copy:
                copy.write(dumps[table])
        raw.commit()
        seconds = time.perf_counter() - started
        for table in tables:
            cursor.execute(f"DROP TABLE bench_{table}")
        raw.commit()
    return seconds


def _fair_floor(raw, tables: list[str]) -> dict:
    """Binary COPY into unindexed copies, then the same indexes, then the same foreign keys, validated."""
    parts = {"copy": 0.0, "indexes": 0.0, "foreign_keys": 0.0}
    with raw.cursor() as cursor:
        dumps = _dump(cursor, tables, "(FORMAT binary)")
        cursor.execute("SELECT tablename, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = ANY(%s)", [tables])
        indexes = cursor.fetchall()
        cursor.execute(
            """SELECT c.conrelid::regclass::text, pg_get_constraintdef(c.oid) FROM pg_constraint c
               WHERE c.contype = 'f' AND c.conrelid::regclass::text = ANY(%s)""",
            [tables],
        )
        foreign_keys = cursor.fetchall()
        for table in tables:
            cursor.execute(f"DROP TABLE IF EXISTS floor_{table} CASCADE")
            cursor.execute(f"CREATE TABLE floor_{table} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
        raw.commit()
        try:
            started = time.perf_counter()
            for table in tables:
                with cursor.copy(f"COPY floor_{table} FROM STDIN (FORMAT binary)") as copy:
                    copy.write(dumps[table])
            raw.commit()
            parts["copy"] = time.perf_counter() - started

            started = time.perf_counter()
            for number, (table, definition) in enumerate(indexes):
                definition = re.sub(r"INDEX \S+ ON (public\.)?\S+", f"INDEX floor_index_{number} ON floor_{table}", definition, count=1)
                cursor.execute(definition)
            raw.commit()
            parts["indexes"] = time.perf_counter() - started

            started = time.perf_counter()
            for number, (table, definition) in enumerate(foreign_keys):
                target = re.search(r"REFERENCES (\S+?)\(", definition).group(1)
                if target in tables:
                    definition = definition.replace(f"REFERENCES {target}(", f"REFERENCES floor_{target}(", 1)
                cursor.execute(f"ALTER TABLE floor_{table} ADD CONSTRAINT floor_fk_{number} {definition}")
            raw.commit()
            parts["foreign_keys"] = time.perf_counter() - started
        finally:
            raw.rollback()
            for table in tables:
                cursor.execute(f"DROP TABLE IF EXISTS floor_{table} CASCADE")
            raw.commit()
    return {"seconds": round(sum(parts.values()), 2), "parts": {k: round(v, 2) for k, v in parts.items()}}


if __name__ == "__main__":
    main()
