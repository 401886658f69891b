from datetime import timedelta

from django.utils import timezone

from marketplace.factories import OrderFactory


def seller_order_history(seller, *, late=0, good=10):
    """``good`` orders shipped on time in the last month and ``late`` shipped five days late before it."""
    for i in range(good):
        OrderFactory(seller=seller, placed_at=timezone.now() - timedelta(days=20 + i))
    for i in range(late):
        order = OrderFactory(seller=seller, placed_at=timezone.now() - timedelta(days=40 + i))
        order.shipped_at = order.ship_by + timedelta(days=5)
        order.delivered_at = order.shipped_at + timedelta(days=2)
        order.save()
