from datetime import timedelta

import factory
from django.utils import timezone

from casework.models import Case, CaseKind, Team
from sellers.factories import SellerFactory


class CaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Case

    kind = CaseKind.ONBOARDING_REVIEW
    team = Team.CUSTOMER_SUCCESS
    seller = factory.SubFactory(SellerFactory)
    buyer = None
    due_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=2))
    reason = "Score 22 is below the high-risk band."
    evidence = factory.LazyFunction(lambda: {"score": 22})
