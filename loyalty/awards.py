"""The ingestion awards for a set of subjects at once: what ``order_points_sync``,
``engagement_points`` and ``review_points`` (loyalty/services.py) do for one subject each.

A bulk sync of the storefront touches hundreds of orders, reviews and engagement events; its
reactions arrive in sets (integrations/reactions.py), and pricing them one subject at a time cost
a transaction, an account lock and a rule-book load per subject. Here a set is one transaction:
the members' accounts are locked in buyer order (so two sets cannot deadlock each other), the
subjects already awarded are read in one query and left out, and the rest are priced together
(loyalty/pricing.py prices a set as the rule book would price its actions one by one in time
order, caps included). Running a set twice awards nothing the second time.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from loyalty.models import EntryKind, PointsEntry, SourceType
from loyalty.services import (
    ENGAGEMENT_RULE_KIND,
    ORDER_FIELDS,
    _accounts_lock,
    _award,
    _engagement_actions,
    _order_actions,
    _order_points_reverse,
    _review_actions,
    orders_judged,
)
from marketplace.models import EngagementEvent, Order, OrderStatus, Review


def _earned(source_type: str, source_ids: list[int]) -> set[int]:
    return set(
        PointsEntry.objects.filter(source_type=source_type, source_id__in=source_ids, kind=EntryKind.EARN)
        .values_list("source_id", flat=True)
    )


@transaction.atomic
def order_points_sync_many(*, order_ids: list[int], now: datetime | None = None) -> dict[str, int]:
    """Delivered orders earn their pending points once; cancelled or returned ones have them
    reversed once. Unknown ids are skipped. Returns how many orders were awarded and reversed."""
    now = now or timezone.now()
    orders = list(Order.objects.filter(pk__in=list(order_ids)).order_by("pk").values("status", *ORDER_FIELDS))
    _accounts_lock(o["buyer_id"] for o in orders)
    reversed_count = sum(
        _order_points_reverse(order, now=now)
        for order in orders
        if order["status"] in (OrderStatus.CANCELLED, OrderStatus.RETURNED)
    )
    delivered = [o for o in orders if o["status"] == OrderStatus.DELIVERED and o["delivered_at"]]
    judged = orders_judged([o["id"] for o in delivered])
    fresh = [o for o in delivered if o["id"] not in judged]
    _award(_order_actions(fresh), now=now)
    awarded = len(orders_judged([o["id"] for o in fresh]))
    return {"awarded": awarded, "reversed": reversed_count}


@transaction.atomic
def engagement_points_many(*, event_ids: list[int], now: datetime | None = None) -> int:
    """Points for the engagement events a rule rewards, once per event. Returns lots written."""
    now = now or timezone.now()
    events = list(
        EngagementEvent.objects.filter(
            pk__in=list(event_ids), buyer_id__isnull=False, kind__in=list(ENGAGEMENT_RULE_KIND)
        ).order_by("pk").values("id", "buyer_id", "kind", "occurred_at", "target_seller_id", "target_seller__craft_category")
    )
    _accounts_lock(e["buyer_id"] for e in events)
    done = _earned(SourceType.ENGAGEMENT, [e["id"] for e in events])
    return _award(_engagement_actions([e for e in events if e["id"] not in done]), now=now)


@transaction.atomic
def review_points_many(*, review_ids: list[int], now: datetime | None = None) -> int:
    """Points for written reviews, once per review. Returns lots written."""
    now = now or timezone.now()
    reviews = list(
        Review.objects.filter(pk__in=list(review_ids)).order_by("pk")
        .values("id", "buyer_id", "seller_id", "seller__craft_category", "created_at")
    )
    _accounts_lock(r["buyer_id"] for r in reviews)
    done = _earned(SourceType.REVIEW, [r["id"] for r in reviews])
    return _award(_review_actions([r for r in reviews if r["id"] not in done]), now=now)
