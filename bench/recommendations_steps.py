"""Time the nightly recommendations' steps (load, fit, recommend, store) on the marketplace in
the database, in a transaction that is rolled back.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/kiln_bench .venv/bin/python bench/recommendations_steps.py

Prints wall and process CPU time per step; ``--digest`` also prints a hash of every buyer's
lists, so two commits can be checked to recommend exactly the same.
"""

import argparse
import hashlib
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--as-of", default="2026-11-01T03:00:00")
    parser.add_argument("--repeat", type=int, default=2, help="Times to run the recommend step.")
    parser.add_argument("--digest", action="store_true")
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import transaction

    from buyers.models import BuyerRetention
    from retention import recommendations

    as_of = datetime.fromisoformat(args.as_of).replace(tzinfo=timezone.utc)

    def timed(label, step):
        wall, cpu = time.perf_counter(), time.process_time()
        result = step()
        print(f"{label}: {time.perf_counter() - wall:.2f} s (process CPU {time.process_time() - cpu:.2f} s)", flush=True)
        return result

    data = timed("load", lambda: recommendations.purchase_data_load(as_of=as_of))
    buyer_ids = list(BuyerRetention.objects.values_list("buyer_id", flat=True).order_by("buyer_id"))
    recommender = timed(
        "fit",
        lambda: recommendations.Recommender(lines=data.lines, follows=data.follows, listings=data.listings, buyer_ids=buyer_ids),
    )
    for _ in range(args.repeat):
        picks = timed(f"recommend {len(buyer_ids)} buyers", lambda: recommender.recommend(buyer_ids))
    with transaction.atomic():
        def store():
            for start in range(0, len(buyer_ids), 5000):
                block = buyer_ids[start : start + 5000]
                recommendations._store(block, [picks.get(b, ([], [])) for b in block])

        timed("store", store)
        transaction.set_rollback(True)
    if args.digest:
        text = repr(sorted(picks.items())).encode()
        print("lists digest:", hashlib.sha256(text).hexdigest())


if __name__ == "__main__":
    main()
