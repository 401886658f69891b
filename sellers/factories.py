from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from sellers.models import CraftCategory, Listing, OnboardingStatus, Seller, Workshop, WorkshopFormat, WorkshopSession


class SellerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Seller

    external_id = factory.Sequence(lambda n: f"S{n:06d}")
    name = factory.Sequence(lambda n: f"Artisan {n}")
    email = factory.LazyAttribute(lambda s: f"{s.external_id.lower()}@artisans.example")
    craft_category = CraftCategory.CERAMICS
    onboarding_status = OnboardingStatus.APPROVED
    applied_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=400))
    approved_at = factory.LazyAttribute(lambda s: s.applied_at + timedelta(days=3) if s.onboarding_status == OnboardingStatus.APPROVED else None)


class ListingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Listing

    seller = factory.SubFactory(SellerFactory)
    external_id = factory.Sequence(lambda n: f"L{n:07d}")
    title = factory.Sequence(lambda n: f"Handmade piece {n}")
    category = factory.LazyAttribute(lambda listing: listing.seller.craft_category)
    price = Decimal("40.00")
    stock_quantity = 10
    stock_updated_at = factory.LazyFunction(timezone.now)
    created_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=300))


class WorkshopFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Workshop

    topic = factory.Sequence(lambda n: f"Shipping and packaging basics {n}")


class WorkshopSessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = WorkshopSession

    workshop = factory.SubFactory(WorkshopFactory)
    starts_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))
    format = WorkshopFormat.VIRTUAL
    location = "https://meet.example/kiln"
    capacity = 10
