"""Django's own date rendering (admin lists, read-only fields, the date filter) reads as core.formatting writes dates."""

from datetime import date, datetime, timezone as dt_timezone

import pytest
from django.template import Context, Template
from django.urls import reverse

from casework.factories import CaseFactory
from core import formatting
from loyalty.factories import EarnLotFactory
from sellers.factories import WorkshopFactory
from sellers.models import WorkshopSession

pytestmark = pytest.mark.django_db

MOMENT = datetime(2026, 12, 3, 14, 41, tzinfo=dt_timezone.utc)


def _page(client, user, url):
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def test_case_page_shows_its_due_date_as_the_back_office_writes_dates(client, cs_user):
    case = CaseFactory(due_at=MOMENT)

    page = _page(client, cs_user, reverse("admin:casework_case_change", args=[case.pk]))

    assert "3 Dec 2026 14:41" in page
    assert "Dec. 3, 2026" not in page and "p.m." not in page


def test_points_list_shows_created_and_expiry_dates_as_the_back_office_writes_them(client, cs_user):
    EarnLotFactory(created_at=MOMENT, expires_at=datetime(2027, 1, 5, 9, 5, tzinfo=dt_timezone.utc))

    page = _page(client, cs_user, reverse("admin:loyalty_pointsentry_changelist"))

    assert "3 Dec 2026 14:41" in page and "5 Jan 2027 09:05" in page
    assert "Dec. 3, 2026" not in page and "Jan. 5, 2027" not in page


def test_the_date_filter_without_a_format_matches_core_formatting():
    rendered = Template("{{ moment|date }}|{{ moment|date:'DATETIME_FORMAT' }}|{{ day|date }}|{{ moment|time }}").render(
        Context({"moment": MOMENT, "day": date(2026, 12, 3)})
    )

    assert rendered == f"{formatting.day(MOMENT)}|{formatting.day_and_time(MOMENT)}|3 Dec 2026|14:41"


def test_admin_date_and_time_inputs_still_take_iso_dates(client, support_user):
    workshop = WorkshopFactory(topic="Shipping on time")
    client.force_login(support_user)

    response = client.post(reverse("admin:sellers_workshopsession_add"), {
        "workshop": workshop.pk, "starts_at_0": "2026-12-03", "starts_at_1": "14:41", "format": "virtual",
        "location": "https://meet.example/kiln", "capacity": 10,
        "assignments-TOTAL_FORMS": 0, "assignments-INITIAL_FORMS": 0,
    })

    assert response.status_code == 302, response.content.decode()
    assert WorkshopSession.objects.get(workshop=workshop).starts_at == MOMENT
    assert "3 Dec 2026 14:41" in _page(client, support_user, reverse("admin:sellers_workshopsession_changelist"))


def test_iso_dates_in_a_stored_text_read_as_days_while_codes_and_timestamps_stay():
    assert formatting.dates_as_days("Override until 2026-12-31: VIP") == "Override until 31 Dec 2026: VIP"
    assert formatting.dates_as_days("Order O-2026-12-03 returned") == "Order O-2026-12-03 returned"
    assert formatting.dates_as_days("Seen 2026-12-03T14:07") == "Seen 2026-12-03T14:07"
    assert formatting.dates_as_days("Not a date: 2026-13-40") == "Not a date: 2026-13-40"
