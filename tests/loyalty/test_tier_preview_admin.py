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


@pytest.mark.parametrize("basis, shown", [
    ("points_earned", "250 points earned"),
    ("qualifying_spend", "$250.00 qualifying spend"),
    ("engagement", "250 engagement actions"),
])
def test_tier_thresholds_show_the_unit_of_the_program_s_basis(client, admin_user, basis, shown):
    from loyalty.models import LoyaltyProgram

    LoyaltyProgram.objects.update_or_create(pk=1, defaults={"tier_basis": basis})
    TierFactory(code="clay", name="Clay", rank=1, threshold=Decimal("0"))
    TierFactory(code="glaze", name="Glaze", rank=2, threshold=Decimal("250.00"))
    client.force_login(admin_user)

    listing = client.get(reverse("admin:loyalty_tier_changelist")).content.decode()

    assert f'<td class="field-threshold_display">{shown}</td>' in listing
    assert f"<td>{shown}</td>" in listing  # the preview above the list
    assert "250.00<" not in listing


def test_tier_thresholds_read_as_points_before_the_program_is_configured(client, admin_user):
    TierFactory(code="glaze", name="Glaze", rank=1, threshold=Decimal("250.00"))
    client.force_login(admin_user)

    listing = client.get(reverse("admin:loyalty_tier_changelist")).content.decode()

    assert '<td class="field-threshold_display">250 points earned</td>' in listing
