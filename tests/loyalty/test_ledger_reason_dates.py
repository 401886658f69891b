"""Stored ledger reasons and tier details keep their ISO dates; staff pages show them as "3 Dec 2026"."""

from datetime import datetime, timezone as dt_timezone

import pytest
from django.urls import reverse

from buyers.factories import BuyerFactory
from loyalty import services
from loyalty.factories import EarnLotFactory, TierFactory
from loyalty.models import EntryKind, PointsEntry, TierChange, TierChangeCause

pytestmark = pytest.mark.django_db

EXPIRED_ON = datetime(2026, 12, 3, 0, 0, tzinfo=dt_timezone.utc)


def _page(client, user, url):
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def expired(program):
    """A lot that expired through the nightly expiry, which stores "Points expired on 2026-12-03"."""
    lot = EarnLotFactory(amount=40, expires_at=EXPIRED_ON, created_at=datetime(2025, 12, 3, tzinfo=dt_timezone.utc))
    assert services.points_expire_due(now=datetime(2026, 12, 4, tzinfo=dt_timezone.utc)) == 1
    entry = PointsEntry.objects.get(buyer=lot.buyer, kind=EntryKind.EXPIRE)
    assert entry.reason == "Points expired on 2026-12-03"  # stored as written, for old and new rows alike
    return entry


def test_member_ledger_shows_the_expiry_date_as_a_date(client, cs_user, expired):
    page = _page(client, cs_user, reverse("admin:loyalty_loyaltymember_change", args=[expired.buyer_id]))

    assert "Points expired on 3 Dec 2026" in page and "2026-12-03" not in page


def test_points_list_and_entry_page_show_the_expiry_date_as_a_date(client, cs_user, expired):
    listing = _page(client, cs_user, reverse("admin:loyalty_pointsentry_changelist"))
    entry_page = _page(client, cs_user, reverse("admin:loyalty_pointsentry_change", args=[expired.pk]))

    for page in (listing, entry_page):
        assert "Points expired on 3 Dec 2026" in page and "2026-12-03" not in page


def test_buyer_360_ledger_shows_the_expiry_date_as_a_date(client, cs_user, expired):
    page = _page(client, cs_user, reverse("admin:buyers_buyer_360", args=[expired.buyer_id]))

    assert "Points expired on 3 Dec 2026" in page and "2026-12-03" not in page


def test_tier_changes_show_an_overrides_end_date_as_a_date(client, cs_user):
    change = TierChange.objects.create(
        buyer=BuyerFactory(), to_tier=TierFactory(code="glaze", name="Glaze"), cause=TierChangeCause.OVERRIDE,
        detail="Override until 2026-12-31: goodwill after a lost parcel", created_at=EXPIRED_ON,
    )

    listing = _page(client, cs_user, reverse("admin:loyalty_tierchange_changelist"))
    change_page = _page(client, cs_user, reverse("admin:loyalty_tierchange_change", args=[change.pk]))

    for page in (listing, change_page):
        assert "Override until 31 Dec 2026: goodwill after a lost parcel" in page and "2026-12-31" not in page
