from decimal import Decimal

import pytest
from django.urls import reverse

from loyalty.factories import TierFactory

pytestmark = pytest.mark.django_db


def test_the_tier_list_and_page_show_where_members_land_with_the_saved_thresholds(client, admin_user):
    bronze = TierFactory(code="bronze", name="Bronze", rank=1, threshold=Decimal("0"))
    TierFactory(code="gold", name="Gold", rank=2, threshold=Decimal("500"))
    client.force_login(admin_user)

    listing = client.get(reverse("admin:loyalty_tier_changelist")).content.decode()
    page = client.get(reverse("admin:loyalty_tier_change", args=[bronze.pk])).content.decode()

    for body in (listing, page):
        assert 'id="tier-preview"' in body or "id='tier-preview'" in body
        assert "After the next recompute" in body and "Gold" in body
