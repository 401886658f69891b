"""Workshop sessions as seller support reads them: dated "10 Dec 2026 16:00", seats counted in words,
booked by people named as colleagues know them."""

import re
from datetime import datetime, timezone as dt_timezone

import pytest
from django.urls import reverse

from casework import services
from casework.models import CaseKind
from core import roles
from core.factories import UserFactory
from sellers.factories import SellerFactory, WorkshopSessionFactory
from sellers.services import workshop_assign

pytestmark = pytest.mark.django_db

STARTS = datetime(2026, 12, 10, 16, 0, tzinfo=dt_timezone.utc)


def _session(**kwargs):
    return WorkshopSessionFactory(workshop__topic="Pricing your pots", starts_at=STARTS, **kwargs)


def test_the_seat_list_and_page_name_the_session_by_its_date_and_time(client, support_user):
    session = _session(capacity=20)
    assignment = workshop_assign(session=session, seller=SellerFactory(), actor=support_user)
    client.force_login(support_user)

    listing = client.get(reverse("admin:sellers_workshopassignment_changelist")).content.decode()
    page = client.get(reverse("admin:sellers_workshopassignment_change", args=[assignment.pk])).content.decode()

    for shown in (listing, page):
        assert "Pricing your pots on 10 Dec 2026 16:00 (1/20)" in shown
        assert "2026-12-10" not in shown


def _seat_from_case(client, session):
    case = services.case_open(kind=CaseKind.SELLER_LATE_SHIPMENTS, seller=SellerFactory(), reason="9 of 20 orders late")[0]
    url = reverse("admin:casework_case_act", args=[case.pk, "seat"])
    return client.post(url, {"session": session.pk}, follow=True).content.decode()


def test_seating_from_a_case_confirms_the_session_date_as_the_back_office_writes_it(client, support_user):
    session = _session(capacity=5)
    client.force_login(support_user)

    page = _seat_from_case(client, session)

    assert "in Pricing your pots on 10 Dec 2026 16:00" in page


def test_a_full_session_says_so_with_its_date_and_one_seat_in_the_singular(client, support_user):
    session = _session(capacity=1, booked=1)
    client.force_login(support_user)

    page = _seat_from_case(client, session)

    assert "Pricing your pots on 10 Dec 2026 16:00 is full (1 seat)." in page
    assert "1 seats" not in page and "2026-12-10" not in page


def test_a_seat_page_names_who_booked_it_without_linking_to_staff_accounts(client, support_user):
    assignment = workshop_assign(session=_session(capacity=20), seller=SellerFactory(), actor=support_user)
    client.force_login(support_user)

    page = client.get(reverse("admin:sellers_workshopassignment_change", args=[assignment.pk])).content.decode()

    assert page.count(f"/admin/auth/user/{support_user.pk}/change/") == 0
    assert "Assigned by" in page and ">support<" in page
    assert client.get(f"/admin/auth/user/{support_user.pk}/change/").status_code == 403


def test_the_session_picker_names_the_day_with_its_year():
    from sellers.selectors import workshop_session_label

    label = workshop_session_label(_session(capacity=20, booked=5))

    assert "Pricing your pots · Thu 10 Dec 2026 16:00 ·" in label and "15 of 20 seats free" in label


def test_seat_list_page_and_session_name_who_booked_a_seat_by_full_name_else_login(client, support_user):
    sam = UserFactory(username="sam.s", first_name="Sam", last_name="Support", roles=[roles.SELLER_SUPPORT])
    session = _session(capacity=20)
    by_sam = workshop_assign(session=session, seller=SellerFactory(), actor=sam)
    workshop_assign(session=session, seller=SellerFactory(), actor=support_user)  # no name set: the login stands in
    client.force_login(support_user)

    listing = client.get(reverse("admin:sellers_workshopassignment_changelist")).content.decode()
    seat = client.get(reverse("admin:sellers_workshopassignment_change", args=[by_sam.pk])).content.decode()
    session_page = client.get(reverse("admin:sellers_workshopsession_change", args=[session.pk])).content.decode()

    assert '<td class="field-assigned_by_name">Sam Support</td>' in listing
    assert '<td class="field-assigned_by_name">support</td>' in listing
    assert '<div class="readonly">Sam Support</div>' in seat
    assert re.search(r'<td class="field-assigned_by_name">\s*<p>Sam Support</p>', session_page)
    for page in (listing, seat, session_page):
        assert "Assigned by" in page and "sam.s" not in page
