"""The late-order policy is admin-only configuration, one row, never deleted."""

import pytest
from django.urls import reverse

from marketplace.models import LateOrderPolicy

pytestmark = pytest.mark.django_db

ADD = reverse("admin:marketplace_lateorderpolicy_add")
POLICY = {"grace_hours": 6, "lookback_days": 14, "artisan_window_days": 60, "artisan_min_orders": 5, "artisan_late_rate": "20"}


@pytest.mark.parametrize("who", ["cs_user", "support_user"])
def test_operational_staff_cannot_add_the_late_order_policy(client, request, who):
    client.force_login(request.getfixturevalue(who))

    page = client.get(ADD)
    saved = client.post(ADD, POLICY)

    assert page.status_code == 403
    assert saved.status_code == 403
    assert not LateOrderPolicy.objects.exists()


@pytest.mark.parametrize("who", ["cs_user", "support_user"])
def test_operational_staff_cannot_change_the_late_order_policy(client, request, who):
    policy = LateOrderPolicy.objects.create(pk=1, grace_hours=12)
    client.force_login(request.getfixturevalue(who))

    saved = client.post(reverse("admin:marketplace_lateorderpolicy_change", args=[policy.pk]), {**POLICY, "grace_hours": 1})

    assert saved.status_code == 403
    policy.refresh_from_db()
    assert policy.grace_hours == 12


@pytest.mark.parametrize("who", ["admin_user", "superuser"])
def test_admins_add_the_policy_once(client, request, who):
    from core.factories import UserFactory

    user = UserFactory(is_superuser=True) if who == "superuser" else request.getfixturevalue(who)
    client.force_login(user)

    saved = client.post(ADD, POLICY)

    assert saved.status_code == 302
    assert LateOrderPolicy.objects.get().grace_hours == 6
    # One row: a second add is refused.
    assert client.get(ADD).status_code == 403


def test_admin_changes_the_policy_but_cannot_delete_it(client, admin_user):
    policy = LateOrderPolicy.objects.create(pk=1, grace_hours=12)
    client.force_login(admin_user)

    saved = client.post(reverse("admin:marketplace_lateorderpolicy_change", args=[policy.pk]), {**POLICY, "grace_hours": 24})
    delete = client.post(reverse("admin:marketplace_lateorderpolicy_delete", args=[policy.pk]), {"post": "yes"})

    assert saved.status_code == 302
    policy.refresh_from_db()
    assert policy.grace_hours == 24
    assert delete.status_code == 403
    assert LateOrderPolicy.objects.count() == 1
