"""Benchmark: the nightly pipeline in one process, on one worker and on two workers, against the raw SQL floor.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kiln_bench_pipeline \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/8 \\
        .venv/bin/python bench/pipeline.py --sellers 10000 --buyers 200000 --months 12 --purchase-frequency 5.6

At the default purchase frequency the generator writes about 3.1 orders per buyer in 12 months;
``--purchase-frequency 5.6`` (buyers return 5.6 times as often) gives about 10, so 200,000 buyers
place about 2,000,000 orders, the target size (seed 7: 1,986,861 orders; since the generator
gained buyer churn, 3.5 gives only 1,436,461).

The marketplace gets the demo's configuration first (loyalty tiers, earning rules, badges,
survey themes, workshops). It also times the buyer RFM summary computed the naive way (one ORM query per buyer) against
Kiln's set-based frame. The floor is the set of plain SQL aggregates the stages need (seller order and review
statistics, buyer RFM, points per delivered order, KPI counts) with no Python and no writes.
The fair floor adds, measured in the same run, what no implementation can skip: a binary COPY of
the rows the inline run wrote into tables with the same columns and indexes (CREATE TABLE ...
LIKE ... INCLUDING ALL), the lifetime model fits (holdout evaluation, purchase and spend fits on
frames already in memory) and vectorised inference of the active seller-score and churn models
on feature matrices already built. ``fair_floor_seconds`` is reads + writes + fits + inference,
and every run reports ``ratio_to_fair_floor``. LIKE copies no foreign keys; the same COPY into
copies that carry them is reported as ``seconds_with_foreign_keys`` (the real tables check theirs
at every commit) but is not part of the floor. The inline run also reports each stage's own
seconds (``seconds_per_stage``).
Between runs every pipeline output is deleted, so each run does the full work. Worker runs
start real Celery worker processes (solo pool, one task at a time each) against the broker, on
empty queues; they serve the default and recompute queues, so the emails a run queues (notify)
wait for their own workers and are not part of the measured time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

FLOOR_SQL = {
    "seller order statistics": """
        SELECT seller_id, count(*), sum((status = 'cancelled')::int), sum((status = 'returned')::int),
               avg(extract(epoch FROM shipped_at - ship_by)), sum(total_amount)
        FROM marketplace_order GROUP BY seller_id""",
    "seller review statistics": """
        SELECT seller_id, avg(rating), var_samp(rating), count(*) FROM marketplace_review GROUP BY seller_id""",
    "buyer RFM": """
        SELECT buyer_id, count(DISTINCT placed_at::date), min(placed_at), max(placed_at), sum(total_amount)
        FROM marketplace_order WHERE status <> 'cancelled' GROUP BY buyer_id""",
    "buyer engagement": """
        SELECT buyer_id, kind, count(*) FROM marketplace_engagementevent WHERE buyer_id IS NOT NULL GROUP BY buyer_id, kind""",
    "points per delivered order": """
        SELECT id, buyer_id, floor(total_amount) FROM marketplace_order WHERE status = 'delivered'""",
    "KPI counts per category and day": """
        SELECT s.craft_category, o.placed_at::date, count(*), sum((o.status = 'cancelled')::int),
               sum((o.status = 'returned')::int), avg(o.total_amount)
        FROM marketplace_order o JOIN sellers_seller s ON s.id = o.seller_id GROUP BY 1, 2""",
}


def _wipe_outputs():
    from buyers.models import BuyerRetention, BuyerSegmentChange, InterventionAssignment, SellerDormancy
    from casework.models import Case, CaseEvent
    from dashboard.models import Alert, ChartSnapshot, KpiSnapshot
    from loyalty.models import Allocation, BadgeAward, BuyerTier, LoyaltyAccount, PointsEntry, TierChange
    from scoring.models import SellerScore, SellerScoreHistory
    from django.db import connection

    models = (
        Allocation, BadgeAward, TierChange, BuyerTier, PointsEntry, LoyaltyAccount, InterventionAssignment, CaseEvent, Case,
        SellerDormancy, BuyerSegmentChange, BuyerRetention, SellerScoreHistory, SellerScore, Alert, KpiSnapshot, ChartSnapshot,
    )
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE " + ", ".join(m._meta.db_table for m in models) + " CASCADE")
        # Every run starts from the same planner state: emptied and analysed. Without this a run
        # planned with the statistics the previous run left (a full ledger and tier table, or
        # none), and the stages that read what they write (the award's cap usage, the tiers)
        # ran at different speeds for that alone.
        cursor.execute("ANALYZE")


def _broker_purge():
    """Start every worker run on empty queues: the runs before it queued emails and follow-ups."""
    from config.celery import app

    with app.connection_for_write() as connection:
        for queue in ("default", "recompute", "ingest", "notify"):
            connection.default_channel.queue_purge(queue)


def _lease_clear():
    """A benchmark interrupted mid-run leaves its lease behind; the next run would be skipped."""
    from core.models import PipelineLease

    PipelineLease.objects.update(holder=None)


def _floor() -> dict:
    from django.db import connection

    timings = {}
    with connection.cursor() as cursor:
        for name, sql in FLOOR_SQL.items():
            started = time.perf_counter()
            cursor.execute(sql)
            cursor.fetchall()
            timings[name] = round(time.perf_counter() - started, 3)
    return {"seconds": round(sum(timings.values()), 3), "queries": timings}


def _tables():
    from django.apps import apps

    def integer_key(field):
        field = field.target_field if field.is_relation else field
        return field.get_internal_type() in ("AutoField", "BigAutoField", "IntegerField", "BigIntegerField")

    # Tables keyed by their owner (one retention row per buyer, one score per seller) are wiped
    # before each run, so "key above the old maximum" finds their rows too.
    return [model for model in apps.get_models() if model._meta.managed and not model._meta.proxy and integer_key(model._meta.pk)]


def _max_keys() -> dict:
    """The highest primary key of every table, so the rows a run inserts can be told apart."""
    from django.db import connection

    keys = {}
    with connection.cursor() as cursor:
        for model in _tables():
            cursor.execute(f'SELECT max("{model._meta.pk.column}") FROM "{model._meta.db_table}"')
            keys[model._meta.db_table] = (model._meta.pk.column, cursor.fetchone()[0] or 0)
    return keys


def _write_floor(before: dict) -> dict:
    """COPY the rows the run inserted, in binary, into indexed copies of their tables; the timed part is the COPY."""
    from django.db import connection, transaction

    dumps = {}
    with connection.cursor() as cursor:
        for table, (pk, since) in before.items():
            buffer = bytearray()
            with cursor.cursor.copy(f'COPY (SELECT * FROM "{table}" WHERE "{pk}" > {since}) TO STDOUT (FORMAT binary)') as copy:
                for block in copy:
                    buffer += block
            if len(buffer) > 21:  # header and trailer only: the run inserted nothing here
                dumps[table] = bytes(buffer)
        rows = {}
        for table in dumps:
            cursor.execute(f'SELECT count(*) FROM "{table}" WHERE "{before[table][0]}" > {before[table][1]}')
            rows[table] = cursor.fetchone()[0]

    def copy_all() -> dict[str, float]:
        per_table = {}
        for table, data in dumps.items():
            started = time.perf_counter()
            with transaction.atomic(), connection.cursor() as cursor:
                with cursor.cursor.copy(f'COPY "floor_{table}" FROM STDIN (FORMAT binary)') as copy:
                    copy.write(data)
            per_table[table] = time.perf_counter() - started
        return per_table

    try:
        with connection.cursor() as cursor:
            for table in dumps:
                cursor.execute(f'CREATE TABLE "floor_{table}" (LIKE "{table}" INCLUDING ALL)')
        plain = copy_all()
        # LIKE copies no foreign keys, and the floor is the COPY without them. The real tables
        # check theirs at each commit; what that adds is measured apart, for the docs, and not
        # added to the floor.
        with connection.cursor() as cursor:
            for table in dumps:
                cursor.execute(f'TRUNCATE "floor_{table}"')
                cursor.execute(
                    "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'f'",
                    [table],
                )
                for (definition,) in cursor.fetchall():
                    cursor.execute(f'ALTER TABLE "floor_{table}" ADD {definition}')
        checked = copy_all()
    finally:
        with connection.cursor() as cursor:
            for table in dumps:
                cursor.execute(f'DROP TABLE IF EXISTS "floor_{table}"')
    slowest = sorted(dumps, key=lambda table: -plain[table])[:5]
    return {
        "seconds": round(sum(plain.values()), 3),
        "rows": sum(rows.values()),
        "megabytes": round(sum(len(d) for d in dumps.values()) / 1e6, 1),
        "rows_per_table": rows,
        "seconds_per_table": {table: round(plain[table], 3) for table in slowest},
        "seconds_with_foreign_keys": round(sum(checked.values()), 3),
    }


def _fits_and_inference_floor(as_of) -> dict:
    """The model work itself, on inputs already in memory (the reads are in the SQL floor)."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    from buyers import lifetime
    from retention.features import churn_feature_frame, order_frame
    from retention.services import (
        CHURN_FEATURES, _holdout_evaluation, _load_churn_model, buyer_summary_frame, p_alive_at, purchase_fit, spend_fit,
    )
    from scoring.features import seller_features
    from scoring.services import _model_key, active_models

    orders = order_frame(as_of=as_of)
    summary = buyer_summary_frame(as_of=as_of, orders=orders)
    started = time.perf_counter()
    evaluation = _holdout_evaluation(orders, as_of=as_of)
    purchase_fit(summary, evaluation.get("chosen") or lifetime.MBGNBD)
    spend_fit(summary)
    fits = time.perf_counter() - started

    sellers = seller_features(as_of=as_of)
    models = active_models()
    version, estimator = _load_churn_model()
    churn = churn_feature_frame(as_of=as_of, p_alive=p_alive_at(as_of=as_of)).fillna(0.0)
    started = time.perf_counter()
    scored = 0
    with threadpool_limits(1):
        for key, group in sellers.groupby(_model_key(sellers, models).fillna("__global__")):
            if key in ("__no_history__", "__none__"):
                continue
            seller_version, seller_estimator = models[None if key == "__global__" else key]
            scored += len(seller_estimator.predict_proba(group[seller_version.features].to_numpy(dtype=float)))
        if estimator is not None:
            columns = list(version.features) if version.features else CHURN_FEATURES
            scored += len(np.asarray(estimator.predict_proba(churn[columns].to_numpy(dtype=float))[:, 1]))
    inference = time.perf_counter() - started
    return {"fits_seconds": round(fits, 3), "inference_seconds": round(inference, 3), "rows_scored": scored}


def _naive_against_set_based(as_of) -> dict:
    """Per-buyer RFM the way a first draft would write it (one query per buyer) against Kiln's frame."""
    from django.db.models import Count, Max, Min, Sum

    from bench.measure import measured
    from buyers.models import Buyer
    from retention.services import buyer_summary_frame

    with measured() as naive:
        rows = 0
        for buyer in Buyer.objects.all().iterator(chunk_size=2000):
            buyer.orders.exclude(status="cancelled").filter(placed_at__lte=as_of).aggregate(
                n=Count("id"), first=Min("placed_at"), last=Max("placed_at"), spend=Sum("total_amount")
            )
            rows += 1
    with measured() as set_based:
        frame = buyer_summary_frame(as_of=as_of)
    return {
        "buyers": rows,
        "naive_orm": naive,
        "kiln_set_based": set_based,
        "buyers_with_orders": len(frame.index),
        "ratio_naive_over_set_based": round(naive["seconds"] / max(set_based["seconds"], 1e-9), 1),
    }


def _cpu_busy_seconds() -> float:
    """CPU time the whole machine has spent busy (every core, every process: the pipeline's
    Python and PostgreSQL's backends alike), from /proc/stat."""
    user, nice, system, _idle, _iowait, irq, softirq = (
        int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:8]
    )  # steal (time a virtual machine's host took) is not this machine's work
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def _with_cpu(summary: dict, busy_before: float) -> dict:
    """Add the machine's busy CPU seconds during the run, and the shortest time they allow on
    this machine's cores: no number of workers can finish the same work faster."""
    busy = round(_cpu_busy_seconds() - busy_before, 2)
    summary["cpu_busy_seconds"] = busy
    summary["cpu_bound_seconds"] = round(busy / len(os.sched_getaffinity(0)), 2)
    return summary


def _run_summary(run) -> dict:
    from django.db.models import Max

    from core.models import PipelineChunk

    per_worker = (
        PipelineChunk.objects.filter(stage__run=run).exclude(worker="").values("worker").annotate(peak=Max("peak_rss_mb"))
    )
    return {
        "status": run.status,
        "seconds": round(run.duration_seconds or 0, 2),
        "stages": {
            s.name: {"seconds": round(s.duration_seconds or 0, 2), "rows": s.rows, "chunks": s.chunks_total}
            for s in run.stages.all()
        },
        "peak_rss_mb_per_worker": {row["worker"]: round(row["peak"] or 0, 1) for row in per_worker},
        "error": run.error,
    }


def _inline_seconds_per_stage(run) -> dict:
    """Each stage's own time in an inline run: its chunks run one after another, so a chunk took
    from the end of the chunk before it (of any stage) to its own end. A stage's recorded
    duration spans its whole level instead, the other stages of the level included."""
    from core.models import PipelineChunk

    seconds: dict[str, float] = {}
    previous = run.started_at
    for name, finished in (
        PipelineChunk.objects.filter(stage__run=run, finished_at__isnull=False)
        .order_by("finished_at").values_list("stage__name", "finished_at")
    ):
        seconds[name] = seconds.get(name, 0.0) + (finished - previous).total_seconds()
        previous = finished
    return {name: round(value, 2) for name, value in sorted(seconds.items(), key=lambda item: -item[1])}


def _inline(as_of, chunk_size) -> dict:
    import resource

    from core.models import PipelineRun
    from workflows.pipeline import pipeline_run_inline

    from django.db import connection

    before = _max_keys()
    statements = [0]

    def count(execute, sql, params, many, context):
        statements[0] += 1
        return execute(sql, params, many, context)

    busy = _cpu_busy_seconds()
    with connection.execute_wrapper(count):
        list(pipeline_run_inline(as_of=as_of, chunk_size=chunk_size))
    _inline.inserted_since = before
    summary = _with_cpu(_run_summary(PipelineRun.objects.order_by("-pk").first()), busy)
    summary["sql_statements"] = statements[0]
    summary["seconds_per_stage"] = _inline_seconds_per_stage(PipelineRun.objects.order_by("-pk").first())
    summary["peak_rss_mb_per_worker"] = {"this process": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    return summary


def _on_workers(count, *, as_of, chunk_size, broker) -> dict:
    from core.models import PipelineRun, RunStatus
    from tests import workers

    last_before = PipelineRun.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    with workers.workers(count, broker=broker, queues="default,recompute", PIPELINE_CHUNK_SIZE=str(chunk_size)):
        time.sleep(3)  # let the workers connect before the clock starts
        busy = _cpu_busy_seconds()
        workers.pipeline_start_remote(broker, trigger=f"bench-{count}w", as_of=as_of.isoformat(), chunk_size=chunk_size)
        run = workers.wait_for(
            lambda: PipelineRun.objects.filter(
                pk__gt=last_before, trigger=f"bench-{count}w", status__in=[RunStatus.SUCCEEDED, RunStatus.FAILED]
            ).first(),
            timeout=3600,
            interval=0.5,
        )
        return _with_cpu(_run_summary(run), busy)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sellers", type=int, default=1000)
    parser.add_argument("--buyers", type=int, default=20000)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--purchase-frequency", type=float, default=1.0, help="See the generator's docs.")
    parser.add_argument("--end", default="2026-11-01")
    parser.add_argument("--chunk-size", type=int, default=None)
    parser.add_argument("--reuse", action="store_true", help="Keep the marketplace already in the database.")
    parser.add_argument("--workers", default="1,2", help="Worker counts to run, e.g. 1,2 (empty: inline only).")
    parser.add_argument("--no-inline", action="store_true", help="Skip the single-process run.")
    parser.add_argument("--skip-training", action="store_true",
                        help="With --reuse: keep the models already active instead of training them again.")
    parser.add_argument("--no-naive", action="store_true", help="Skip the naive per-buyer ORM baseline.")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from workflows.demo import demo_configuration_create, demo_models_train
    from marketplace.generator.services import generate_marketplace
    from marketplace.models import Order
    from sellers.models import Seller

    if connection.vendor != "postgresql":
        sys.exit("Set DATABASE_URL to a PostgreSQL database (e.g. .../kiln_bench_pipeline).")
    broker = os.environ.get("CELERY_BROKER_URL", "")
    if args.workers and not broker.startswith("redis://"):
        sys.exit("Set CELERY_BROKER_URL=redis://... for the worker runs (or pass --workers '').")
    chunk_size = args.chunk_size or settings.PIPELINE_CHUNK_SIZE
    call_command("migrate", verbosity=0)
    if not (args.reuse and Seller.objects.exists()):
        started = time.perf_counter()
        generate_marketplace(
            sellers=args.sellers,
            buyers=args.buyers,
            months=args.months,
            seed=args.seed,
            end=args.end,
            clear=True,
            progress=False,
            purchase_frequency=args.purchase_frequency,
        )
        print(f"generated in {time.perf_counter() - started:.1f}s", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")  # a reused marketplace may never have been analysed
    # The demo's loyalty program (tiers, earning rules with caps and a promotion, badges), survey
    # themes and workshops, so every stage has its real work to do.
    print("configuration:", *demo_configuration_create(seed=args.seed), sep="\n  ", flush=True)
    if args.skip_training and args.reuse:
        print("training: skipped; the models already active are used", flush=True)
    else:
        print("training:", *demo_models_train(seed=args.seed), sep="\n  ", flush=True)
    as_of = datetime.fromisoformat(args.end).replace(hour=3, tzinfo=timezone.utc)

    results = {
        "scale": {"sellers": Seller.objects.count(), "buyers": args.buyers, "orders": Order.objects.count()},
        "chunk_size": chunk_size,
        "raw_sql_floor": _floor(),
        "runs": {},
    }
    print(f"raw SQL floor: {results['raw_sql_floor']['seconds']}s", flush=True)
    if not args.no_naive:
        results["buyer_rfm_naive_vs_set_based"] = _naive_against_set_based(as_of)
        print("buyer RFM, naive ORM loop vs set-based:", results["buyer_rfm_naive_vs_set_based"], flush=True)
    if not args.no_inline:
        _wipe_outputs()
        _lease_clear()
        results["runs"]["inline"] = _inline(as_of, chunk_size)
        print(f"inline: {results['runs']['inline']['seconds']}s", flush=True)
    if not args.no_inline:
        # Measured now, while the inline run's output is in the tables.
        results["write_floor"] = _write_floor(_inline.inserted_since)
        results["model_floor"] = _fits_and_inference_floor(as_of)
        results["fair_floor_seconds"] = round(
            results["raw_sql_floor"]["seconds"] + results["write_floor"]["seconds"]
            + results["model_floor"]["fits_seconds"] + results["model_floor"]["inference_seconds"],
            3,
        )
        print(f"fair floor: {results['fair_floor_seconds']}s (writes {results['write_floor']})", flush=True)
    for count in [int(c) for c in args.workers.split(",") if c.strip()]:
        _wipe_outputs()
        _lease_clear()
        _broker_purge()
        results["runs"][f"{count} worker(s)"] = _on_workers(count, as_of=as_of, chunk_size=chunk_size, broker=broker)
        print(f"{count} worker(s): {results['runs'][f'{count} worker(s)']['seconds']}s", flush=True)

    floor = results["raw_sql_floor"]["seconds"] or 1e-9
    for run in results["runs"].values():
        run["ratio_to_raw_sql_floor"] = round(run["seconds"] / floor, 1)
        if results.get("fair_floor_seconds"):
            run["ratio_to_fair_floor"] = round(run["seconds"] / results["fair_floor_seconds"], 2)
    if "inline" in results["runs"] and "1 worker(s)" in results["runs"]:
        results["one_worker_over_inline"] = round(
            results["runs"]["1 worker(s)"]["seconds"] / max(results["runs"]["inline"]["seconds"], 1e-9), 2
        )
    if "1 worker(s)" in results["runs"] and "2 worker(s)" in results["runs"]:
        one = results["runs"]["1 worker(s)"]
        results["speedup_2_over_1_workers"] = round(one["seconds"] / max(results["runs"]["2 worker(s)"]["seconds"], 1e-9), 2)
        # The most two workers could gain on this machine: the one-worker run's busy CPU spread
        # over every core, PostgreSQL's share included.
        results["speedup_ceiling_on_these_cores"] = round(one["seconds"] / max(one["cpu_bound_seconds"], 1e-9), 2)
    out = ROOT / "bench" / "results" / "pipeline.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, default=str))
    print(json.dumps({k: v for k, v in results.items() if k != "runs"}, indent=2, default=str))
    for name, run in results["runs"].items():
        print(
            f"{name:>12}: {run['seconds']:>8.1f}s  x{run.get('ratio_to_fair_floor')} of fair floor"
            f"  x{run['ratio_to_raw_sql_floor']} of read floor  busy CPU {run['cpu_busy_seconds']} s"
            f"  peak RSS {run['peak_rss_mb_per_worker']}  {run['status']}"
        )
        if "seconds_per_stage" in run:
            print(f"{'':>12}  by stage: {run['seconds_per_stage']}")


if __name__ == "__main__":
    main()
