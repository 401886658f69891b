"""Sustained feedback ingestion through gunicorn on loopback: single vs bulk requests.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kiln_bench_feedback \\
        .venv/bin/python bench/feedback_ingest.py --scale 1.0

The script migrates the bench database, seeds buyers/orders and a survey, starts gunicorn on
127.0.0.1, drives it with a threaded HTTP load generator (single-response posts, then bulk posts
of 1,000, then a replay of some bulk batches), stops gunicorn, and counts rows to prove that no
response was lost or stored twice. The single-response run is the baseline: the figure of merit
is bulk responses/s and the bulk/single throughput ratio. Results go to bench/results/feedback_ingest.json.

Follow-up work (classifier, detractor cases) is queued to Redis and not run here: the bench
measures ingestion; its queue keys (prefix KEY_PREFIX) are deleted at the end.
"""

import argparse
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/kiln_bench_feedback"
BROKER = "redis://127.0.0.1:6379/14"
# Every broker key this run writes starts with this prefix; the clean-up deletes only those.
KEY_PREFIX = "kiln-bench-feedback-ingest:"
COMMENTS = [
    "Lovely glaze, arrived quickly", "Parcel was late and the box was crushed", "Beautiful work, thank you",
    "Shipping policy was confusing", "The mug arrived cracked", "Great communication with the artisan", "",
]


def percentile(values, share):
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def setup_database(env: dict, buyers: int) -> str:
    """Migrate, empty the feedback tables, seed buyers/orders, a survey and an API key."""
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    os.environ.update(env)
    import django

    django.setup()
    from django.db import connection
    from django.utils import timezone

    from buyers.models import Buyer
    from feedback.models import Question, QuestionKind, Survey
    from integrations.services import api_key_create

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE feedback_answer, feedback_responsetheme, feedback_response, integrations_idempotencyrecord CASCADE"
        )
    survey, _ = Survey.objects.get_or_create(slug="bench-post-purchase", defaults={"name": "Bench survey"})
    for position, (key, kind) in enumerate(
        [("nps", QuestionKind.NPS), ("csat", QuestionKind.CSAT), ("comment", QuestionKind.FREE_TEXT)]
    ):
        Question.objects.get_or_create(survey=survey, key=key, defaults={"kind": kind, "text": key, "position": position})
    have = Buyer.objects.filter(external_id__startswith="BENCH-").count()
    if have < buyers:
        now = timezone.now()
        Buyer.objects.bulk_create(
            [Buyer(external_id=f"BENCH-{i}", name=f"Bench {i}", email=f"bench{i}@example.com", joined_at=now)
             for i in range(have, buyers)],
            batch_size=5000,
        )
    _, key = api_key_create(name=f"bench-{time.time():.0f}", scopes=["feedback:write"])
    connection.close()
    return key


def make_item(run: str, n: int, rng: random.Random, buyers: int) -> dict:
    # One in ten respondents is unknown to Kiln, so unmatched handling is part of the load.
    respondent = {"buyer_id": f"BENCH-{rng.randrange(buyers)}"} if rng.random() < 0.9 else {"email": f"x{n}@nowhere.example"}
    answers = {"nps": rng.randint(0, 10), "csat": rng.randint(1, 5)}
    comment = rng.choice(COMMENTS)
    if comment:
        answers["comment"] = comment
    return {"external_id": f"{run}-{n}", "survey": "bench-post-purchase", "respondent": respondent, "answers": answers}


class Load:
    """A pool of threads posting prepared bodies; records latency and the per-item statuses."""

    def __init__(self, port: int, key: str, path: str):
        self.port, self.key, self.path = port, key, path
        self.latencies: list[float] = []
        self.errors = 0
        self.statuses: dict[str, int] = {}
        self.ids: set[int] = set()
        self.lock = threading.Lock()

    def post(self, conn, body: bytes):
        started = time.perf_counter()
        conn.request("POST", self.path, body=body, headers={
            "Content-Type": "application/json", "Authorization": f"Api-Key {self.key}", "Connection": "keep-alive"})
        reply = conn.getresponse()
        data = reply.read()
        elapsed = time.perf_counter() - started
        return reply.status, data, elapsed

    def run(self, bodies: list[bytes], threads: int, deadline: float) -> float:
        queue = list(reversed(bodies))
        started = time.perf_counter()

        def worker():
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            while time.perf_counter() < deadline:
                with self.lock:
                    if not queue:
                        break
                    body = queue.pop()
                try:
                    status, data, elapsed = self.post(conn, body)
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
                    with self.lock:
                        self.errors += 1
                    continue
                results = []
                if status in (200, 201):
                    parsed = json.loads(data)
                    results = parsed.get("results", [parsed])
                with self.lock:
                    self.latencies.append(elapsed)
                    if status not in (200, 201):
                        self.errors += 1
                    for result in results:
                        self.statuses[result["status"]] = self.statuses.get(result["status"], 0) + 1
                        if result.get("id") and result["status"] == "created":
                            self.ids.add(result["id"])
            conn.close()

        pool = [threading.Thread(target=worker) for _ in range(threads)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
        return time.perf_counter() - started

    def summary(self, seconds: float) -> dict:
        created_or_dup = sum(self.statuses.values())
        return {
            "requests": len(self.latencies),
            "responses_processed": created_or_dup,
            "statuses": self.statuses,
            "seconds": round(seconds, 2),
            "responses_per_s": round(created_or_dup / seconds, 1) if seconds else None,
            "p50_ms": round(1000 * percentile(self.latencies, 0.5), 1) if self.latencies else None,
            "p99_ms": round(1000 * percentile(self.latencies, 0.99), 1) if self.latencies else None,
            "errors": self.errors,
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 3,000 single posts and 40 bulk posts of 1,000")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=6, help="load-generator threads")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="upper bound per phase")
    parser.add_argument("--buyers", type=int, default=20_000)
    args = parser.parse_args()

    database_url = os.environ.get("DATABASE_URL", DEFAULT_DB)
    if not database_url.startswith("postgres"):
        print("Run against PostgreSQL (DATABASE_URL=postgres://...)", file=sys.stderr)
        return 2
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "DEBUG": "False",
        "API_KEY_THROTTLE_RATE": "1000000/min",
        "CELERY_BROKER_URL": BROKER,
        "CELERY_REDIS_KEY_PREFIX": KEY_PREFIX,
        "LOG_LEVEL": "WARNING",
        "DATA_UPLOAD_MAX_MEMORY_SIZE": str(5 * 1024 * 1024),
    }
    key = setup_database(env, args.buyers)
    rng = random.Random(11)
    n_single = max(50, int(3000 * args.scale))
    n_bulk = max(2, int(40 * args.scale))
    single_bodies = [json.dumps(make_item("s", i, rng, args.buyers)).encode() for i in range(n_single)]
    bulk_items = [[make_item("b", b * 1000 + i, rng, args.buyers) for i in range(1000)] for b in range(n_bulk)]
    bulk_bodies = [json.dumps({"items": items}).encode() for items in bulk_items]
    # A delivery retried by the tool: these must all come back "duplicate" and add no rows.
    replay_bodies = bulk_bodies[: max(1, n_bulk // 10)]

    port = free_port()
    gunicorn = subprocess.Popen(
        [str(ROOT / ".venv/bin/gunicorn"), "config.wsgi:application", "-b", f"127.0.0.1:{port}", "-w", str(args.workers),
         "--worker-class", "gthread", "--threads", "2", "--timeout", "120", "--log-level", "warning", "--keep-alive", "30"],
        cwd=ROOT, env=env, start_new_session=True,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.2)
        # Warm every worker (imports, connections) before measuring.
        warm = Load(port, key, "/api/v1/feedback/responses/bulk/")
        warm.run([json.dumps({"items": [make_item("w", i, rng, args.buyers)]}).encode() for i in range(args.workers * 4)],
                 args.threads, time.perf_counter() + 30)

        single = Load(port, key, "/api/v1/feedback/responses/")
        single_s = single.run(single_bodies, args.threads, time.perf_counter() + args.max_seconds)
        bulk = Load(port, key, "/api/v1/feedback/responses/bulk/")
        bulk_s = bulk.run(bulk_bodies, min(args.threads, args.workers * 2), time.perf_counter() + args.max_seconds)
        replay = Load(port, key, "/api/v1/feedback/responses/bulk/")
        replay_s = replay.run(replay_bodies, min(args.threads, args.workers * 2), time.perf_counter() + args.max_seconds)
    finally:
        os.killpg(gunicorn.pid, signal.SIGTERM)
        gunicorn.wait(timeout=30)

    from django.db import connection

    from feedback.models import Answer, Response

    rows = Response.objects.exclude(external_id__startswith="w-").count()
    distinct = Response.objects.exclude(external_id__startswith="w-").values("source_id", "external_id").distinct().count()
    answers = Answer.objects.exclude(response__external_id__startswith="w-").count()
    acknowledged = len(single.ids) + len(bulk.ids)
    connection.close()
    try:
        from bench.measure import redis_keys_delete

        redis_keys_delete(BROKER, KEY_PREFIX)
    except Exception:  # noqa: BLE001 - the queue is scratch space; a failed purge changes no figure
        pass

    single_summary, bulk_summary = single.summary(single_s), bulk.summary(bulk_s)
    result = {
        "scale": args.scale,
        "workers": args.workers,
        "single": single_summary,
        "bulk": bulk_summary,
        "replay": replay.summary(replay_s),
        "bulk_to_single_throughput": round(bulk_summary["responses_per_s"] / single_summary["responses_per_s"], 1)
        if single_summary["responses_per_s"] else None,
        "rows_after_run": rows,
        "distinct_source_external_ids": distinct,
        "created_acknowledged": acknowledged,
        "answers_after_run": answers,
        "lost": acknowledged - rows,
        "duplicated": rows - distinct,
    }
    out = ROOT / "bench" / "results" / "feedback_ingest.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"single: {single_summary['responses_per_s']} responses/s  p50 {single_summary['p50_ms']} ms  "
          f"p99 {single_summary['p99_ms']} ms  errors {single_summary['errors']}  ({single_summary['requests']} requests)")
    print(f"bulk:   {bulk_summary['responses_per_s']} responses/s  p50 {bulk_summary['p50_ms']} ms  "
          f"p99 {bulk_summary['p99_ms']} ms  errors {bulk_summary['errors']}  ({bulk_summary['requests']} requests of 1,000)")
    print(f"replay: {result['replay']['statuses']}  errors {result['replay']['errors']}")
    print(f"bulk/single throughput ratio: {result['bulk_to_single_throughput']}x")
    print(f"rows after run: {rows} (acknowledged created: {acknowledged}; lost: {result['lost']}; "
          f"duplicated: {result['duplicated']}); answers: {answers}")
    print(f"written to {out.relative_to(ROOT)}")
    ok = result["lost"] == 0 and result["duplicated"] == 0 and bulk_summary["errors"] == 0 and single_summary["errors"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
