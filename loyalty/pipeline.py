"""Hooks for the nightly pipeline (workflows/pipeline.py). Every function is idempotent.

Register, in dependency order (badges need nothing the award writes, so they may share its level):

    Stage(name="loyalty_award_orders", level=0, keys="marketplace.Order", chunk=award_orders_chunk)
    Stage(name="loyalty_badges", level=0, finalize=badges_finalize)
    Stage(name="loyalty_lots", level=1, finalize=lots_finalize)
    Stage(name="loyalty_tiers", level=2, keys="buyers.Buyer", chunk=tiers_chunk)
    Stage(name="loyalty_expiry_reminders", level=3, keys="buyers.Buyer", chunk=expiry_reminders_chunk)
"""

from datetime import datetime

from core.statistics import statistics_refresh, statistics_refresh_if_stale
from loyalty import badges, services, tiers
from loyalty.models import PointsEntry

# What the award reads from the ledger it is filling: the orders already judged (by source) and
# the cap usage of earlier lots (by member, rule and time). Its text and JSON columns are
# most of an ANALYZE's cost and none of the award's plans.
AWARD_READ_COLUMNS = ("buyer_id", "rule_id", "occurred_at", "kind", "state", "source_type", "source_id")


def award_orders_chunk(*, lo: int, hi: int, as_of: datetime) -> int:
    """Delivered orders with ids in [lo, hi] that have not earned yet (the unique source makes reruns no-ops)."""
    # Each chunk reads the lots earlier chunks wrote (cap usage): plan that with the ledger as it is now.
    statistics_refresh_if_stale(PointsEntry, columns=AWARD_READ_COLUMNS)
    created, after = 0, lo - 1
    while True:
        n, last = services.points_award_delivered_orders(after_id=after, up_to_id=hi, now=as_of)
        if last is None:
            return created
        created, after = created + n, last


def lots_finalize(*, as_of: datetime) -> int:
    # The award stage may just have written millions of lots; plan what follows with fresh statistics.
    statistics_refresh(PointsEntry)
    services.points_activate_due(now=as_of)
    expired = 0
    while handled := services.points_expire_due(now=as_of):
        expired += handled
    return expired


def expiry_reminders_chunk(*, lo: int, hi: int, as_of: datetime) -> int:
    """Expiry reminders for the lots of buyers with ids in [lo, hi], after the night's
    activations and expiries (``lots_finalize``) and tiers (the rewards offered depend on them)."""
    sent = 0
    while handled := services.expiry_reminders_send(now=as_of, buyer_range=(lo, hi)):
        sent += handled
    return sent


def tiers_chunk(*, lo: int, hi: int, as_of: datetime) -> int:
    # The key range itself, not the list of its ids: every query is bounded by two values.
    return tiers.tiers_recompute(id_range=(lo, hi), now=as_of)["changed"]


def badges_finalize(*, as_of: datetime) -> int:
    return sum(badges.badges_evaluate(now=as_of).values())
