import pytest
from django.contrib.auth.models import Group

from core import roles

pytestmark = pytest.mark.django_db


def _perms(name):
    return set(Group.objects.get(name=name).permissions.values_list("content_type__app_label", "codename"))


def test_the_three_roles_exist_after_migrate():
    assert set(Group.objects.values_list("name", flat=True)) >= set(roles.ALL_ROLES)


def test_operational_roles_work_cases_but_cannot_configure_or_delete():
    for role in (roles.CUSTOMER_SUCCESS, roles.SELLER_SUPPORT):
        perms = _perms(role)
        assert ("casework", "change_case") in perms
        assert ("casework", "delete_case") not in perms
        assert ("sellers", "change_seller") not in perms
        assert ("core", "view_outboxmessage") not in perms


def test_marketplace_admin_manages_the_outbox():
    assert {("core", "view_outboxmessage"), ("core", "change_outboxmessage")} <= _perms(roles.MARKETPLACE_ADMIN)


def test_team_membership_decides_which_queue_a_user_works(cs_user, support_user, admin_user):
    assert roles.can_work_team(cs_user, "customer_success") and not roles.can_work_team(cs_user, "seller_support")
    assert roles.can_work_team(support_user, "seller_support") and not roles.can_work_team(support_user, "customer_success")
    assert roles.can_work_team(admin_user, "customer_success") and roles.can_work_team(admin_user, "seller_support")
