"""Ledger invariants, checked after every step of random earn / redeem / expire / reverse sequences."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from buyers.factories import BuyerFactory
from core import roles
from core.factories import UserFactory
from loyalty import services
from loyalty.factories import EarnLotFactory, RewardFactory
from loyalty.models import EntryKind, LoyaltyProgram, PointsEntry, SourceType
from loyalty.selectors import ledger_verify, member_balance, points_accounting

pytestmark = pytest.mark.django_db

operations = st.lists(
    st.one_of(
        st.tuples(st.just("earn"), st.integers(1, 200), st.integers(1, 60)),
        st.tuples(st.just("redeem"), st.integers(1, 250), st.just(0)),
        st.tuples(st.just("expire"), st.integers(1, 40), st.just(0)),
        st.tuples(st.just("reverse"), st.integers(0, 30), st.just(0)),
        st.tuples(st.just("deduct"), st.integers(1, 100), st.just(0)),
    ),
    min_size=1,
    max_size=25,
)


def assert_invariants(buyer_id):
    # Balance equals the ledger, every cached lot balance is proven, nothing is negative.
    assert ledger_verify(buyer_ids=[buyer_id]) == []
    balance = member_balance(buyer_id=buyer_id)
    assert balance["ledger_total"] >= 0
    assert balance["active"] >= 0 and balance["pending"] >= 0
    # No source was awarded (or reversed) twice.
    dupes = (
        PointsEntry.objects.filter(kind__in=[EntryKind.EARN, EntryKind.REVERSE], source_id__isnull=False)
        .values("source_type", "source_id", "kind")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    assert not dupes.exists()
    # Every point earned is pending, active, redeemed, expired, reversed or deducted.
    acct = points_accounting(buyer_id=buyer_id)
    assert acct["earned"] == (
        acct["pending"] + acct["active"] + acct["redeemed"] + acct["expired"] + acct["reversed"] + acct["deducted"]
    )
    assert acct["pending"] + acct["active"] == balance["ledger_total"]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations)
def test_random_sequences_keep_the_ledger_consistent(db, ops):
    with transaction.atomic():
        LoyaltyProgram.objects.get_or_create(pk=1)
        buyer = BuyerFactory()
        staff = UserFactory(roles=[roles.CUSTOMER_SUCCESS])
        clock = timezone.now()
        earned_sources = []
        for op, a, b in ops:
            if op == "earn":
                lot = EarnLotFactory(
                    buyer=buyer, amount=a, occurred_at=clock, created_at=clock, expires_at=clock + timedelta(days=b)
                )
                earned_sources.append(lot.source_id)
            elif op == "redeem":
                available = member_balance(buyer_id=buyer.pk, now=clock)["active"]
                reward = RewardFactory(points_cost=a)
                if a > available:
                    with pytest.raises(ValidationError):
                        services.points_redeem(buyer_id=buyer.pk, reward_id=reward.pk, now=clock)
                    assert member_balance(buyer_id=buyer.pk, now=clock)["active"] == available
                else:
                    services.points_redeem(buyer_id=buyer.pk, reward_id=reward.pk, now=clock)
                    assert member_balance(buyer_id=buyer.pk, now=clock)["active"] == available - a
            elif op == "expire":
                clock += timedelta(days=a)
                while services.points_expire_due(now=clock):
                    pass
            elif op == "reverse" and earned_sources:
                source_id = earned_sources[a % len(earned_sources)]
                before = member_balance(buyer_id=buyer.pk, now=clock)["ledger_total"]
                services.points_reverse_source(source_type=SourceType.ENGAGEMENT, source_id=source_id, reason="test", now=clock)
                services.points_reverse_source(source_type=SourceType.ENGAGEMENT, source_id=source_id, reason="test", now=clock)
                assert member_balance(buyer_id=buyer.pk, now=clock)["ledger_total"] <= before
            elif op == "deduct":
                available = member_balance(buyer_id=buyer.pk, now=clock)["active"]
                if a > available:
                    with pytest.raises(ValidationError):
                        services.points_adjust(buyer_id=buyer.pk, amount=-a, comment="fix", actor=staff, now=clock)
                else:
                    services.points_adjust(buyer_id=buyer.pk, amount=-a, comment="fix", actor=staff, now=clock)
            assert_invariants(buyer.pk)
        transaction.set_rollback(True)


def test_duplicate_award_of_a_source_is_ignored_by_bulk_insert(program):
    from loyalty.rules import Action

    buyer = BuyerFactory()
    action = Action(source_type=SourceType.BADGE, source_id=7, buyer_id=buyer.pk, kind=None, fixed_points=50,
                    occurred_at=timezone.now(), reason="Badge")
    services.points_award_fixed(actions=[action])
    services.points_award_fixed(actions=[action, action])
    assert PointsEntry.objects.filter(source_type=SourceType.BADGE, source_id=7).count() == 1
    assert member_balance(buyer_id=buyer.pk)["active"] == 50
