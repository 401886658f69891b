from datetime import timedelta

import pytest
from django.utils import timezone

from buyers.factories import BuyerFactory
from marketplace.factories import OrderFactory
from sellers.factories import SellerFactory


@pytest.fixture
def now():
    return timezone.now().replace(microsecond=0)


@pytest.fixture
def buy(db):
    """buy(buyer, days_ago, amount=40, seller=None): one delivered order placed days_ago."""
    default_seller = SellerFactory()

    def _buy(buyer, days_ago, amount=40, seller=None, **extra):
        placed = timezone.now() - timedelta(days=days_ago)
        return OrderFactory(buyer=buyer, seller=seller or default_seller, placed_at=placed, total_amount=amount, **extra)

    return _buy


@pytest.fixture
def small_base(db, buy):
    """A handful of buyers with recognisable histories."""
    buyers = {
        "loyal": BuyerFactory(name="Loyal"),
        "lapsed": BuyerFactory(name="Lapsed"),
        "gone": BuyerFactory(name="Gone"),
        "newbie": BuyerFactory(name="Newbie"),
        "once": BuyerFactory(name="Once"),
        "never": BuyerFactory(name="Never"),
    }
    for days in (400, 340, 280, 220, 160, 100, 40, 10):
        buy(buyers["loyal"], days, amount=80)
    for days in (500, 450, 400, 350, 300, 250):
        buy(buyers["lapsed"], days, amount=50)
    for days in (700, 650, 600):
        buy(buyers["gone"], days)
    buy(buyers["newbie"], 5)
    buy(buyers["once"], 200)
    # Fillers so the population fit has something to work with.
    for i in range(30):
        filler = BuyerFactory()
        for j in range(i % 5 + 1):
            buy(filler, 30 + 47 * j + i, amount=30 + i)
    # Fillers who stopped buying long ago: without them the population fit can settle on "nobody
    # ever drops out" (dropout probability ~0), which makes P(alive) 1 for everyone.
    for i in range(10):
        filler = BuyerFactory()
        for days in (620, 570, 520):
            buy(filler, days + i, amount=35)
    return buyers
