"""The sidebar never links to a page its reader may not open, and never to "None"."""

import re

import pytest
from django.urls import reverse

from core.models import PipelineRun, PipelineStageRun
from marketplace.models import LateOrderPolicy

pytestmark = pytest.mark.django_db


def _menu_links(body: str) -> dict[str, str]:
    menu = body[body.index('id="kiln-menu"'):]
    menu = menu[: menu.index("</details>")]
    return {name.strip(): href for href, name in re.findall(r'<a href="([^"]*)"[^>]*>([^<]+)</a>', menu)}


@pytest.mark.parametrize("who", ["cs_user", "support_user", "admin_user"])
def test_no_menu_entry_links_to_none(client, request, who):
    client.force_login(request.getfixturevalue(who))

    links = _menu_links(client.get("/admin/").content.decode())

    assert links
    assert not [name for name, href in links.items() if href in ("None", "")]


@pytest.mark.parametrize("who", ["cs_user", "support_user"])
def test_operational_staff_do_not_see_the_late_order_policy(client, request, who):
    client.force_login(request.getfixturevalue(who))

    links = _menu_links(client.get("/admin/").content.decode())

    assert "Late-order policy" not in links


def test_admin_menu_adds_the_missing_late_order_policy_then_opens_the_one_row(client, admin_user):
    client.force_login(admin_user)

    before = _menu_links(client.get("/admin/").content.decode())
    policy = LateOrderPolicy.objects.create(pk=1)
    after = _menu_links(client.get("/admin/").content.decode())

    assert before["Late-order policy"] == reverse("admin:marketplace_lateorderpolicy_add")
    assert after["Late-order policy"] == reverse("admin:marketplace_lateorderpolicy_change", args=[policy.pk])
    assert client.get(after["Late-order policy"]).status_code == 200


def test_superuser_menu_offers_to_add_the_missing_late_order_policy(client):
    from core.factories import UserFactory

    client.force_login(UserFactory(is_superuser=True))

    links = _menu_links(client.get("/admin/").content.decode())

    assert links["Late-order policy"] == reverse("admin:marketplace_lateorderpolicy_add")


def test_pipeline_stage_peak_memory_is_shown_with_one_decimal(client, admin_user):
    from django.utils import timezone

    run = PipelineRun.objects.create(as_of=timezone.now(), chunk_size=1000)
    PipelineStageRun.objects.create(run=run, level=0, name="buyers", peak_rss_mb=384.234375)
    client.force_login(admin_user)

    body = client.get(reverse("admin:core_pipelinerun_change", args=[run.pk])).content.decode()

    assert "384.2" in body
    assert "384.234375" not in body
