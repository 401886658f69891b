"""Benchmark: the buyer retention recompute against one raw SQL RFM aggregate.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kiln_bench_retention \
        .venv/bin/python bench/retention_recompute.py --scale 1.0    # 200,000 buyers, 2,000,000 orders

--scale multiplies the target sizes (200,000 buyers, 2,000,000 orders, 2,000 artisans). The
script migrates the database (it refuses one whose name lacks "bench"), loads buyers and
orders with COPY (each buyer buys every ~cadence days over two years; skipped with
--reuse-data when the sizes already match), then measures in the same run:

1. baseline: ONE raw SQL statement computing the RFM summary per buyer (purchase days,
   first/last day, frequency, recency, T, spend, mean repeat-day spend), fetched;
2. summary: ``retention.services.buyer_summary_frame`` for every buyer (the same numbers, pandas);
3. recompute: the whole retention recompute as the Celery tasks run it, sequentially:
   BG/NBD + Gamma-Gamma fits, then every 20,000-buyer chunk (summary, P(alive), expected
   purchases, CLV, cadence, segments, bulk upsert + segment history).

It prints seconds and SQL statements for each and the ratios summary/raw and recompute/raw,
and writes bench/results/retention_recompute.json.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

import django  # noqa: E402

django.setup()

import numpy as np  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from buyers.models import Buyer, BuyerRetention  # noqa: E402
from retention.services import CHUNK_SIZE, buyer_summary_frame, retention_recompute  # noqa: E402
from marketplace.models import Order  # noqa: E402

from bench import measure  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "retention_recompute.json"
AS_OF = datetime(2026, 11, 1, tzinfo=dt_timezone.utc)
DAYS = 730

RAW_RFM_SQL = """
WITH days AS (
    SELECT buyer_id, date_trunc('day', placed_at AT TIME ZONE 'UTC') AS day, SUM(total_amount) AS value
    FROM marketplace_order
    WHERE placed_at <= %(as_of)s AND status <> 'cancelled'
    GROUP BY buyer_id, date_trunc('day', placed_at AT TIME ZONE 'UTC')
), ranked AS (
    SELECT buyer_id, day, value, ROW_NUMBER() OVER (PARTITION BY buyer_id ORDER BY day) AS n FROM days
)
SELECT buyer_id,
       COUNT(*) - 1 AS frequency,
       EXTRACT(EPOCH FROM MAX(day) - MIN(day)) / 604800.0 AS recency_weeks,
       EXTRACT(EPOCH FROM %(as_of_day)s::timestamp - MIN(day)) / 604800.0 AS t_weeks,
       SUM(value) AS spend,
       COALESCE(AVG(value) FILTER (WHERE n > 1), 0) AS monetary
FROM ranked
GROUP BY buyer_id
"""


@contextmanager
def measured(label: str, results: dict):
    with measure.measured() as out:
        yield
    results[label] = out
    print(f"{label:>10}: {out['seconds']:8.2f} s  {out['queries']:6d} SQL statements", flush=True)


def _copy(table: str, columns: list[str], rows) -> None:
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(map(str, row)) + "\n")
    buffer.seek(0)
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            while chunk := buffer.read(1 << 20):
                copy.write(chunk)


def load_data(*, buyers: int, orders: int, sellers: int, seed: int) -> None:
    """Buyers with gamma-distributed cadences and exponential lifetimes, orders spread to hit ``orders``."""
    rng = np.random.default_rng(seed)
    start = AS_OF - timedelta(days=DAYS)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE buyers_buyer, sellers_seller, marketplace_order, buyers_buyerretention, "
            "buyers_buyersegmentchange, buyers_lifetimefit RESTART IDENTITY CASCADE"
        )
        now = AS_OF.isoformat()
        _copy(
            "sellers_seller",
            ["id", "external_id", "name", "email", "phone", "craft_category", "is_seasonal", "years_experience", "has_portfolio",
             "onboarding_status", "applied_at", "created_at", "updated_at"],
            ((i, f"BS{i:07d}", f"Artisan {i}", f"s{i}@bench.example", "", "ceramics", "f", 3, "t", "approved",
              (start - timedelta(days=60)).isoformat(), now, now) for i in range(1, sellers + 1)),
        )
        _copy(
            "buyers_buyer",
            ["id", "external_id", "name", "email", "joined_at", "created_at", "updated_at"],
            ((i, f"BB{i:08d}", f"Buyer {i}", f"b{i}@bench.example", start.isoformat(), now, now) for i in range(1, buyers + 1)),
        )
        # Per buyer: first purchase day, cadence and a count of orders; the mean count hits the target.
        first = rng.uniform(0, DAYS * 0.8, buyers)
        cadence = rng.choice([60.0, 100.0], size=buyers, p=[0.55, 0.45]) * rng.gamma(16, 1 / 16, buyers)
        room = np.maximum((DAYS - first) / cadence, 1.0)
        weights = rng.gamma(2.0, 0.5, buyers) * room
        counts = 1 + rng.poisson(weights * max(orders - buyers, 0) / weights.sum())
        buyer_of = np.repeat(np.arange(1, buyers + 1), counts)
        step = np.concatenate([np.arange(c) for c in counts])
        day = first[buyer_of - 1] + step * cadence[buyer_of - 1] * rng.gamma(4, 0.25, len(step))
        day = np.minimum(day, DAYS - 0.01)
        placed = [(start + timedelta(days=float(d))).isoformat() for d in day]
        seller = rng.integers(1, sellers + 1, len(day))
        amount = np.round(rng.gamma(3, 20, len(day)) + 5, 2)
        _copy(
            "marketplace_order",
            ["id", "external_id", "buyer_id", "seller_id", "status", "total_amount", "placed_at", "ship_by", "cancel_reason"],
            ((i + 1, f"BO{i + 1:09d}", int(b), int(s), "placed", f"{a:.2f}", p, p, "")
             for i, (b, s, a, p) in enumerate(zip(buyer_of, seller, amount, placed))),
        )
        for table in ("sellers_seller", "buyers_buyer", "marketplace_order"):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE marketplace_order; ANALYZE buyers_buyer;")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--reuse-data", action="store_true")
    args = parser.parse_args()
    if connection.vendor != "postgresql" or "bench" not in connection.settings_dict["NAME"]:
        sys.exit("Run against a PostgreSQL database whose name contains 'bench' (e.g. kiln_bench_retention).")
    buyers, orders, sellers = int(200_000 * args.scale), int(2_000_000 * args.scale), max(int(2_000 * args.scale), 10)
    call_command("migrate", verbosity=0)
    have = (Buyer.objects.count(), Order.objects.count())
    if not (args.reuse_data and have[0] == buyers and abs(have[1] - orders) < 0.02 * orders):
        started = time.perf_counter()
        load_data(buyers=buyers, orders=orders, sellers=sellers, seed=args.seed)
        print(f"loaded {Buyer.objects.count():,} buyers and {Order.objects.count():,} orders in {time.perf_counter() - started:.1f} s")
    n_buyers, n_orders = Buyer.objects.count(), Order.objects.count()
    results: dict = {"buyers": n_buyers, "orders": n_orders, "chunk_size": CHUNK_SIZE, "scale": args.scale}

    with measured("raw_sql", results):
        with connection.cursor() as cursor:
            cursor.execute(RAW_RFM_SQL, {"as_of": AS_OF, "as_of_day": AS_OF.replace(tzinfo=None)})
            raw = cursor.fetchall()
    with measured("summary", results):
        summary = buyer_summary_frame(as_of=AS_OF)
    with measured("recompute", results):
        outcome = retention_recompute(as_of=AS_OF)

    # The two summaries agree (same numbers, computed two ways).
    raw_frequency = {row[0]: row[1] for row in raw}
    sample = summary.sample(min(1000, len(summary)), random_state=0)
    mismatches = int(sum(raw_frequency[b] != int(f) for b, f in zip(sample.index, sample["frequency"])))
    results["summary_mismatches_in_1000"] = mismatches
    results["rows_written"] = BuyerRetention.objects.count()
    results["fits"] = {k: str(v) for k, v in outcome.items()}
    raw_seconds = results["raw_sql"]["seconds"]
    results["ratio_summary_to_raw"] = round(results["summary"]["seconds"] / raw_seconds, 2)
    results["ratio_recompute_to_raw"] = round(results["recompute"]["seconds"] / raw_seconds, 2)
    print(f"buyers {n_buyers:,}  orders {n_orders:,}  rows written {results['rows_written']:,}  mismatches {mismatches}")
    print(f"ratio summary/raw {results['ratio_summary_to_raw']}  recompute/raw {results['ratio_recompute_to_raw']}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
