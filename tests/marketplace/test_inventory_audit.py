from datetime import timedelta

import pytest
from django.utils import timezone

from casework.models import Case, CaseKind, Team
from marketplace.factories import OrderFactory, OrderLineFactory
from marketplace.models import OrderStatus
from marketplace import inventory
from sellers.factories import ListingFactory, SellerFactory
from marketplace.tasks import inventory_audit_task


def _oversold(seller):
    listing = ListingFactory(seller=seller, stock_quantity=1, stock_updated_at=timezone.now() - timedelta(days=10))
    for _ in range(3):
        OrderLineFactory(listing=listing, order=OrderFactory(seller=seller, placed_at=timezone.now() - timedelta(days=2)))
    return listing


@pytest.mark.django_db
def test_flags_oversold_stale_and_out_of_stock_cancellations():
    seller = SellerFactory()
    oversold = _oversold(seller)
    stale = ListingFactory(seller=seller, stock_quantity=4, stock_updated_at=timezone.now() - timedelta(days=200))
    cancelled_listing = ListingFactory(seller=seller, stock_quantity=None, stock_updated_at=None)
    order = OrderFactory(seller=seller, status=OrderStatus.CANCELLED, placed_at=timezone.now() - timedelta(days=5))
    order.cancel_reason = "out_of_stock"
    order.save()
    OrderLineFactory(order=order, listing=cancelled_listing)
    fine = ListingFactory(seller=seller, stock_quantity=None, stock_updated_at=None)

    flags = inventory.inventory_flags().set_index("listing_id")

    assert flags.loc[oversold.pk, "oversold_units"] == 2
    assert flags.loc[stale.pk, "stale"] == 1
    assert flags.loc[cancelled_listing.pk, "oos_cancellations"] == 1
    assert fine.pk not in flags.index


@pytest.mark.django_db
def test_audit_task_opens_one_seller_support_case_per_artisan_and_is_idempotent():
    flagged, clean = SellerFactory(), SellerFactory()
    _oversold(flagged)
    ListingFactory(seller=clean, stock_quantity=3)

    assert inventory_audit_task() == 1
    assert inventory_audit_task() == 0

    case = Case.objects.get(kind=CaseKind.INVENTORY_AUDIT)
    assert (case.seller_id, case.team) == (flagged.pk, Team.SELLER_SUPPORT)
    assert case.evidence["flagged_listings"] == 1
    assert case.evidence["listings"][0]["problems"] == ["2 more sold than in stock"]
    assert not Case.objects.filter(seller=clean).exists()
