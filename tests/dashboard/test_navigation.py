"""Each role lands on its own work and a short menu grouped by task."""

import re

import pytest

from casework.factories import CaseFactory
from casework.models import CaseKind, Team
from dashboard.navigation import ROLE_MENUS

pytestmark = pytest.mark.django_db


def _menu_entries(body: str) -> tuple[int, int]:
    menu = body[body.index('id="kiln-menu"'):]
    main, _, more = menu.partition('kiln-nav-more')
    more = more[: more.index("</details>")]
    return len(re.findall(r"<tr class=\"model-", main)), len(re.findall(r"<tr class=\"more-", more))


@pytest.mark.parametrize("who", ["cs_user", "support_user", "admin_user"])
def test_each_role_menu_has_at_most_twelve_entries_and_the_rest_under_more(client, request, who):
    client.force_login(request.getfixturevalue(who))

    main, more = _menu_entries(client.get("/admin/").content.decode())

    assert 1 <= main <= 12
    assert more >= 1


@pytest.mark.parametrize("role", list(ROLE_MENUS))
def test_no_role_plans_more_than_twelve_entries(role):
    assert sum(len(keys) for _, keys in ROLE_MENUS[role]) <= 12


def test_seller_support_menu_groups_workshops_as_a_task(client, support_user):
    client.force_login(support_user)

    body = client.get("/admin/").content.decode()

    assert "Run workshops" in body and "/admin/sellers/workshopsession/" in body


def test_home_counts_cases_due_within_a_day(client, cs_user):
    from datetime import timedelta

    from django.utils import timezone

    CaseFactory(kind=CaseKind.ONBOARDING_REVIEW, team=Team.CUSTOMER_SUCCESS, due_at=timezone.now() + timedelta(hours=5))
    CaseFactory(kind=CaseKind.ONBOARDING_REVIEW, team=Team.CUSTOMER_SUCCESS, due_at=timezone.now() + timedelta(days=3))
    client.force_login(cs_user)

    body = client.get("/admin/").content.decode()

    assert "<strong>1</strong> due within a day" in body


def test_every_page_has_the_search_box(client, cs_user):
    client.force_login(cs_user)

    assert 'id="kiln-search"' in client.get("/admin/casework/case/").content.decode()
