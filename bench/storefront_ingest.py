"""Benchmark: sustained storefront order ingestion through gunicorn on loopback, single vs bulk.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kiln_bench_api \
        .venv/bin/python bench/storefront_ingest.py --seconds 20

Starts gunicorn (config.wsgi) on 127.0.0.1, then drives it with client threads using
http.client keep-alive connections, in two phases of --seconds each:

* single (the baseline): one ``POST /orders/`` per new order;
* bulk: ``POST /orders/bulk/`` with --batch new orders, then ``/orders/status/bulk/`` moving
  the same orders to shipped and then delivered (delivered sets the points reaction in motion).

An "order event" is one order created or one status change acknowledged with 201/200. It
reports events/s and p50/p99 request latency per phase and the bulk/single throughput ratio,
then counts rows to prove every acknowledged event is stored exactly once, and replays one bulk
request to show it answers ``duplicate`` without adding rows. Reactions go to a Redis broker
database (--broker) that is purged afterwards; no worker runs during the benchmark.
Results go to bench/results/storefront_ingest.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# Every broker key this run writes starts with this prefix; the clean-up deletes only those.
KEY_PREFIX = "kiln-bench-storefront-ingest:"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

HOST = "127.0.0.1"
BASE = "/api/v1/marketplace"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


class Client:
    def __init__(self, port: int, key: str):
        self.conn = http.client.HTTPConnection(HOST, port, timeout=120)
        self.headers = {"Authorization": f"Api-Key {key}", "Content-Type": "application/json"}

    def post(self, path: str, body) -> tuple[int, dict, float]:
        payload = json.dumps(body)
        started = time.perf_counter()
        try:
            self.conn.request("POST", path, body=payload, headers=self.headers)
            response = self.conn.getresponse()
            data = response.read()
        except (http.client.HTTPException, OSError):
            self.conn.close()
            self.conn.request("POST", path, body=payload, headers=self.headers)
            response = self.conn.getresponse()
            data = response.read()
        elapsed = time.perf_counter() - started
        return response.status, json.loads(data or b"{}"), elapsed


def _order(external_id: str, i: int, fixtures: dict, placed: datetime) -> dict:
    seller = fixtures["sellers"][i % len(fixtures["sellers"])]
    listing = fixtures["listings"][seller][i % len(fixtures["listings"][seller])]
    return {
        "external_id": external_id,
        "buyer": fixtures["buyers"][i % len(fixtures["buyers"])],
        "seller": seller,
        "placed_at": placed.isoformat(),
        "ship_by": (placed + timedelta(days=3)).isoformat(),
        "lines": [{"listing": listing, "quantity": 1, "unit_price": "30.00"}],
    }


def run_phase(*, name: str, port: int, key: str, threads: int, seconds: float, batch: int, fixtures: dict, run_id: str):
    placed = datetime.now(timezone.utc) - timedelta(days=5)
    stats = {"events": 0, "errors": 0, "latencies": [], "created": [], "shipped": 0, "delivered": 0}
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def worker(tid: int):
        client = Client(port, key)
        seq = 0
        local = {"events": 0, "errors": 0, "latencies": [], "created": [], "shipped": 0, "delivered": 0}
        while time.perf_counter() < deadline:
            if name == "single":
                ext = f"{run_id}-s{tid}-{seq}"
                code, body, took = client.post(f"{BASE}/orders/", _order(ext, seq + tid, fixtures, placed))
                seq += 1
                local["latencies"].append(took)
                if code == 201 and body.get("status") == "created":
                    local["events"] += 1
                    local["created"].append(ext)
                else:
                    local["errors"] += 1
                continue
            ids = [f"{run_id}-b{tid}-{seq + k}" for k in range(batch)]
            items = [_order(ext, seq + k + tid, fixtures, placed) for k, ext in enumerate(ids)]
            seq += batch
            code, body, took = client.post(f"{BASE}/orders/bulk/", {"items": items})
            local["latencies"].append(took)
            created = [r["external_id"] for r in body.get("results", []) if r["status"] == "created"] if code == 200 else []
            local["events"] += len(created)
            local["errors"] += batch - len(created)
            local["created"].extend(created)
            for status, days in (("shipped", 1), ("delivered", 3)):
                if not created:
                    break
                at = (placed + timedelta(days=days)).isoformat()
                code, body, took = client.post(
                    f"{BASE}/orders/status/bulk/", {"items": [{"order": ext, "status": status, "at": at} for ext in created]}
                )
                local["latencies"].append(took)
                ok = sum(1 for r in body.get("results", []) if r["status"] == "updated") if code == 200 else 0
                local["events"] += ok
                local["errors"] += len(created) - ok
                local[status] += ok
        with lock:
            for k in ("events", "errors", "shipped", "delivered"):
                stats[k] += local[k]
            stats["latencies"].extend(local["latencies"])
            stats["created"].extend(local["created"])

    started = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies = stats["latencies"]
    return {
        "phase": name,
        "seconds": round(elapsed, 2),
        "requests": len(latencies),
        "events": stats["events"],
        "errors": stats["errors"],
        "events_per_s": round(stats["events"] / elapsed, 1),
        "p50_ms": round(_percentile(latencies, 0.50) * 1000, 1),
        "p99_ms": round(_percentile(latencies, 0.99) * 1000, 1),
        "orders_created": len(stats["created"]),
        "shipped": stats["shipped"],
        "delivered": stats["delivered"],
        "_created_ids": stats["created"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="duration of each phase")
    parser.add_argument("--batch", type=int, default=1000, help="items per bulk request (max 1000)")
    parser.add_argument("--threads", type=int, default=4, help="client threads")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--worker-class", default="sync", choices=["sync", "gthread"])
    parser.add_argument("--sellers", type=int, default=200, help="scale: sellers (5 listings each, 10 buyers each)")
    parser.add_argument("--broker", default="redis://127.0.0.1:6379/9")
    args = parser.parse_args()

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor != "postgresql":
        sys.exit("Set DATABASE_URL to a PostgreSQL database (e.g. .../kiln_bench_api).")
    call_command("migrate", verbosity=0)

    from buyers.models import Buyer
    from integrations.models import PendingReaction
    from integrations.services import api_key_create
    from marketplace.models import Order, OrderStatus
    from sellers.models import Listing, Seller

    run_id = f"bench{int(time.time())}"
    now = datetime.now(timezone.utc)
    sellers = Seller.objects.bulk_create([
        Seller(external_id=f"{run_id}-S{i}", name=f"Bench artisan {i}", email=f"s{i}@bench.example",
               craft_category="ceramics", applied_at=now - timedelta(days=400), onboarding_status="approved")
        for i in range(args.sellers)
    ])
    listings = Listing.objects.bulk_create([
        Listing(seller=s, external_id=f"{s.external_id}-L{j}", title="Bench bowl", category="ceramics",
                price="30.00", stock_quantity=(None if j % 2 else 10_000_000), created_at=now - timedelta(days=300))
        for s in sellers for j in range(5)
    ])
    Buyer.objects.bulk_create([
        Buyer(external_id=f"{run_id}-B{i}", name=f"Bench buyer {i}", email=f"b{i}@bench.example",
              joined_at=now - timedelta(days=500))
        for i in range(args.sellers * 10)
    ])
    fixtures = {
        "sellers": [s.external_id for s in sellers],
        "buyers": [f"{run_id}-B{i}" for i in range(args.sellers * 10)],
        "listings": {},
    }
    for listing in listings:
        fixtures["listings"].setdefault(listing.external_id.rsplit("-L", 1)[0], []).append(listing.external_id)
    _, key = api_key_create(name=f"bench {run_id}", scopes=["storefront:write"])
    connection.close()

    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "DEBUG": "False",
        "LOG_LEVEL": "WARNING",
        "API_KEY_THROTTLE_RATE": "1000000/min",
        "CELERY_BROKER_URL": args.broker,
        "CELERY_REDIS_KEY_PREFIX": KEY_PREFIX,
        "DB_CONN_MAX_AGE": "600",
    }
    server = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "config.wsgi:application", "-b", f"{HOST}:{port}",
         "-w", str(args.workers), "-k", args.worker_class, "--threads", "2", "--timeout", "120",
         "--log-level", "warning", "--keep-alive", "30"],
        cwd=ROOT, env=env, start_new_session=True,
    )
    try:
        for _ in range(100):
            try:
                with socket.create_connection((HOST, port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.2)
        # Warm every worker (imports, connections) outside the timed phases.
        warm = Client(port, key)
        for i in range(args.workers * 4):
            warm.post(f"{BASE}/orders/bulk/", {"items": [_order(f"{run_id}-warm{i}", i, fixtures, now - timedelta(days=5))]})

        single = run_phase(name="single", port=port, key=key, threads=args.threads, seconds=args.seconds,
                           batch=1, fixtures=fixtures, run_id=run_id)
        bulk = run_phase(name="bulk", port=port, key=key, threads=args.threads, seconds=args.seconds,
                         batch=args.batch, fixtures=fixtures, run_id=run_id)

        # Replay: the first bulk request again must answer duplicate for every item and add nothing.
        replay_ids = bulk["_created_ids"][: args.batch]
        before = Order.objects.filter(external_id__startswith=run_id).count()
        code, body, _ = Client(port, key).post(
            f"{BASE}/orders/bulk/",
            {"items": [_order(ext, i, fixtures, now - timedelta(days=5)) for i, ext in enumerate(replay_ids)]},
        )
        replay_duplicates = sum(1 for r in body.get("results", []) if r["status"] == "duplicate")
        after = Order.objects.filter(external_id__startswith=run_id).count()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)

    acknowledged = set(single["_created_ids"]) | set(bulk["_created_ids"])
    stored = Order.objects.filter(external_id__startswith=f"{run_id}-").exclude(external_id__contains="warm")
    stored_count = stored.count()
    stored_ids = set(stored.values_list("external_id", flat=True))
    delivered = stored.filter(status=OrderStatus.DELIVERED).count()
    lines = stored.filter(lines__isnull=False).count()
    pending = PendingReaction.objects.count()
    try:
        from bench.measure import redis_keys_delete

        redis_keys_delete(args.broker, KEY_PREFIX)
        # No worker ran, so the purged messages' pending rows would block later reactions here.
        PendingReaction.objects.all().delete()
    except Exception as exc:  # noqa: BLE001 - the numbers above stand either way
        print(f"could not purge this run's broker keys: {exc}")

    for phase in (single, bulk):
        phase.pop("_created_ids")
    result = {
        "run_id": run_id,
        "args": vars(args),
        "single": single,
        "bulk": bulk,
        "bulk_over_single_events_per_s": round(bulk["events_per_s"] / single["events_per_s"], 1) if single["events_per_s"] else None,
        "rows": {
            "acknowledged_orders": len(acknowledged),
            "stored_orders": stored_count,
            "lost": len(acknowledged - stored_ids),
            "unacknowledged_extra": len(stored_ids - acknowledged),
            "orders_with_lines": lines,
            "delivered_acknowledged": bulk["delivered"],
            "delivered_stored": delivered,
        },
        "replay": {"items": len(replay_ids), "duplicate": replay_duplicates, "rows_added": after - before},
        "reactions_pending_after_run": pending,
    }
    for phase in (single, bulk):
        print(
            f"{phase['phase']:>6}: {phase['events']} order events in {phase['seconds']} s = {phase['events_per_s']} events/s, "
            f"{phase['requests']} requests, p50 {phase['p50_ms']} ms, p99 {phase['p99_ms']} ms, errors {phase['errors']}"
        )
    print(f"bulk/single throughput ratio: {result['bulk_over_single_events_per_s']}x")
    print("rows:", json.dumps(result["rows"]))
    print("replay:", json.dumps(result["replay"]))
    print(f"reactions queued (one per subject, no worker running): {pending}")
    out = ROOT / "bench" / "results" / "storefront_ingest.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"written {out}")


if __name__ == "__main__":
    main()
