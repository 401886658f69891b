"""Races against a real PostgreSQL: parallel redemptions and duplicate award workers."""

import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, connections

from buyers.factories import BuyerFactory
from loyalty import services
from loyalty.factories import EarnLotFactory, EarningRuleFactory, RewardFactory
from loyalty.models import LoyaltyProgram, PointsEntry, Redemption
from loyalty.selectors import ledger_verify, member_balance
from marketplace.factories import OrderFactory

pytestmark = [
    # Flushing only these apps' tables keeps teardown short.
    pytest.mark.django_db(
        transaction=True,
        available_apps=["django.contrib.auth", "django.contrib.contenttypes", "core", "buyers", "sellers", "marketplace", "loyalty"],
    ),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks"),
]


def _run_parallel(n, fn):
    barrier = threading.Barrier(n)
    outcomes = []
    lock = threading.Lock()

    def worker(i):
        try:
            barrier.wait()
            result = fn(i)
            with lock:
                outcomes.append(("ok", result))
        except ValidationError as exc:
            with lock:
                outcomes.append(("rejected", exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return outcomes


def test_parallel_redemptions_never_overdraw():
    LoyaltyProgram.objects.get_or_create(pk=1)
    buyer = BuyerFactory()
    EarnLotFactory(buyer=buyer, amount=60)
    EarnLotFactory(buyer=buyer, amount=50)
    reward = RewardFactory(points_cost=30)

    outcomes = _run_parallel(8, lambda i: services.points_redeem(buyer_id=buyer.pk, reward_id=reward.pk).pk)

    assert len(outcomes) == 8
    assert sum(1 for kind, _ in outcomes if kind == "ok") == 3  # 110 points buy exactly three 30-point rewards
    assert Redemption.objects.filter(buyer=buyer).count() == 3
    assert member_balance(buyer_id=buyer.pk)["active"] == 20
    assert ledger_verify() == []


def test_parallel_redemptions_of_the_last_unit_sell_it_once():
    LoyaltyProgram.objects.get_or_create(pk=1)
    reward = RewardFactory(points_cost=10, stock=1)
    buyers = [BuyerFactory() for _ in range(4)]
    for buyer in buyers:
        EarnLotFactory(buyer=buyer, amount=10)

    outcomes = _run_parallel(4, lambda i: services.points_redeem(buyer_id=buyers[i].pk, reward_id=reward.pk).pk)

    assert sum(1 for kind, _ in outcomes if kind == "ok") == 1
    reward.refresh_from_db()
    assert reward.stock == 0
    assert sum(member_balance(buyer_id=b.pk)["active"] for b in buyers) == 30


def test_two_workers_syncing_the_same_order_award_it_once():
    LoyaltyProgram.objects.get_or_create(pk=1)
    EarningRuleFactory()
    order = OrderFactory(total_amount=Decimal("80"))

    outcomes = _run_parallel(6, lambda i: services.order_points_sync(order_id=order.pk))

    assert sorted(r for _, r in outcomes).count("awarded") == 1
    assert PointsEntry.objects.filter(source_id=order.pk).count() == 1


def test_reversal_racing_a_redemption_neither_deadlocks_nor_overdraws():
    LoyaltyProgram.objects.get_or_create(pk=1)
    buyer = BuyerFactory()
    order_lot = EarnLotFactory(buyer=buyer, amount=100, source_type="order")
    EarnLotFactory(buyer=buyer, amount=50)
    reward = RewardFactory(points_cost=120)

    def work(i):
        if i == 0:
            return services.points_reverse_source(source_type="order", source_id=order_lot.source_id, reason="returned")
        return services.points_redeem(buyer_id=buyer.pk, reward_id=reward.pk).pk

    outcomes = _run_parallel(2, work)

    assert len(outcomes) == 2
    assert ledger_verify() == []
    balance = member_balance(buyer_id=buyer.pk)
    redeemed = Redemption.objects.filter(buyer=buyer).count()
    # Either the redemption went first (150 - 120, then the reversal claws back the 30 left)
    # or the reversal did (50 left, the redemption is refused): never below zero.
    assert (redeemed, balance["active"]) in {(1, 0), (0, 50)}
