import pytest

from loyalty.factories import EarningRuleFactory
from loyalty.models import LoyaltyProgram


@pytest.fixture
def program(db):
    program, _ = LoyaltyProgram.objects.get_or_create(pk=1)
    program.pending_days = 14
    program.expiry_days = 365
    program.save()
    return program


@pytest.fixture
def spend_rule(db):
    return EarningRuleFactory(name="1 point per unit")
