"""The Buyer 360 retention and identity panels name segments, cadence and interventions as staff say them,
with days written "3 Dec 2026"."""

from datetime import datetime, timedelta, timezone as dt_timezone

import pytest
from django.urls import reverse

from buyers.factories import BuyerFactory, BuyerRetentionFactory, InterventionAssignmentFactory
from buyers.models import BuyerSegmentChange, CadenceState, Segment

pytestmark = pytest.mark.django_db

SINCE = datetime(2026, 12, 3, 9, 30, tzinfo=dt_timezone.utc)


def _page(client, user, buyer):
    client.force_login(user)
    return client.get(reverse("admin:buyers_buyer_360", args=[buyer.pk])).content.decode()


def test_segment_and_its_moves_read_as_names_and_days(client, cs_user):
    buyer = BuyerFactory()
    BuyerRetentionFactory(buyer=buyer, segment=Segment.HIGH_VALUE, segment_since=SINCE,
                          cadence_state=CadenceState.NO_PURCHASE)
    BuyerSegmentChange.objects.create(buyer=buyer, from_segment="", to_segment=Segment.NEW, changed_at=SINCE - timedelta(days=40))
    BuyerSegmentChange.objects.create(buyer=buyer, from_segment=Segment.NEW, to_segment=Segment.HIGH_VALUE, changed_at=SINCE)

    page = _page(client, cs_user, buyer)

    assert "High value since 3 Dec 2026" in page
    assert "New → High value (3 Dec 2026)" in page and "— → New (24 Oct 2026)" in page
    assert "No purchase yet · every" in page
    for raw in ("highvalue", "high_value", "nopurchase", "2026-12-03", "03 Dec 2026"):
        assert raw not in page


def test_the_intervention_group_names_its_case_kind_and_days(client, cs_user):
    buyer = BuyerFactory()
    BuyerRetentionFactory(buyer=buyer)
    InterventionAssignmentFactory(buyer=buyer, kind="buyer_churn_risk", arm="treated", flagged_at=SINCE,
                                  window_ends_at=SINCE + timedelta(days=60))

    page = _page(client, cs_user, buyer)

    assert "(Buyer at churn risk, flagged 3 Dec 2026, window to 1 Feb 2027)" in page
    assert "buyerchurnrisk" not in page
