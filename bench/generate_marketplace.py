"""Benchmark: generate_marketplace on PostgreSQL against a plain COPY of the same rows.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kiln_bench_gen \
        .venv/bin/python bench/generate_marketplace.py --orders 2000000

The generator writes about 3.1 orders per buyer over 12 months (docs/generator.md), so the buyer
count is derived from --orders; sellers = buyers / 15. The baseline dumps every generated table
with COPY TO into memory and times COPY FROM into empty copies of the tables (same columns, checks
and indexes, no foreign keys). The ratio says how much the sampling and CSV encoding cost on top
of the database's own bulk-load time.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

ORDERS_PER_BUYER = 3.1
BUYERS_PER_SELLER = 15


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200_000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--end", default="2026-11-01")
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
    dumps: dict[str, bytes] = {}
    rows = {}
    raw = connection.connection
    with raw.cursor() as cursor:
        for table in tables:
            buf = io.BytesIO()
            with cursor.copy(f"COPY {table} TO STDOUT") as copy:
                for block in copy:
                    buf.write(block)
            dumps[table] = buf.getvalue()
            cursor.execute(f"SELECT count(*) FROM {table}")
            rows[table] = cursor.fetchone()[0]
        for table in tables:
            cursor.execute(f"DROP TABLE IF EXISTS bench_{table}")
            cursor.execute(f"CREATE TABLE bench_{table} (LIKE {table} INCLUDING ALL)")
        raw.commit()
        copy_started = time.perf_counter()
        for table in tables:
            with cursor.copy(f"COPY bench_{table} FROM STDIN") as copy:
                copy.write(dumps[table])
        raw.commit()
        copy_seconds = time.perf_counter() - copy_started
        for table in tables:
            cursor.execute(f"DROP TABLE bench_{table}")
        raw.commit()

    result = {
        "benchmark": "generate_marketplace",
        "orders_requested": args.orders,
        "sellers": sellers,
        "buyers": buyers,
        "months": args.months,
        "rows": rows,
        "total_rows": sum(rows.values()),
        "generate_seconds": round(generate_seconds, 2),
        "baseline_plain_copy_seconds": round(copy_seconds, 2),
        "ratio_generate_over_plain_copy": round(generate_seconds / copy_seconds, 2),
        "summary": summary,
    }
    out = ROOT / "bench" / "results" / "generate_marketplace.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"orders={summary['counts']['orders']} rows={result['total_rows']}")
    print(f"generate_marketplace: {generate_seconds:.2f} s")
    print(f"baseline plain COPY of the same rows: {copy_seconds:.2f} s")
    print(f"ratio generate / plain COPY: {result['ratio_generate_over_plain_copy']:.2f}x")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
