from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from buyers.factories import BuyerFactory
from marketplace.models import (
    EngagementEvent,
    EngagementKind,
    Order,
    OrderLine,
    OrderStatus,
    Return,
    ReturnReason,
    Review,
)
from sellers.factories import ListingFactory, SellerFactory


class OrderFactory(factory.django.DjangoModelFactory):
    """A delivered order by default; pass status=... with the matching times for others."""

    class Meta:
        model = Order

    external_id = factory.Sequence(lambda n: f"O{n:08d}")
    buyer = factory.SubFactory(BuyerFactory)
    seller = factory.SubFactory(SellerFactory)
    status = OrderStatus.DELIVERED
    total_amount = Decimal("40.00")
    placed_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=30))
    ship_by = factory.LazyAttribute(lambda o: o.placed_at + timedelta(days=3))
    shipped_at = factory.LazyAttribute(
        lambda o: o.placed_at + timedelta(days=2)
        if o.status in (OrderStatus.SHIPPED, OrderStatus.DELIVERED, OrderStatus.RETURNED)
        else None
    )
    delivered_at = factory.LazyAttribute(
        lambda o: o.shipped_at + timedelta(days=3) if o.status in (OrderStatus.DELIVERED, OrderStatus.RETURNED) else None
    )
    cancelled_at = factory.LazyAttribute(lambda o: o.placed_at + timedelta(days=1) if o.status == OrderStatus.CANCELLED else None)
    cancel_reason = factory.LazyAttribute(lambda o: "buyer_request" if o.status == OrderStatus.CANCELLED else "")
    returned_at = factory.LazyAttribute(lambda o: o.delivered_at + timedelta(days=5) if o.status == OrderStatus.RETURNED else None)


class OrderLineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OrderLine

    order = factory.SubFactory(OrderFactory)
    listing = factory.SubFactory(ListingFactory, seller=factory.SelfAttribute("..order.seller"))
    quantity = 1
    unit_price = factory.LazyAttribute(lambda line: line.listing.price)


class ReturnFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Return

    order = factory.SubFactory(OrderFactory, status=OrderStatus.RETURNED)
    reason = ReturnReason.DAMAGED
    refund_amount = factory.LazyAttribute(lambda r: r.order.total_amount)
    created_at = factory.LazyAttribute(lambda r: r.order.returned_at or timezone.now())


class ReviewFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Review

    external_id = factory.Sequence(lambda n: f"R{n:08d}")
    order = factory.SubFactory(OrderFactory)
    buyer = factory.SelfAttribute("order.buyer")
    seller = factory.SelfAttribute("order.seller")
    rating = 5
    text = "Beautiful work, arrived quickly."
    created_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=10))
    updated_at = factory.SelfAttribute("created_at")


class EngagementEventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EngagementEvent

    buyer = factory.SubFactory(BuyerFactory)
    seller = None
    kind = EngagementKind.LOGIN
    occurred_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=1))
