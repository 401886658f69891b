"""Benchmark: what the outbound policy costs when the nightly expiry reminders are queued.

    .venv/bin/python bench/outbox_policy.py --members 5000

The script builds its own SQLite file (var/bench-outbox-policy.sqlite3, recreated each run): N
members with one lot each expiring in 10 days, 3 delivered orders, and 12 rewards. A tenth of them
have muted loyalty mail. It then measures, with the same rows:

1. baseline: the reminders as Kiln queued them before the policy, with one fixed subject and body
   per lot, bulk-inserted straight into the outbox;
2. policy: ``loyalty.services.expiry_reminders_send`` in chunks of 500, queueing only (the
   delivery tasks are not run; sending costs the same with or without the policy). This renders each
   reminder with the member's context and reward recommendations, checks preferences and caps,
   and signs the unsubscribe links.

It prints seconds, SQL statements and the per-message cost of both, and how many reminders were
suppressed, with their reasons.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB = ROOT / "var" / "bench-outbox-policy.sqlite3"
os.environ["DATABASE_URL"] = f"sqlite:///{DB}"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

import django  # noqa: E402


def build(n: int):
    from django.utils import timezone

    from buyers.models import Buyer
    from core.models import ContactPreference
    from loyalty.models import EntryKind, EntryState, PointsEntry, Reward, SourceType
    from marketplace.models import Order, OrderStatus
    from sellers.models import Seller

    now = timezone.now()
    sellers = Seller.objects.bulk_create(
        [Seller(external_id=f"S{i}", name=f"Artisan {i}", email=f"s{i}@bench.example", craft_category="ceramics",
                onboarding_status="approved", applied_at=now - timedelta(days=400)) for i in range(50)]
    )
    Reward.objects.bulk_create([Reward(name=f"Reward {i}", points_cost=50 * (i + 1), category="ceramics") for i in range(12)])
    buyers = Buyer.objects.bulk_create(
        [Buyer(external_id=f"B{i}", name=f"Member {i}", email=f"m{i}@bench.example", joined_at=now - timedelta(days=500)) for i in range(n)]
    )
    Order.objects.bulk_create(
        [
            Order(external_id=f"O{b.pk}-{k}", buyer=b, seller=sellers[(b.pk + k) % 50], status=OrderStatus.DELIVERED, total_amount=40,
                  placed_at=now - timedelta(days=30 + k), ship_by=now - timedelta(days=27 + k), shipped_at=now - timedelta(days=28 + k),
                  delivered_at=now - timedelta(days=25 + k))
            for b in buyers for k in range(3)
        ],
        batch_size=2000,
    )
    PointsEntry.objects.bulk_create(
        [
            PointsEntry(buyer=b, amount=420, remaining=420, kind=EntryKind.EARN, state=EntryState.ACTIVE, source_type=SourceType.ENGAGEMENT,
                        source_id=b.pk, reason="bench", occurred_at=now - timedelta(days=300), available_at=now - timedelta(days=300),
                        expires_at=now + timedelta(days=10), created_at=now)
            for b in buyers
        ],
        batch_size=2000,
    )
    ContactPreference.objects.bulk_create([ContactPreference(address=b.email, muted_topics=["loyalty"]) for b in buyers[::10]])
    return now


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=5000)
    args = parser.parse_args()
    DB.parent.mkdir(exist_ok=True)
    if DB.exists():
        DB.unlink()
    django.setup()
    from django.core.management import call_command
    from django.db import transaction
    from django.db.models import Count

    from bench.measure import measured
    from core.models import OutboxMessage
    from loyalty.models import PointsEntry
    from loyalty.services import expiry_reminders_send

    call_command("migrate", verbosity=0)
    now = build(args.members)
    lots = list(PointsEntry.objects.select_related("buyer").order_by("pk"))
    with measured() as baseline, transaction.atomic():
        OutboxMessage.objects.bulk_create(
            [
                OutboxMessage(dedupe_key=f"baseline:{lot.pk}", to=lot.buyer.email, subject=f"{lot.remaining} points expire",
                              body=f"Hello {lot.buyer.name}, ...", category="baseline")
                for lot in lots
            ],
            batch_size=1000,
        )
        transaction.set_rollback(True)
    # Queueing only: delivery (one task per message) is the same with or without the policy.
    from unittest import mock

    with measured() as policy, mock.patch("core.tasks.outbox_deliver_batch_task.apply_async"):
        sent = 0
        while True:
            handled = expiry_reminders_send(now=now)
            sent += handled
            if handled == 0:
                break
    reasons = dict(
        OutboxMessage.objects.filter(category="loyalty_expiry_reminder").values_list("status", "suppressed_reason")
        .annotate(n=Count("id")).values_list("suppressed_reason", "n")
    )
    result = {
        "members": args.members,
        "baseline": {**baseline, "ms_per_message": round(1000 * baseline["seconds"] / args.members, 3)},
        "policy": {**policy, "ms_per_message": round(1000 * policy["seconds"] / args.members, 3), "reminders": sent},
        "outcome": {reason or "queued": n for reason, n in reasons.items()},
        "sample_body": OutboxMessage.objects.filter(category="loyalty_expiry_reminder", suppressed_reason="").first().body,
    }
    print(json.dumps(result, indent=2))
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "outbox_policy.json").write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
