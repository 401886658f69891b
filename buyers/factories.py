from datetime import timedelta

import factory
from django.utils import timezone

from buyers.models import Buyer, BuyerRetention, CampaignAudience, RetentionSettings, Segment


class BuyerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Buyer

    external_id = factory.Sequence(lambda n: f"B{n:07d}")
    name = factory.Sequence(lambda n: f"Buyer {n}")
    email = factory.LazyAttribute(lambda b: f"{b.external_id.lower()}@buyers.example")
    joined_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=500))


class BuyerRetentionFactory(factory.django.DjangoModelFactory):
    """A buyer's retention row; pass segment=... for the segment under test."""

    class Meta:
        model = BuyerRetention

    buyer = factory.SubFactory(BuyerFactory)
    computed_at = factory.LazyFunction(timezone.now)
    order_count = 1
    segment = Segment.NEW
    segment_since = factory.LazyFunction(timezone.now)
    p_alive = 1.0


class RetentionSettingsFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RetentionSettings
        django_get_or_create = ("id",)

    id = 1


class CampaignAudienceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CampaignAudience

    name = factory.Sequence(lambda n: f"Audience {n}")
    segments = factory.LazyFunction(lambda: [Segment.LAPSING])


class InterventionAssignmentFactory(factory.django.DjangoModelFactory):
    """A buyer flagged 100 days ago whose 90-day outcome window has closed."""

    class Meta:
        model = "buyers.InterventionAssignment"

    kind = "buyer_churn_risk"
    buyer = factory.SubFactory(BuyerFactory)
    arm = "treated"
    flagged_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=100))
    window_ends_at = factory.LazyAttribute(lambda a: a.flagged_at + timedelta(days=90))
    evidence = factory.LazyFunction(dict)
