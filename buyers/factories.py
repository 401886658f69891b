from datetime import timedelta

import factory
from django.utils import timezone

from buyers.models import Buyer


class BuyerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Buyer

    external_id = factory.Sequence(lambda n: f"B{n:07d}")
    name = factory.Sequence(lambda n: f"Buyer {n}")
    email = factory.LazyAttribute(lambda b: f"{b.external_id.lower()}@buyers.example")
    joined_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=500))
