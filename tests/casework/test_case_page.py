"""What staff meet on a case page and the case list: assignee, evidence, title, order and bulk actions."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from buyers.factories import BuyerFactory
from casework import services
from casework.models import CaseKind
from core import roles
from core.factories import UserFactory
from sellers.factories import SellerFactory

pytestmark = pytest.mark.django_db

CASE_LIST = reverse("admin:casework_case_changelist")

DORMANCY_SIGNALS = {
    "baseline": "same 90 days last year",
    "sales": [3, 12],
    "late_share": [0.25, 0.05],
    "sales_falling": True,
    "messages_falling": False,
    "off_season": False,
}


def _seller_case(kind=CaseKind.SELLER_DORMANT, evidence=None):
    return services.case_open(kind=kind, seller=SellerFactory(), reason="Activity declining", evidence=evidence or {})[0]


def test_the_assignee_shows_as_a_name_without_a_link_to_user_accounts(client):
    amira = UserFactory(username="amira", first_name="Amira", last_name="Haddad", roles=[roles.SELLER_SUPPORT])
    case = _seller_case()
    services.case_assign(case=case, assignee=amira, actor=amira)
    client.force_login(amira)

    page = client.get(reverse("admin:casework_case_change", args=[case.pk])).content.decode()

    assert "Amira Haddad" in page
    assert "/admin/auth/user/" not in page


def test_dormancy_evidence_shows_yes_and_no_with_labels(client, support_user):
    case = _seller_case(evidence=DORMANCY_SIGNALS)
    client.force_login(support_user)

    page = client.get(reverse("admin:casework_case_change", args=[case.pk])).content.decode()

    assert "<th>Sales falling</th><td>Yes</td>" in page and "<th>Messages falling</th><td>No</td>" in page
    assert "<th>Sales</th><td>3 now vs 12 before</td>" in page
    assert "<th>Late shipments</th><td>25% now vs 5% before</td>" in page
    assert ">True<" not in page and ">False<" not in page


def test_onboarding_evidence_shows_cold_start_as_yes_or_no(client, cs_user):
    case = _seller_case(CaseKind.ONBOARDING_REVIEW, evidence={"score": 71, "cold_start": False, "first_listing": True})
    client.force_login(cs_user)

    page = client.get(reverse("admin:casework_case_change", args=[case.pk])).content.decode()

    assert "<th>Cold start</th><td>No</td>" in page and "<th>First listing</th><td>Yes</td>" in page


def test_the_case_page_is_titled_with_the_case_not_change_case(client, cs_user):
    case = _seller_case(CaseKind.ONBOARDING_REVIEW)
    client.force_login(cs_user)

    page = client.get(reverse("admin:casework_case_change", args=[case.pk])).content.decode()

    assert f"<h1>Case #{case.pk}: Onboarding: manual review</h1>" in page and "Change case" not in page


def test_the_case_list_shows_open_work_before_closed_cases(client, cs_user):
    closed = services.case_open(kind=CaseKind.BUYER_CHURN_RISK, buyer=BuyerFactory(), reason="old")[0]
    services.case_resolve(case=closed, outcome="contacted", actor=cs_user)
    open_case = services.case_open(kind=CaseKind.BUYER_CHURN_RISK, buyer=BuyerFactory(), reason="new")[0]
    # The closed case was due earlier, which alone would list it first.
    type(closed).objects.filter(pk=closed.pk).update(due_at=timezone.now() - timedelta(days=30))
    client.force_login(cs_user)

    page = client.get(CASE_LIST).content.decode()

    open_link = reverse("admin:casework_case_change", args=[open_case.pk])
    closed_link = reverse("admin:casework_case_change", args=[closed.pk])
    assert page.index(open_link) < page.index(closed_link)


@pytest.mark.parametrize("who,offered,not_offered", [
    ("cs_user", ["approve_reviews", "reject_reviews", "request_info"], ["complete_calls", "assign_workshop", "mark_fixed"]),
    ("support_user", ["complete_calls", "assign_workshop", "mark_fixed"], ["approve_reviews", "reject_reviews", "request_info"]),
    ("admin_user", ["approve_reviews", "complete_calls", "assign_workshop", "mark_fixed"], []),
])
def test_each_role_is_offered_the_bulk_actions_of_its_own_kinds(client, request, who, offered, not_offered):
    _seller_case()
    client.force_login(request.getfixturevalue(who))

    page = client.get(CASE_LIST).content.decode()

    assert 'value="resolve_selected"' in page and 'value="dismiss_selected"' in page
    for action in offered:
        assert f'value="{action}"' in page
    for action in not_offered:
        assert f'value="{action}"' not in page


def test_the_history_names_statuses_and_people_not_codes_and_logins(client):
    casey = UserFactory(username="casey", first_name="Casey", last_name="Success", roles=[roles.SELLER_SUPPORT])
    case = _seller_case()
    services.case_assign(case=case, assignee=casey, actor=casey)
    services.case_resolve(case=case, outcome="contacted", note="Called", actor=casey)
    client.force_login(casey)

    page = client.get(reverse("admin:casework_case_change", args=[case.pk])).content.decode()

    history = re.sub(r"\s+", " ", page[page.index('id="history-group"'):])
    assert '<td class="field-from_shown"> <p>In progress</p> </td> <td class="field-to_shown"> <p>Resolved</p>' in history
    assert '<td class="field-to_shown"> <p>Casey Success</p>' in history
    assert "<p>in_progress</p>" not in history and "<p>casey</p>" not in history


def test_history_leads_to_the_case_s_own_events_on_its_page_not_an_empty_page(client):
    casey = UserFactory(username="casey", first_name="Casey", last_name="Success", roles=[roles.SELLER_SUPPORT])
    case = _seller_case()
    services.case_assign(case=case, assignee=casey, actor=casey)
    onboarding = _seller_case(kind=CaseKind.ONBOARDING_CALL)
    client.force_login(casey)

    for admin_name, shown in (("casework_case", case), ("sellers_onboardingqueuecase", onboarding)):
        change = reverse(f"admin:{admin_name}_change", args=[shown.pk])
        generic = reverse(f"admin:{admin_name}_history", args=[shown.pk])
        page = client.get(change).content.decode()

        assert '<a href="#history-group" class="historylink">History</a>' in page and 'id="history-group"' in page
        assert generic not in page
        # A bookmarked or old link to the generic page lands on the same section.
        answer = client.get(generic)
        assert answer.status_code == 302 and answer["Location"] == f"{change}#history-group"
    assert "Casey Success" in client.get(reverse("admin:casework_case_change", args=[case.pk])).content.decode()
