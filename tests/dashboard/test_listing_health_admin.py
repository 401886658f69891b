"""The listing-health list behind the underperforming-listings KPI reads as numbers for people."""

import pytest
from django.urls import reverse
from django.utils import timezone

from sellers.factories import ListingFactory
from sellers.models import ListingHealth

pytestmark = pytest.mark.django_db


def _health(**fields):
    listing = ListingFactory(title="Speckled mug")
    return ListingHealth.objects.create(
        listing=listing, seller=listing.seller, category=listing.category, computed_at=timezone.now(), age_days=200,
        units_sold=3, **fields,
    )


def test_the_list_shows_rates_in_units_and_the_return_share_as_a_percentage(client, django_user_model):
    _health(monthly_rate=0.5555555, category_norm=2.3333333, return_share=0.3333333, is_underperforming=True)
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "pw"))

    page = client.get(reverse("admin:sellers_listinghealth_changelist")).content.decode()

    assert "0.56 units" in page and "2.33 units" in page and "33%" in page
    assert "0.5555" not in page and "0.3333" not in page


def test_the_page_lists_why_a_listing_underperforms_without_raw_json(client, django_user_model):
    health = _health(
        monthly_rate=0.1, category_norm=2.0, return_share=None, is_underperforming=True,
        reasons=["Sells 0.1 a month against 2.0 for its category.", "3 in stock, untouched and unsold for over 120 days."],
    )
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "pw"))

    page = client.get(reverse("admin:sellers_listinghealth_change", args=[health.pk])).content.decode()

    assert "Sells 0.1 a month against 2.0 for its category.<br>3 in stock" in page
    assert '["Sells' not in page and "—" in page  # no return share: a dash, not "None"


def test_the_list_and_its_filter_name_the_category(client, django_user_model):
    health = _health(monthly_rate=0.5, category_norm=2.0, return_share=None, is_underperforming=True)
    health.category = "textiles"
    health.save(update_fields=["category"])
    client.force_login(django_user_model.objects.create_superuser("root", "root@example.com", "pw"))

    page = client.get(reverse("admin:sellers_listinghealth_changelist")).content.decode()
    detail = client.get(reverse("admin:sellers_listinghealth_change", args=[health.pk])).content.decode()

    assert '<td class="field-category_display">Textiles</td>' in page and 'category=textiles">Textiles</a>' in page
    assert ">textiles<" not in page
    assert "Textiles" in detail and ">textiles<" not in detail
