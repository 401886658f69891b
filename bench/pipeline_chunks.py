"""Time one nightly stage's chunk function over the same key span, at one or more chunk sizes.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kiln_bench_pipeline \\
        .venv/bin/python bench/pipeline_chunks.py retention 20000 2000

Everything runs in a transaction that is rolled back, so the database is left as it was. The
stage's own outputs are emptied first inside that transaction (the ledger for the award, retention
rows and segment history for retention), so each repetition does a first night's work.

With ``--commit`` each chunk commits, as in the pipeline, so what happens between chunks (the
award's statistics refreshes, which see only committed rows) happens here too; the outputs are
emptied and analysed before each repetition, and left filled after the last one. Prints
wall time and this process's CPU time per repetition: on a shared machine the CPU time moves
less with the load. The first repetition also pays the process's imports and model loading.
"""

import argparse
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

OUTPUTS = {
    "award": "TRUNCATE loyalty_pointsentry CASCADE",
    "retention": "TRUNCATE buyers_buyerretention, buyers_buyersegmentchange CASCADE",
    "tiers": None,
    "reminders": "UPDATE loyalty_pointsentry SET reminded_at = NULL WHERE reminded_at IS NOT NULL;"
    " DELETE FROM core_outboxmessage WHERE category = 'loyalty_expiry_reminder'",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stage", choices=sorted(OUTPUTS))
    parser.add_argument("span", type=int, help="How many keys from the lowest one.")
    parser.add_argument("sizes", help="Chunk sizes to compare, e.g. 2000,8000.")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--as-of", default="2026-11-01T03:00:00")
    parser.add_argument("--commit", action="store_true", help="Commit each chunk, as the pipeline does.")
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection, transaction

    from workflows import stages
    from workflows.pipeline import key_ranges

    chunk = {
        "award": stages.award_orders_chunk,
        "retention": stages.buyer_retention_chunk,
        "tiers": stages.tiers_chunk,
        "reminders": stages.expiry_reminders_chunk,
    }[args.stage]
    model = "marketplace.Order" if args.stage == "award" else "buyers.Buyer"
    as_of = datetime.fromisoformat(args.as_of).replace(tzinfo=timezone.utc)
    first = key_ranges(model, 10**12)[0][0]
    for _ in range(args.repeat):
        for size in (int(s) for s in args.sizes.split(",")):
            if args.commit:
                with connection.cursor() as cursor:
                    if OUTPUTS[args.stage]:
                        cursor.execute(OUTPUTS[args.stage])
                    cursor.execute("ANALYZE")
                wall, cpu = _chunks(chunk, first, args.span, size, as_of, atomic=transaction.atomic)
            else:
                with transaction.atomic():
                    if OUTPUTS[args.stage]:
                        with connection.cursor() as cursor:
                            cursor.execute(OUTPUTS[args.stage])
                    wall, cpu = _chunks(chunk, first, args.span, size, as_of, atomic=None)
                    transaction.set_rollback(True)
            print(
                f"{args.stage}: {args.span} keys in chunks of {size}: {wall:.2f} s"
                f" (process CPU {cpu:.2f} s), load average {os.getloadavg()[0]:.2f}",
                flush=True,
            )


def _chunks(chunk, first, span, size, as_of, *, atomic) -> tuple[float, float]:
    """Wall and process CPU seconds for the chunks of ``span`` keys; each in its own transaction if ``atomic``."""
    from contextlib import nullcontext

    wall, cpu = time.perf_counter(), time.process_time()
    for lo in range(first, first + span, size):
        with atomic() if atomic else nullcontext():
            chunk(lo=lo, hi=min(lo + size, first + span) - 1, as_of=as_of)
    return time.perf_counter() - wall, time.process_time() - cpu


if __name__ == "__main__":
    main()
