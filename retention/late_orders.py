"""Late-order outreach: a status message to the buyer, coaching for artisans who ship late.

Seed 000: churn "stemmed from perceived delays in shipping updates"; automated status
notifications plus artisan coaching lifted repeat purchase from 20% to 34%. Both plays are
randomised with holdouts (retention.interventions) so Kiln can measure its own lift:

* buyer play (intervention kind ``late_order_status``): each order still unshipped
  ``grace_hours`` after its ship-by date is noticed once (LateOrderNotice). Its buyer's arm
  is drawn; treated buyers get a status message through the outbox (and so through the
  outbound policy: it is an essential "orders" message), held-out buyers get nothing.
* artisan play (case kind ``seller_late_shipments``): an artisan whose late rate over the
  window (orders due in it that shipped after ship-by, or are still unshipped past it, over
  all orders due in it, cancelled ones excluded) reaches the admin-set threshold, on at least
  ``artisan_min_orders`` orders, is flagged; treated artisans get a seller-support coaching
  case, held-out ones none.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Count, F, Q
from django.utils import timezone

from retention.interventions import Flag, interventions_assign, interventions_open
from buyers.models import InterventionArm
from casework.models import CaseKind
from core.outbox import outbox_enqueue
from marketplace.models import LateOrderNotice, LateOrderPolicy, Order, OrderStatus

BUYER_KIND = "late_order_status"
BATCH = 2000


def late_order_policy_get() -> LateOrderPolicy:
    policy, _ = LateOrderPolicy.objects.get_or_create(pk=1)
    return policy


def late_orders_unnoticed(*, now: datetime, policy: LateOrderPolicy):
    """Orders past ship-by (plus grace), still unshipped, not noticed before. Set-based."""
    cutoff = now - timedelta(hours=policy.grace_hours)
    return (
        Order.objects.filter(
            status=OrderStatus.PLACED, shipped_at__isnull=True, ship_by__lt=cutoff,
            ship_by__gte=now - timedelta(days=policy.lookback_days),
        )
        .filter(late_notice__isnull=True)
        .order_by("ship_by", "pk")
    )


def late_orders_notify(*, now: datetime | None = None) -> dict:
    """Notice each newly late order once; message treated buyers. Idempotent: re-runs skip noticed orders."""
    now = now or timezone.now()
    policy = late_order_policy_get()
    orders = list(late_orders_unnoticed(now=now, policy=policy).select_related("buyer", "seller")[:BATCH])
    if not orders:
        return {"late": 0, "messaged": 0, "held_out": 0}
    flags = {
        o.buyer_id: Flag(subject_id=o.buyer_id, reason="Order past its ship-by date", evidence={"order_id": o.pk, "ship_by": o.ship_by.isoformat()})
        for o in orders
    }
    messaged = held = 0
    with transaction.atomic():
        arms = interventions_assign(kind=BUYER_KIND, subject="buyer", flags=list(flags.values()), as_of=now)
        notices = []
        for order in orders:
            arm = arms.get(order.buyer_id, InterventionArm.TREATED)
            message = None
            if arm == InterventionArm.TREATED:
                message, _ = outbox_enqueue(
                    dedupe_key=f"marketplace:late-order:{order.pk}",
                    to=order.buyer.email,
                    category="late_order_status",
                    context={"order_ref": order.external_id, "artisan": order.seller.name, "ship_by": f"{order.ship_by:%d %B}"},
                )
                messaged += 1
            else:
                held += 1
            notices.append(LateOrderNotice(order=order, buyer_id=order.buyer_id, seller_id=order.seller_id, arm=arm, detected_at=now, message=message))
        # A concurrent run noticing the same order loses on the unique order and skips it.
        LateOrderNotice.objects.bulk_create(notices, ignore_conflicts=True)
    return {"late": len(orders), "messaged": messaged, "held_out": held}


def artisan_late_rates(*, now: datetime | None = None, policy: LateOrderPolicy | None = None) -> list[dict]:
    """Per artisan over the window: orders due, late ones, the rate in percent. One aggregate query."""
    now = now or timezone.now()
    policy = policy or late_order_policy_get()
    due = Order.objects.filter(ship_by__gte=now - timedelta(days=policy.artisan_window_days), ship_by__lt=now).exclude(
        status=OrderStatus.CANCELLED
    )
    late = Q(shipped_at__gt=F("ship_by")) | Q(shipped_at__isnull=True)
    rows = due.values("seller_id", "seller__name").annotate(orders=Count("id"), late=Count("id", filter=late)).order_by("seller_id")
    return [
        {**r, "rate": round(100 * r["late"] / r["orders"], 1)} for r in rows if r["orders"]
    ]


def late_artisan_flags(*, now: datetime | None = None) -> list[Flag]:
    now = now or timezone.now()
    policy = late_order_policy_get()
    threshold = float(policy.artisan_late_rate)
    flags = []
    for row in artisan_late_rates(now=now, policy=policy):
        if row["orders"] >= policy.artisan_min_orders and row["rate"] >= threshold:
            flags.append(
                Flag(
                    subject_id=row["seller_id"],
                    reason=(
                        f"{row['late']} of {row['orders']} orders due in the last {policy.artisan_window_days} days shipped late "
                        f"or not at all ({row['rate']}%, threshold {threshold:g}%). Coach on lead times and shipping updates."
                    ),
                    evidence={"orders": row["orders"], "late": row["late"], "rate": row["rate"], "threshold": threshold,
                              "window_days": policy.artisan_window_days},
                )
            )
    return flags


def late_artisans_coach(*, now: datetime | None = None) -> dict:
    return interventions_open(kind=CaseKind.SELLER_LATE_SHIPMENTS, subject="seller", flags=late_artisan_flags(now=now), as_of=now)


def late_order_outreach_run(*, now: datetime | None = None) -> dict:
    """The periodic entry point: buyers first, then artisans."""
    now = now or timezone.now()
    return {"buyers": late_orders_notify(now=now), "artisans": late_artisans_coach(now=now)}
