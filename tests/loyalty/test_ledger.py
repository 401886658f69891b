from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from buyers.factories import BuyerFactory
from core.factories import UserFactory
from core.models import OutboxMessage
from core import roles
from loyalty import services
from loyalty.factories import EarnLotFactory, EarningRuleFactory, RewardFactory
from loyalty.models import EntryKind, EntryState, PointsEntry, RuleKind, SourceType
from loyalty.selectors import ledger_verify, member_balance, points_accounting
from loyalty.tasks import engagement_points_task, order_points_sync_task, review_points_task
from marketplace.factories import EngagementEventFactory, OrderFactory, ReviewFactory
from marketplace.models import EngagementKind, Order, OrderStatus

pytestmark = pytest.mark.django_db


def _cs():
    return UserFactory(roles=[roles.CUSTOMER_SUCCESS])


def test_delivered_order_earns_pending_points_once_despite_retries(program, spend_rule):
    order = OrderFactory(total_amount=Decimal("42.50"))

    assert order_points_sync_task(order.pk) == "awarded"
    assert order_points_sync_task(order.pk) == "already_awarded"
    services.points_award_delivered_orders()  # the nightly catch-up must not award it again

    entries = PointsEntry.objects.filter(source_type=SourceType.ORDER, source_id=order.pk)
    assert [(e.amount, e.kind, e.state, e.rule_id) for e in entries] == [(42, "earn", "active", spend_rule.pk)]


def test_order_points_stay_pending_until_the_pending_period_ends(program, spend_rule):
    now = timezone.now()
    order = OrderFactory(total_amount=Decimal("30"), placed_at=now - timedelta(days=6))

    services.order_points_sync(order_id=order.pk, now=now)
    lot = PointsEntry.objects.get(source_id=order.pk)
    assert lot.state == EntryState.PENDING
    assert member_balance(buyer_id=order.buyer_id, now=now)["pending"] == 30
    assert member_balance(buyer_id=order.buyer_id, now=now)["active"] == 0

    assert services.points_activate_due(now=lot.available_at + timedelta(seconds=1)) == 1
    lot.refresh_from_db()
    assert lot.state == EntryState.ACTIVE


def test_unique_constraint_rejects_a_second_earn_for_the_same_source(program):
    lot = EarnLotFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        EarnLotFactory(buyer=lot.buyer, source_type=lot.source_type, source_id=lot.source_id)


def test_cancelled_order_reverses_its_points_once(program, spend_rule):
    now = timezone.now()
    order = OrderFactory(total_amount=Decimal("50"))
    services.order_points_sync(order_id=order.pk, now=now)
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.RETURNED, returned_at=order.delivered_at + timedelta(days=1))

    assert order_points_sync_task(order.pk) == "reversed"
    assert order_points_sync_task(order.pk) == "nothing_to_reverse"

    lot = PointsEntry.objects.get(source_id=order.pk, kind=EntryKind.EARN)
    reversal = PointsEntry.objects.get(source_id=order.pk, kind=EntryKind.REVERSE)
    assert lot.state == EntryState.CANCELLED and lot.remaining == 0
    assert reversal.amount == -50
    assert member_balance(buyer_id=order.buyer_id)["ledger_total"] == 0
    assert ledger_verify() == []


def test_reversal_claws_back_spent_points_from_other_lots_but_never_below_zero(program, spend_rule):
    order = OrderFactory(total_amount=Decimal("100"), placed_at=timezone.now() - timedelta(days=60))
    services.order_points_sync(order_id=order.pk)
    other = EarnLotFactory(buyer=order.buyer, amount=30)
    services.points_redeem(buyer_id=order.buyer_id, reward_id=RewardFactory(points_cost=90).pk)  # 90 of the 130

    Order.objects.filter(pk=order.pk).update(status=OrderStatus.RETURNED, returned_at=order.delivered_at + timedelta(days=1))
    services.order_points_sync(order_id=order.pk)

    reversal = PointsEntry.objects.get(source_id=order.pk, kind=EntryKind.REVERSE)
    assert reversal.amount == -40  # everything the member still had
    assert member_balance(buyer_id=order.buyer_id)["active"] == 0
    other.refresh_from_db()
    assert other.remaining == 0
    assert ledger_verify() == []


def test_cancelled_order_that_never_earned_changes_nothing(program, spend_rule):
    order = OrderFactory(status=OrderStatus.CANCELLED)
    assert services.order_points_sync(order_id=order.pk) == "nothing_to_reverse"
    assert PointsEntry.objects.count() == 0


def test_repeat_purchase_from_the_same_artisan_earns_its_own_bonus(program, spend_rule):
    EarningRuleFactory(kind=RuleKind.REPEAT_PURCHASE, points=Decimal("25"), name="Repeat bonus")
    first = OrderFactory(total_amount=Decimal("10"), placed_at=timezone.now() - timedelta(days=90))
    second = OrderFactory(buyer=first.buyer, seller=first.seller, total_amount=Decimal("10"))

    services.order_points_sync(order_id=first.pk)
    services.order_points_sync(order_id=second.pk)

    bonuses = PointsEntry.objects.filter(source_type=SourceType.REPEAT_PURCHASE)
    assert [(b.source_id, b.amount) for b in bonuses] == [(second.pk, 25)]


def test_engagement_and_review_points_are_awarded_once_per_source(program):
    EarningRuleFactory(kind=RuleKind.STORY_SHARE, points=Decimal("5"))
    EarningRuleFactory(kind=RuleKind.REVIEW, points=Decimal("20"))
    event = EngagementEventFactory(kind=EngagementKind.STORY_SHARE)
    login = EngagementEventFactory(kind=EngagementKind.LOGIN, buyer=event.buyer)
    review = ReviewFactory(buyer=event.buyer, order__buyer=event.buyer)

    assert engagement_points_task(event.pk) is True
    assert engagement_points_task(event.pk) is False
    assert engagement_points_task(login.pk) is False
    assert review_points_task(review.pk) is True
    assert review_points_task(review.pk) is False

    assert sorted(PointsEntry.objects.values_list("source_type", "amount")) == [("engagement", 5), ("review", 20)]


def test_redemption_spends_oldest_expiry_first(program):
    buyer = BuyerFactory()
    now = timezone.now()
    late = EarnLotFactory(buyer=buyer, amount=100, expires_at=now + timedelta(days=200))
    early = EarnLotFactory(buyer=buyer, amount=60, expires_at=now + timedelta(days=20))

    services.points_redeem(buyer_id=buyer.pk, reward_id=RewardFactory(points_cost=80).pk)

    early.refresh_from_db()
    late.refresh_from_db()
    assert (early.remaining, late.remaining) == (0, 80)
    assert member_balance(buyer_id=buyer.pk)["active"] == 80


def test_redeem_rejects_amount_above_balance_and_changes_nothing(program):
    lot = EarnLotFactory(amount=50)
    reward = RewardFactory(points_cost=80, stock=3)

    with pytest.raises(ValidationError) as err:
        services.points_redeem(buyer_id=lot.buyer_id, reward_id=reward.pk)

    assert "points" in err.value.message_dict
    reward.refresh_from_db()
    lot.refresh_from_db()
    assert (reward.stock, lot.remaining, PointsEntry.objects.count()) == (3, 50, 1)


def test_redemption_takes_stock_and_refuses_when_it_runs_out(program):
    lot = EarnLotFactory(amount=500)
    reward = RewardFactory(points_cost=100, stock=1)
    services.points_redeem(buyer_id=lot.buyer_id, reward_id=reward.pk)
    with pytest.raises(ValidationError, match="out of stock"):
        services.points_redeem(buyer_id=lot.buyer_id, reward_id=reward.pk)
    assert member_balance(buyer_id=lot.buyer_id)["active"] == 400


def test_adjustment_without_comment_is_rejected(program):
    buyer = BuyerFactory()
    with pytest.raises(ValidationError) as err:
        services.points_adjust(buyer_id=buyer.pk, amount=50, comment="  ", actor=_cs())
    assert "comment" in err.value.message_dict
    assert PointsEntry.objects.count() == 0


def test_negative_adjustment_cannot_overdraw(program):
    lot = EarnLotFactory(amount=30)
    with pytest.raises(ValidationError, match="active balance is 30"):
        services.points_adjust(buyer_id=lot.buyer_id, amount=-31, comment="goodwill error", actor=_cs())
    entry = services.points_adjust(buyer_id=lot.buyer_id, amount=-30, comment="goodwill error", actor=_cs())
    assert entry.amount == -30 and member_balance(buyer_id=lot.buyer_id)["active"] == 0


def test_expiry_sweeps_lots_and_accounts_for_every_point(program):
    now = timezone.now()
    buyer = BuyerFactory()
    old = EarnLotFactory(buyer=buyer, amount=70, expires_at=now - timedelta(days=1))
    fresh = EarnLotFactory(buyer=buyer, amount=40)
    services.points_redeem(buyer_id=buyer.pk, reward_id=RewardFactory(points_cost=10).pk, now=now - timedelta(days=2))

    assert services.points_expire_due(now=now) == 1
    assert services.points_expire_due(now=now) == 0

    old.refresh_from_db()
    assert (old.state, old.remaining) == (EntryState.EXPIRED, 0)
    assert PointsEntry.objects.get(kind=EntryKind.EXPIRE).amount == -60
    acct = points_accounting(buyer_id=buyer.pk)
    assert acct["earned"] == acct["active"] + acct["redeemed"] + acct["expired"] + acct["pending"] == 110
    assert (acct["active"], acct["redeemed"], acct["expired"]) == (40, 10, 60)
    fresh.refresh_from_db()
    assert fresh.remaining == 40


def test_expiry_reminder_is_sent_once_per_lot_with_amount_and_date(program):
    now = timezone.now()
    lot = EarnLotFactory(amount=75, expires_at=now + timedelta(days=10))
    EarnLotFactory(buyer=lot.buyer, amount=5, expires_at=now + timedelta(days=200))

    assert services.expiry_reminders_send(now=now) == 1
    assert services.expiry_reminders_send(now=now) == 0

    message = OutboxMessage.objects.get()
    assert message.to == lot.buyer.email
    assert "75 points" in message.subject and f"{lot.expires_at:%d %B %Y}" in message.subject
    assert message.dedupe_key == f"loyalty:expiry-reminder:{lot.pk}"


def test_expiry_reminders_of_a_buyer_range_leave_other_members_lots_for_their_own_chunk(program):
    from loyalty.pipeline import expiry_reminders_chunk

    now = timezone.now()
    inside, outside = (EarnLotFactory(amount=30, expires_at=now + timedelta(days=5)) for _ in range(2))
    first, last = sorted([inside.buyer_id, outside.buyer_id])
    inside, outside = (inside, outside) if inside.buyer_id == first else (outside, inside)

    assert expiry_reminders_chunk(lo=first, hi=first, as_of=now) == 1
    assert list(OutboxMessage.objects.values_list("to", flat=True)) == [inside.buyer.email]
    outside.refresh_from_db()
    assert outside.reminded_at is None
    assert expiry_reminders_chunk(lo=first, hi=last, as_of=now) == 1  # only the lot not yet reminded
    assert expiry_reminders_chunk(lo=first, hi=last, as_of=now) == 0
    assert OutboxMessage.objects.count() == 2


def test_end_of_year_expiry_policy(program, spend_rule):
    program.expiry_policy = "end_of_year"
    program.pending_days = 0
    program.save()
    order = OrderFactory(total_amount=Decimal("10"))
    services.order_points_sync(order_id=order.pk)
    lot = PointsEntry.objects.get()
    assert (lot.expires_at.year, lot.expires_at.month, lot.expires_at.day) == (order.delivered_at.year + 1, 1, 1)
