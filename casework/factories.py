from datetime import timedelta

import factory
from django.utils import timezone

from casework.models import Case, CaseKind, Team


class CaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Case

    kind = CaseKind.ONBOARDING_REVIEW
    team = Team.CUSTOMER_SUCCESS
    # Named, not imported: the Seller master data sits above casework in the layers.
    seller = factory.SubFactory("sellers.factories.SellerFactory")
    buyer = None
    due_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=2))
    reason = "Score 22 is below the high-risk band."
    evidence = factory.LazyFunction(lambda: {"score": 22})
