import pytest
from django.urls import reverse

from buyers.factories import BuyerFactory
from casework import services
from casework.factories import CaseFactory
from casework.models import Case, CaseKind, CaseStatus, Team
from core.factories import OutboxMessageFactory
from sellers.factories import SellerFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:casework_case_changelist")


def _open(kind, **subject):
    return services.case_open(kind=kind, reason="flagged", evidence={"score": 21, "reasons": [{"text": "late shipments 18%: -14"}]}, **subject)[0]


def test_customer_success_sees_only_its_team_queue(client, cs_user):
    mine = _open(CaseKind.ONBOARDING_REVIEW, seller=SellerFactory(name="Clay Studio"))
    other = _open(CaseKind.ONBOARDING_CALL, seller=SellerFactory(name="Wood Shop"))
    client.force_login(cs_user)
    response = client.get(CHANGELIST)
    assert response.status_code == 200
    ids = {case.pk for case in response.context["cl"].result_list}
    assert ids == {mine.pk}
    assert other.pk not in ids
    assert "late shipments 18%" in response.content.decode()


def test_queue_filters_mine_unassigned_and_overdue(client, cs_user, django_user_model):
    assigned = _open(CaseKind.ONBOARDING_REVIEW, seller=SellerFactory())
    services.case_assign(case=assigned, assignee=cs_user, actor=cs_user)
    unassigned = _open(CaseKind.DETRACTOR_FOLLOWUP, buyer=BuyerFactory())
    overdue = CaseFactory(kind=CaseKind.BUYER_CHURN_RISK, seller=None, buyer=BuyerFactory(), team=Team.CUSTOMER_SUCCESS, due_at="2020-01-01T00:00Z")
    client.force_login(cs_user)

    def ids(queue):
        return {case.pk for case in client.get(CHANGELIST, {"queue": queue}).context["cl"].result_list}

    assert ids("mine") == {assigned.pk}
    assert ids("unassigned") == {unassigned.pk, overdue.pk}
    assert ids("overdue") == {overdue.pk}


def test_assign_to_me_action(client, cs_user):
    case = _open(CaseKind.ONBOARDING_REVIEW, seller=SellerFactory())
    client.force_login(cs_user)
    response = client.post(CHANGELIST, {"action": "assign_to_me", "_selected_action": [case.pk]}, follow=True)
    assert "Assigned 1 case to you." in response.content.decode()
    case.refresh_from_db()
    assert case.assignee == cs_user and case.status == CaseStatus.IN_PROGRESS


def test_resolve_action_asks_for_an_outcome_then_resolves(client, cs_user):
    cases = [_open(CaseKind.DETRACTOR_FOLLOWUP, buyer=BuyerFactory()) for _ in range(2)]
    ids = [case.pk for case in cases]
    client.force_login(cs_user)
    confirm = client.post(CHANGELIST, {"action": "resolve_selected", "_selected_action": ids})
    assert confirm.status_code == 200 and "Resolve cases: 2 cases." in confirm.content.decode()
    done = client.post(
        CHANGELIST,
        {"action": "resolve_selected", "_selected_action": ids, "apply": "1", "outcome": "contacted", "note": "Called both"},
        follow=True,
    )
    assert "Resolved 2 cases." in done.content.decode()
    assert set(Case.objects.filter(pk__in=ids).values_list("status", flat=True)) == {CaseStatus.RESOLVED}


def test_case_page_resolve_button_works_for_the_team(client, cs_user):
    case = _open(CaseKind.ONBOARDING_REVIEW, seller=SellerFactory(onboarding_status="manual_review", approved_at=None))
    client.force_login(cs_user)
    page = client.get(reverse("admin:casework_case_change", args=[case.pk]))
    assert page.status_code == 200 and "Work this case" in page.content.decode()
    client.post(reverse("admin:casework_case_act", args=[case.pk, "resolve"]), {"outcome": "approved", "note": "Portfolio checked"})
    case.refresh_from_db()
    assert (case.status, case.outcome) == (CaseStatus.RESOLVED, "approved")


def test_other_team_is_refused_with_whose_case_it_is(client, support_user):
    case = _open(CaseKind.ONBOARDING_REVIEW, seller=SellerFactory())
    client.force_login(support_user)
    response = client.post(reverse("admin:casework_case_act", args=[case.pk, "assign_me"]))
    assert response.status_code == 403
    assert "belongs to the Customer success team" in response.content.decode()
    case.refresh_from_db()
    assert case.assignee is None


def test_staff_without_a_role_get_403_on_the_queue(client, django_user_model):
    nobody = django_user_model.objects.create_user("temp", password="x", is_staff=True)
    client.force_login(nobody)
    assert client.get(CHANGELIST).status_code == 403


@pytest.mark.parametrize(
    "fixture,url_name,expected",
    [
        ("cs_user", "admin:core_outboxmessage_changelist", 403),
        ("support_user", "admin:core_outboxmessage_changelist", 403),
        ("admin_user", "admin:core_outboxmessage_changelist", 200),
        ("cs_user", "admin:sellers_seller_changelist", 200),
        ("support_user", "admin:casework_case_changelist", 200),
    ],
)
def test_permission_matrix_for_pages(client, request, fixture, url_name, expected):
    client.force_login(request.getfixturevalue(fixture))
    assert client.get(reverse(url_name)).status_code == expected


def test_seller_support_cannot_change_a_seller(client, support_user, admin_user):
    seller = SellerFactory(name="Original")
    url = reverse("admin:sellers_seller_change", args=[seller.pk])
    client.force_login(support_user)
    page = client.get(url)
    assert page.status_code == 200 and 'name="name"' not in page.content.decode()
    assert reverse("admin:sellers_seller_360", args=[seller.pk]) in page.content.decode()
    client.force_login(admin_user)
    assert 'name="name"' in client.get(url).content.decode()


def test_queue_page_query_count_does_not_grow_with_cases(client, cs_user, django_assert_max_num_queries):
    client.force_login(cs_user)
    for _ in range(3):
        _open(CaseKind.DETRACTOR_FOLLOWUP, buyer=BuyerFactory())
    with django_assert_max_num_queries(12) as small:
        client.get(CHANGELIST)
    for _ in range(30):
        _open(CaseKind.DETRACTOR_FOLLOWUP, buyer=BuyerFactory())
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(CHANGELIST)
    assert len(response.context["cl"].result_list) == 33


def test_outbox_retry_action_is_for_admins(client, admin_user, mailoutbox, django_capture_on_commit_callbacks):
    message = OutboxMessageFactory(status="failed", attempts=6, last_error="SMTPServerDisconnected")
    client.force_login(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:core_outboxmessage_changelist"),
            {"action": "retry_failed", "_selected_action": [message.pk]},
            follow=True,
        )
    assert "Queued 1 failed message(s)" in response.content.decode()
    message.refresh_from_db()
    assert message.status == "sent"
    assert len(mailoutbox) == 1
