"""An inventory audit case as seller support reads it: its reason and when the audit ran."""

from datetime import datetime, timedelta, timezone as dt_timezone

import pytest
from django.urls import reverse

from casework.models import Case, CaseKind
from marketplace.factories import OrderFactory, OrderLineFactory
from marketplace.inventory import inventory_audit_open_cases
from sellers.factories import ListingFactory, SellerFactory

pytestmark = pytest.mark.django_db

AUDITED = datetime(2026, 12, 3, 17, 39, 12, tzinfo=dt_timezone.utc)


def _oversold_artisan():
    seller = SellerFactory()
    listing = ListingFactory(seller=seller, stock_quantity=1, stock_updated_at=AUDITED - timedelta(days=10))
    for _ in range(3):
        OrderLineFactory(listing=listing, order=OrderFactory(seller=seller, placed_at=AUDITED - timedelta(days=2)))
    return seller


def test_the_audit_case_says_when_it_ran_and_counts_listings_in_words(client, support_user):
    seller = _oversold_artisan()
    assert inventory_audit_open_cases(seller_ids=[seller.pk], as_of=AUDITED) == 1
    case = Case.objects.get(kind=CaseKind.INVENTORY_AUDIT, seller=seller)
    client.force_login(support_user)

    page = client.get(reverse("admin:casework_case_change", args=[case.pk])).content.decode()

    assert "Inventory audit: 1 listing with inconsistent stock data." in page
    assert "listing(s)" not in page
    assert "<th>Audited</th><td>3 Dec 2026 17:39</td>" in page
    assert "2026-12-03" not in page
