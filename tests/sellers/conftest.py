import pytest
from django.utils import timezone

from sellers.factories import SellerFactory
from sellers.models import OnboardingStatus


@pytest.fixture
def applicant(db):
    return SellerFactory(onboarding_status=OnboardingStatus.APPLIED, applied_at=timezone.now(), approved_at=None)

