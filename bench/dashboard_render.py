"""Benchmark: server render time of the operations dashboard and the main queue pages on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kiln_bench_dashboard \
        .venv/bin/python bench/dashboard_render.py --buyers 200000 --months 40     # the target scale
    ... --buyers 20000 --months 24                                                  # a short run

Data comes from the synthetic generator (docs/generator.md); a seller score and a case mix are
added so the score chart and the queues have rows. Pages are rendered in-process through Django's
test client as a logged-in Marketplace Admin, so the figures are server time (SQL + Python +
templates), not network. Each page is timed ``--repeat`` times and the median reported:

- dashboard cold: no snapshots, every tile and chart computed from the source tables;
- dashboard with snapshots: after ``snapshot_record`` for the period's last day (its own cost reported);
- the case queue, the onboarding queue, the admin home.

Baseline (same run): one raw SQL aggregate over the period's orders (count and sum), the floor
of any dashboard over that data. Ratios are page time ÷ baseline time. Use --reuse to keep the
generated data between runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
RESULTS = ROOT / "bench" / "results" / "dashboard_render.json"


def timed(call, repeat: int) -> tuple[float, object]:
    samples, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = call()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples), result


def add_scores_and_cases(seed: int) -> dict:
    """Random seller scores and an open/overdue/assigned case mix, bulk-written (no per-row saves)."""
    import numpy as np
    from django.utils import timezone

    from buyers.models import Buyer
    from casework.kinds import policy_for
    from casework.models import Case, CaseKind, CaseStatus
    from scoring.models import SellerScore
    from sellers.models import Seller

    rng = np.random.default_rng(seed)
    now = timezone.now()
    seller_ids = list(Seller.objects.values_list("pk", flat=True))
    SellerScore.objects.all().delete()
    scores = np.clip(rng.normal(58, 20, len(seller_ids)), 0, 100).astype(int)
    SellerScore.objects.bulk_create(
        [SellerScore(seller_id=s, score=int(v), probability=float(v) / 100, computed_at=now) for s, v in zip(seller_ids, scores)],
        batch_size=5000,
    )
    Case.objects.all().delete()
    cases = []
    seller_kinds = [CaseKind.ONBOARDING_REVIEW, CaseKind.ONBOARDING_CALL, CaseKind.SELLER_DORMANT]
    for kind in seller_kinds:
        policy = policy_for(kind)
        for seller_id in rng.choice(seller_ids, size=min(len(seller_ids), max(1, len(seller_ids) // 4)), replace=False):
            cases.append(Case(kind=kind, team=policy.team, seller_id=int(seller_id), priority=policy.priority,
                              due_at=now + timedelta(hours=int(rng.integers(-96, 96))), reason="Bench case", evidence={"score": 20}))
    buyer_ids = list(Buyer.objects.values_list("pk", flat=True)[: max(1, Buyer.objects.count() // 20)])
    policy = policy_for(CaseKind.BUYER_CHURN_RISK)
    for buyer_id in buyer_ids:
        closed = rng.random() < 0.5
        cases.append(Case(kind=CaseKind.BUYER_CHURN_RISK, team=policy.team, buyer_id=buyer_id,
                          status=CaseStatus.RESOLVED if closed else CaseStatus.OPEN, closed_at=now if closed else None,
                          outcome="contacted" if closed else "", due_at=now + timedelta(hours=int(rng.integers(-96, 96))),
                          reason="Bench case"))
    Case.objects.bulk_create(cases, batch_size=5000)
    return {"seller_scores": len(seller_ids), "cases": len(cases)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buyers", type=int, default=20_000)
    parser.add_argument("--sellers", type=int, default=None, help="default: buyers / 15")
    parser.add_argument("--months", type=int, default=24)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--end", default="2026-11-01", help="last generated day; the dashboard period ends here")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reuse", action="store_true", help="keep data already generated at this scale")
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from buyers.models import Buyer
    from core import roles
    from core.factories import UserFactory
    from dashboard.models import ChartSnapshot, KpiSnapshot
    from dashboard.services import snapshot_record
    from marketplace.generator.services import generate_marketplace
    from marketplace.models import Order

    if connection.vendor != "postgresql":
        sys.exit("Set DATABASE_URL to a PostgreSQL database (e.g. .../kiln_bench_dashboard).")
    call_command("migrate", verbosity=0)
    sellers = args.sellers or max(1, args.buyers // 15)
    generated = {}
    if not (args.reuse and Buyer.objects.count() == args.buyers):
        started = time.perf_counter()
        generated = generate_marketplace(sellers=sellers, buyers=args.buyers, months=args.months, seed=args.seed,
                                         end=args.end, clear=True, progress=False)
        generated = {"seconds": round(time.perf_counter() - started, 1),
                     **{k: v for k, v in generated.items() if isinstance(v, (int, float))}}
        generated.update(add_scores_and_cases(args.seed))
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    counts = {"buyers": Buyer.objects.count(), "orders": Order.objects.count()}
    print(f"data: {counts['buyers']:,} buyers, {counts['orders']:,} orders", flush=True)

    user = UserFactory(username=f"bench-admin-{time.time_ns()}", roles=[roles.MARKETPLACE_ADMIN])
    client = Client()
    client.force_login(user)
    end = date.fromisoformat(args.end) - timedelta(days=1)
    start = end - timedelta(days=29)
    params = {"start": start.isoformat(), "end": end.isoformat()}

    def render(url, query=None):
        reset_queries()
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url, query or {})
        assert response.status_code == 200, (url, response.status_code)
        return len(queries)

    def baseline_query():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*), sum(total_amount) FROM marketplace_order WHERE placed_at >= %s AND placed_at < %s",
                [start, end + timedelta(days=1)],
            )
            return cursor.fetchone()

    results: dict = {"scale": {**counts, "sellers": sellers, "months": args.months}, "generated": generated, "pages": {}}
    baseline_seconds, _ = timed(baseline_query, args.repeat)
    results["baseline_seconds"] = baseline_seconds
    print(f"baseline raw SQL aggregate over the period's orders: {baseline_seconds * 1000:.1f} ms", flush=True)

    KpiSnapshot.objects.all().delete()
    ChartSnapshot.objects.all().delete()
    pages = [
        ("dashboard_cold", "/admin/dashboard/", params),
    ]
    for name, url, query in pages:
        seconds, queries = timed(lambda: render(url, query), args.repeat)
        results["pages"][name] = {"seconds": seconds, "queries": queries, "ratio_to_baseline": seconds / baseline_seconds}

    snapshot_seconds, rows = timed(lambda: snapshot_record(as_of=end), 1)
    results["snapshot_record"] = {"seconds": snapshot_seconds, "rows": rows}
    print(f"snapshot_record for one day: {snapshot_seconds:.2f} s ({rows} KPI rows + charts)", flush=True)

    pages = [
        ("dashboard_with_snapshots", "/admin/dashboard/", params),
        ("case_queue_active", "/admin/casework/case/", {"queue": "active"}),
        ("case_queue_overdue_cs", "/admin/casework/case/", {"queue": "overdue", "team__exact": "customer_success"}),
        ("onboarding_queue", "/admin/sellers/onboardingqueuecase/", {}),
        ("admin_home", "/admin/", {}),
    ]
    for name, url, query in pages:
        seconds, queries = timed(lambda: render(url, query), args.repeat)
        results["pages"][name] = {"seconds": seconds, "queries": queries, "ratio_to_baseline": seconds / baseline_seconds}

    for name, page in results["pages"].items():
        print(f"{name:28s} {page['seconds'] * 1000:9.1f} ms  {page['queries']:3d} queries  "
              f"{page['ratio_to_baseline']:8.1f}x baseline", flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, default=str))
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
