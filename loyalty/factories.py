from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from buyers.factories import BuyerFactory
from loyalty.models import (
    Badge,
    BadgeMetric,
    EarningRule,
    EntryKind,
    EntryState,
    PointsEntry,
    Reward,
    RuleKind,
    SourceType,
    Tier,
)


class TierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tier
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"tier{n}")
    name = factory.LazyAttribute(lambda t: t.code.title())
    rank = factory.Sequence(lambda n: n)
    threshold = factory.Sequence(lambda n: Decimal(n * 1000))
    multiplier = Decimal("1.00")


class EarningRuleFactory(factory.django.DjangoModelFactory):
    """One point per currency unit on delivered orders by default."""

    class Meta:
        model = EarningRule

    name = factory.Sequence(lambda n: f"Rule {n}")
    kind = RuleKind.SPEND
    points = Decimal("1.00")
    priority = 100


class EarnLotFactory(factory.django.DjangoModelFactory):
    """An active earn lot, as if a source had already been awarded."""

    class Meta:
        model = PointsEntry

    buyer = factory.SubFactory(BuyerFactory)
    amount = 100
    remaining = factory.SelfAttribute("amount")
    kind = EntryKind.EARN
    state = EntryState.ACTIVE
    source_type = SourceType.ENGAGEMENT
    source_id = factory.Sequence(lambda n: 10_000_000 + n)
    reason = "Test lot"
    occurred_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=1))
    available_at = factory.SelfAttribute("occurred_at")
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=300))
    created_at = factory.LazyFunction(timezone.now)


class RewardFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Reward

    name = factory.Sequence(lambda n: f"Reward {n}")
    points_cost = 100
    stock = None


class BadgeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Badge

    code = factory.Sequence(lambda n: f"badge-{n}")
    name = factory.Sequence(lambda n: f"Badge {n}")
    metric = BadgeMetric.ORDERS_SAME_ARTISAN
    threshold = 3
    window_days = 365
