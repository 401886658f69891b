from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from buyers.factories import RetentionSettingsFactory
from buyers.models import InterventionArm, InterventionAssignment
from casework.models import Case, CaseKind, Team
from core.messaging import contact_mark_bounced
from core.models import OutboxMessage, SuppressedReason
from core.schedule import collect_beat_schedule
from marketplace.factories import OrderFactory
from retention.late_orders import late_order_outreach_run, late_order_policy_get, late_orders_notify
from marketplace.models import LateOrderNotice, OrderStatus
from sellers.factories import SellerFactory

pytestmark = pytest.mark.django_db
NOW = timezone.now().replace(microsecond=0)


def _late(**kw):
    placed = NOW - timedelta(days=5)
    return OrderFactory(status=OrderStatus.PLACED, placed_at=placed, ship_by=NOW - timedelta(days=1), **kw)


def test_a_buyer_whose_order_passed_its_ship_by_date_gets_one_status_message():
    RetentionSettingsFactory(holdout_share=0)
    order = _late()

    first = late_orders_notify(now=NOW)
    second = late_orders_notify(now=NOW + timedelta(hours=1))

    message = OutboxMessage.objects.get(category="late_order_status")
    assert (first["messaged"], second["late"]) == (1, 0)
    assert message.to == order.buyer.email and order.external_id in message.body and order.seller.name in message.body
    notice = LateOrderNotice.objects.get()
    assert (notice.order, notice.arm, notice.message) == (order, InterventionArm.TREATED, message)
    assert InterventionAssignment.objects.get(kind="late_order_status").buyer == order.buyer


def test_a_held_out_buyer_is_recorded_but_not_messaged():
    RetentionSettingsFactory(holdout_share=0.999)
    _late()

    result = late_orders_notify(now=NOW)

    assert result == {"late": 1, "messaged": 0, "held_out": 1}
    assert not OutboxMessage.objects.exists()
    assert LateOrderNotice.objects.get().arm == InterventionArm.HOLDOUT


def test_shipped_cancelled_and_within_grace_orders_are_left_alone():
    RetentionSettingsFactory(holdout_share=0)
    OrderFactory(status=OrderStatus.SHIPPED, placed_at=NOW - timedelta(days=5), ship_by=NOW - timedelta(days=1))
    OrderFactory(status=OrderStatus.CANCELLED, placed_at=NOW - timedelta(days=5), ship_by=NOW - timedelta(days=1))
    OrderFactory(status=OrderStatus.PLACED, placed_at=NOW - timedelta(days=2), ship_by=NOW - timedelta(hours=2))

    assert late_orders_notify(now=NOW)["late"] == 0


def test_the_status_message_goes_through_the_outbound_policy():
    RetentionSettingsFactory(holdout_share=0)
    order = _late()
    contact_mark_bounced(address=order.buyer.email)

    late_orders_notify(now=NOW)

    assert OutboxMessage.objects.get(category="late_order_status").suppressed_reason == SuppressedReason.HARD_BOUNCE


def test_an_artisan_whose_late_rate_crosses_the_admin_threshold_gets_a_coaching_case():
    RetentionSettingsFactory(holdout_share=0)
    policy = late_order_policy_get()
    policy.artisan_late_rate, policy.artisan_min_orders = Decimal("30"), 4
    policy.save()
    slow, steady = SellerFactory(name="Slow Kiln"), SellerFactory(name="Steady Loom")
    for i in range(4):
        placed = NOW - timedelta(days=10 + i)
        OrderFactory(seller=slow, status=OrderStatus.DELIVERED, placed_at=placed, ship_by=placed + timedelta(days=2),
                     shipped_at=placed + timedelta(days=4 if i < 2 else 1))
        OrderFactory(seller=steady, status=OrderStatus.DELIVERED, placed_at=placed, ship_by=placed + timedelta(days=2),
                     shipped_at=placed + timedelta(days=4 if i < 1 else 1))

    result = late_order_outreach_run(now=NOW)

    case = Case.objects.get(kind=CaseKind.SELLER_LATE_SHIPMENTS)
    assert case.seller == slow and case.team == Team.SELLER_SUPPORT
    assert case.evidence["rate"] == 50.0 and "50.0%" in case.reason
    assert result["artisans"]["cases_opened"] == 1


def test_the_outreach_runs_hourly_from_beat_on_a_queue_the_worker_consumes(settings):
    entry = collect_beat_schedule()["marketplace-late-order-outreach"]

    assert entry["task"] == "marketplace.late_order_outreach"
    assert settings.CELERY_TASK_ROUTES["marketplace.late_order_outreach"] == {"queue": "recompute"}
