"""Benchmark: the nightly seller-score recompute against one raw SQL aggregate query.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kiln_bench_scoring \
        .venv/bin/python bench/scoring_recompute.py --scale 1.0     # 10,000 sellers, ~1,000,000 orders

--scale multiplies the defaults (10,000 sellers, 220,000 buyers, 24 months: about 1,000,000
orders). The script migrates the database (it refuses one whose name lacks "bench"), generates
the marketplace with generate_marketplace (skipped with --reuse-data when the sizes already
match), registers a seller-score model, then measures in the same run:

1. features: ``scoring.features.seller_features`` for every artisan in one call;
2. recompute: the whole chunked recompute as the Celery tasks run it (score_run_start, then each
   chunk: features for 1,000 artisans, prediction, reasons, bulk upsert + history), sequentially;
3. baseline: the same order/review/engagement aggregates computed by ONE raw SQL statement
   (CTEs joined on the seller table), fetched into pandas.

It prints seconds and SQL statements for each, and the ratios features/raw and recompute/raw.
Results go to bench/results/scoring_recompute.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

import django  # noqa: E402

django.setup()

import pandas as pd  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from marketplace.generator.services import generate_marketplace  # noqa: E402
from marketplace.models import Order  # noqa: E402
from scoring import services  # noqa: E402
from scoring.factories import trained_seller_model  # noqa: E402
from scoring.features import seller_features  # noqa: E402
from scoring.models import ModelVersion, SellerScore  # noqa: E402
from sellers.models import Seller  # noqa: E402

from bench.measure import measured  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "scoring_recompute.json"




RAW_SQL = """
WITH o AS (
    SELECT seller_id,
           COUNT(*) AS orders_365,
           SUM(total_amount) AS revenue_365,
           SUM(CASE WHEN placed_at >= %(t90)s THEN 1 ELSE 0 END) AS orders_90,
           SUM(CASE WHEN cancelled_at < %(t)s THEN 1 ELSE 0 END) AS cancelled_365,
           SUM(CASE WHEN cancel_reason = 'out_of_stock' AND cancelled_at < %(t)s THEN 1 ELSE 0 END) AS oos_365,
           SUM(CASE WHEN returned_at < %(t)s THEN 1 ELSE 0 END) AS returned_365,
           SUM(CASE WHEN ship_by < %(t)s AND (cancelled_at IS NULL OR cancelled_at >= %(t)s) THEN 1 ELSE 0 END) AS due_365,
           SUM(CASE WHEN ship_by < %(t)s AND (cancelled_at IS NULL OR cancelled_at >= %(t)s)
                     AND (shipped_at IS NULL OR shipped_at >= %(t)s OR shipped_at > ship_by) THEN 1 ELSE 0 END) AS late_365,
           AVG(CASE WHEN shipped_at < %(t)s THEN EXTRACT(EPOCH FROM shipped_at - ship_by) / 86400.0 END) AS lead_dev
    FROM marketplace_order WHERE placed_at >= %(t365)s AND placed_at < %(t)s GROUP BY seller_id
), rep AS (
    SELECT seller_id, SUM(CASE WHEN n > 1 THEN n ELSE 0 END) AS repeat_365 FROM (
        SELECT seller_id, buyer_id, COUNT(*) AS n FROM marketplace_order
        WHERE placed_at >= %(t365)s AND placed_at < %(t)s GROUP BY seller_id, buyer_id) p
    GROUP BY seller_id
), r AS (
    SELECT seller_id, COUNT(*) AS reviews, AVG(rating * 1.0) AS rating_mean, VAR_POP(rating * 1.0) AS rating_var
    FROM marketplace_review WHERE created_at >= %(t365)s AND created_at < %(t)s GROUP BY seller_id
), e AS (
    SELECT seller_id,
           SUM(CASE WHEN kind = 'login' AND occurred_at >= %(t30)s THEN 1 ELSE 0 END) AS logins_30,
           SUM(CASE WHEN kind = 'listing_update' THEN 1 ELSE 0 END) AS updates_90,
           SUM(CASE WHEN kind = 'message_reply' THEN 1 ELSE 0 END) AS replies_90,
           AVG(CASE WHEN kind = 'message_reply' THEN response_minutes END) AS response_minutes
    FROM marketplace_engagementevent WHERE seller_id IS NOT NULL AND occurred_at >= %(t90)s AND occurred_at < %(t)s
    GROUP BY seller_id
), m AS (
    SELECT target_seller_id AS seller_id, COUNT(*) AS messages_90 FROM marketplace_engagementevent
    WHERE kind = 'message' AND buyer_id IS NOT NULL AND occurred_at >= %(t90)s AND occurred_at < %(t)s
    GROUP BY target_seller_id
)
SELECT s.id, s.craft_category, o.*, rep.repeat_365, r.reviews, r.rating_mean, r.rating_var,
       e.logins_30, e.updates_90, e.replies_90, e.response_minutes, m.messages_90
FROM sellers_seller s
LEFT JOIN o ON o.seller_id = s.id LEFT JOIN rep ON rep.seller_id = s.id LEFT JOIN r ON r.seller_id = s.id
LEFT JOIN e ON e.seller_id = s.id LEFT JOIN m ON m.seller_id = s.id
WHERE s.applied_at < %(t)s
"""


def raw_features(as_of) -> pd.DataFrame:
    params = {
        "t": as_of,
        "t30": as_of - timedelta(days=30),
        "t90": as_of - timedelta(days=90),
        "t365": as_of - timedelta(days=365),
    }
    with connection.cursor() as cursor:
        cursor.execute(RAW_SQL, params)
        columns = [c.name for c in cursor.description]
        rows = cursor.fetchall()
    return pd.DataFrame.from_records(rows, columns=columns).fillna(0)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--reuse-data", action="store_true", help="Keep existing generated data if the sizes match.")
    args = parser.parse_args()

    if connection.vendor != "postgresql" or "bench" not in connection.settings_dict["NAME"]:
        sys.exit("Run against a PostgreSQL database whose name contains 'bench' (it is wiped).")
    call_command("migrate", verbosity=0)
    sellers, buyers = max(int(10_000 * args.scale), 50), max(int(220_000 * args.scale), 500)

    generated = None
    if not (args.reuse_data and Seller.objects.count() == sellers):
        start = time.perf_counter()
        generated = generate_marketplace(sellers=sellers, buyers=buyers, months=args.months, seed=args.seed, clear=True, progress=False)
        print(f"generated {generated['counts']} in {time.perf_counter() - start:.1f}s", flush=True)
    orders = Order.objects.count()
    ModelVersion.objects.all().delete()
    SellerScore.objects.all().delete()
    trained_seller_model(seed=args.seed)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")

    as_of = timezone.now()
    results = {"sellers": sellers, "orders": orders, "scale": args.scale, "months": args.months}

    # Warm the database cache the same way for every side: one untimed raw run first.
    raw_features(as_of)

    with measured() as features_run:
        frame = seller_features(as_of=as_of)
    features_run["rows"] = len(frame)

    with measured() as raw_run:
        raw = raw_features(as_of)
    raw_run["rows"] = len(raw)

    with measured() as recompute_run:
        run, ranges = services.score_run_start(as_of=as_of, trigger="bench")
        written = sum(services.score_run_chunk(run_id=run.pk, first_id=a, last_id=b) for a, b in ranges)
    recompute_run.update({"rows": written, "chunks": len(ranges)})

    # Running the same run again writes nothing: chunks are idempotent.
    with measured() as rerun:
        again = sum(services.score_run_chunk(run_id=run.pk, first_id=a, last_id=b) for a, b in ranges)
    rerun["rows"] = again

    results.update(
        {
            "features_one_call": features_run,
            "raw_sql_one_query": raw_run,
            "recompute_chunked": recompute_run,
            "recompute_rerun_same_run": rerun,
            "ratio_features_vs_raw": round(features_run["seconds"] / raw_run["seconds"], 2),
            "ratio_recompute_vs_raw": round(recompute_run["seconds"] / raw_run["seconds"], 2),
        }
    )
    print(f"data: {sellers} sellers, {orders} orders")
    print(f"raw SQL aggregate (1 query):        {raw_run['seconds']:8.2f}s  {raw_run['queries']:5d} queries  {raw_run['rows']} rows")
    print(f"kiln seller_features (one call):    {features_run['seconds']:8.2f}s  {features_run['queries']:5d} queries  ratio {results['ratio_features_vs_raw']}x")
    print(f"kiln recompute ({len(ranges)} chunks, writes):  {recompute_run['seconds']:8.2f}s  {recompute_run['queries']:5d} queries  ratio {results['ratio_recompute_vs_raw']}x  ({written} scores)")
    print(f"same run again (idempotent):        {rerun['seconds']:8.2f}s  {rerun['queries']:5d} queries  {again} rows written")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, default=str))
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
