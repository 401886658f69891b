"""Staff pages: no links to pages the role may not open, no None or doubled words on Seller 360,
no empty themes line for a reader, and names instead of logins where people have names."""

import re

import pytest
from django.urls import reverse

from casework.factories import CaseFactory
from casework.models import CaseKind, Team
from core import roles
from core.factories import UserFactory
from feedback.factories import ResponseFactory
from loyalty.factories import RewardFactory, TierFactory
from sellers.factories import SellerFactory, WorkshopSessionFactory
from sellers.models import OnboardingAction, OnboardingDecision, RiskTier, WorkshopAssignment
from sellers.services import onboarding_policy_active

pytestmark = pytest.mark.django_db


def _hrefs(page: str) -> list[str]:
    return re.findall(r'href="([^"]+)"', page)


def test_a_workshop_session_shows_who_seated_each_artisan_without_a_link_to_user_accounts(client, cs_user):
    session = WorkshopSessionFactory()
    seater = UserFactory(first_name="Sam", last_name="Support", roles=[roles.SELLER_SUPPORT])
    WorkshopAssignment.objects.create(session=session, seller=SellerFactory(), assigned_by=seater)
    client.force_login(cs_user)

    page = client.get(reverse("admin:sellers_workshopsession_change", args=[session.pk])).content.decode()

    assert seater.get_username() in page or "Sam Support" in page
    assert not [href for href in _hrefs(page) if href.startswith("/admin/auth/user/")]


def test_customer_success_reads_a_rewards_tier_as_text(client, cs_user, admin_user):
    reward = RewardFactory(min_tier=TierFactory(name="Glaze"))
    tier_page = reverse("admin:loyalty_tier_change", args=[reward.min_tier_id])

    client.force_login(cs_user)
    page = client.get(reverse("admin:loyalty_reward_change", args=[reward.pk])).content.decode()
    assert "Glaze" in page and tier_page not in page

    # Admins configure rewards: for them the tier is a choice to change, not a link.
    client.force_login(admin_user)
    assert 'name="min_tier"' in client.get(reverse("admin:loyalty_reward_change", args=[reward.pk])).content.decode()


def test_seller_360_names_an_unscored_routing_without_none_or_a_doubled_risk(client, support_user):
    seller = SellerFactory()
    OnboardingDecision.objects.create(
        seller=seller, policy=onboarding_policy_active(), bands={}, score=None, tier=RiskTier.MID,
        action=OnboardingAction.ONBOARDING_CALL, reason="No validated model: routed to a call.",
    )
    client.force_login(support_user)

    page = client.get(reverse("admin:sellers_seller_360", args=[seller.pk])).content.decode()
    onboarding = page.split('id="seller-onboarding"')[1][:1500]

    assert "not scored · Mid risk" in onboarding
    assert "None" not in onboarding and "risk risk" not in onboarding


def test_a_reader_sees_a_responses_themes_as_text(client, support_user):
    response = ResponseFactory()
    client.force_login(support_user)

    page = client.get(reverse("admin:feedback_response_change", args=[response.pk])).content.decode()

    assert "No themes coded yet" in page
    assert not re.search(r"<div class=\"readonly\">None</div>", page)


def test_the_case_panel_and_alert_history_name_people_not_logins(client, cs_user):
    cs_user.first_name, cs_user.last_name = "Casey", "Success"
    cs_user.save()
    admin = UserFactory(username="boss", first_name="Ada", last_name="Admin", roles=[roles.MARKETPLACE_ADMIN])
    case = CaseFactory(kind=CaseKind.BUYER_CHURN_RISK, team=Team.CUSTOMER_SUCCESS, assignee=cs_user)
    client.force_login(admin)

    page = client.get(reverse("admin:casework_case_change", args=[case.pk])).content.decode()

    assert "assigned to Casey Success" in page and "Take over from Casey Success" in page
    assert "assigned to cs" not in page


def test_the_admin_menu_opens_the_loyalty_programs_one_row(client, admin_user):
    from loyalty.selectors import program_get

    program = program_get()
    client.force_login(admin_user)

    body = client.get("/admin/").content.decode()
    menu = body[body.index('id="kiln-menu"'):]

    change = reverse("admin:loyalty_loyaltyprogram_change", args=[program.pk])
    assert f'href="{change}"' in menu
    assert f'href="{reverse("admin:loyalty_loyaltyprogram_changelist")}"' not in menu
    assert client.get(change).status_code == 200


EMPTY_LISTS = [
    ("integrations", "apikey", "API keys let machine clients", True),
    ("buyers", "campaignaudience", "A campaign audience is a saved group of buyers", True),
    ("loyalty", "competition", "A point competition ranks members", True),
    ("core", "messagetemplate", "A message template rewords the email of one category", True),
    ("loyalty", "tieroverride", "A tier override keeps a member in a chosen tier", True),
    ("loyalty", "redemption", "Redemptions are rewards members have bought with their points", False),
]


@pytest.mark.parametrize("app, model, text, may_add", EMPTY_LISTS)
def test_an_empty_list_says_what_it_is_for_and_links_to_adding_the_first_row(client, admin_user, app, model, text, may_add):
    client.force_login(admin_user)

    page = client.get(reverse(f"admin:{app}_{model}_changelist")).content.decode()

    assert 'id="empty-state"' in page and text in page
    add_link = f'<a class="button" href="{reverse(f"admin:{app}_{model}_add")}" id="empty-state-add">Add the first '
    assert (add_link in page) is may_add


def test_the_empty_state_offers_no_add_link_to_a_reader_and_leaves_a_filtered_list_alone(client, cs_user, admin_user):
    url = reverse("admin:buyers_campaignaudience_changelist")
    client.force_login(cs_user)
    reader = client.get(url).content.decode()
    assert "A campaign audience is a saved group of buyers" in reader and 'id="empty-state-add"' not in reader

    from buyers.models import CampaignAudience

    CampaignAudience.objects.create(name="Lapsing ceramics buyers")
    client.force_login(admin_user)
    searched = client.get(url, {"q": "nobody by this name"}).content.decode()
    assert 'id="empty-state"' not in searched
