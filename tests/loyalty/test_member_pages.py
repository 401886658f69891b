"""The loyalty pages as staff meet them: the member's ledger and tier line, plain-words configuration
errors, and related objects shown as text where the role may not open them."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from buyers.factories import BuyerFactory
from loyalty import services, tiers
from loyalty.factories import BadgeFactory, EarnLotFactory, EarningRuleFactory, RewardFactory, TierFactory
from loyalty.models import Badge, BadgeAward, EarningRule, Reward, RuleKind, Tier, TierChange, TierChangeCause

pytestmark = pytest.mark.django_db


def _member_page(client, user, buyer):
    client.force_login(user)
    response = client.get(reverse("admin:loyalty_loyaltymember_change", args=[buyer.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_the_member_page_shows_a_manual_adjustment_in_the_ledger(client, cs_user, program):
    buyer = BuyerFactory()
    services.points_adjust(buyer_id=buyer.pk, amount=50, comment="Parcel lost in the post", actor=cs_user)

    page = _member_page(client, cs_user, buyer)

    assert 'id="member-ledger"' in page
    assert "+50" in page and "Adjust · Active" in page
    assert "Adjustment by staff" in page and "Comment: Parcel lost in the post" in page
    assert "cs" in page  # who adjusted



def test_member_history_link_leads_to_the_ledger_with_or_without_points(client, cs_user, program):
    adjusted, new = BuyerFactory(), BuyerFactory()
    services.points_adjust(buyer_id=adjusted.pk, amount=50, comment="Parcel lost in the post", actor=cs_user)

    for buyer in (adjusted, new):
        change = reverse("admin:loyalty_loyaltymember_change", args=[buyer.pk])
        generic = reverse("admin:loyalty_loyaltymember_history", args=[buyer.pk])
        page = _member_page(client, cs_user, buyer)
        answer = client.get(generic)

        assert '<a href="#member-ledger" class="historylink">History</a>' in page and page.count('id="member-ledger"') == 1
        assert generic not in page
        assert answer.status_code == 302 and answer["Location"] == f"{change}#member-ledger"

def test_ledger_links_the_order_and_links_the_rule_only_for_roles_that_may_open_it(client, cs_user, admin_user, program):
    rule = EarningRuleFactory(name="Spend points")
    lot = EarnLotFactory(source_type="order", source_id=4242, rule=rule, reason="Order O-1 delivered")
    order_url = reverse("admin:marketplace_order_change", args=[4242])
    rule_url = reverse("admin:loyalty_earningrule_change", args=[rule.pk])

    cs_page = _member_page(client, cs_user, lot.buyer)
    admin_page = _member_page(client, admin_user, lot.buyer)

    assert f'href="{order_url}"' in cs_page and "Spend points" in cs_page
    assert rule_url not in cs_page  # customer success cannot open earning rules: a 403 link helps no one
    assert f'href="{rule_url}"' in admin_page


def test_tier_and_expiry_read_as_sentences(client, cs_user, program):
    TierFactory(code="clay", name="Clay", rank=1, threshold=Decimal("0"), multiplier=Decimal("1.00"))
    TierFactory(code="glaze", name="Glaze", rank=2, threshold=Decimal("250"))
    lot = EarnLotFactory(amount=226, occurred_at=timezone.now() - timedelta(days=2),
                         expires_at=timezone.now().replace(year=timezone.now().year + 1, month=10, day=13))
    tiers.tiers_recompute()

    page = _member_page(client, cs_user, lot.buyer)

    assert "Clay (×1.00): 226 points earned; 24 more to reach Glaze" in page
    assert f"next expiry 13 Oct {timezone.now().year + 1}" in page
    assert "points_earned" not in page and "24.00" not in page and "+00:00" not in page


@pytest.mark.parametrize(
    ("model", "factory", "field", "value", "message", "constraint"),
    [
        (Badge, BadgeFactory, "threshold", "0", "The threshold must be at least 1.", "loyalty_badge_threshold_positive"),
        (Tier, TierFactory, "multiplier", "-1", "The multiplier cannot be negative.", "loyalty_tier_multiplier_non_negative"),
        (Reward, RewardFactory, "points_cost", "0", "The cost must be at least 1 point.", "loyalty_reward_cost_positive"),
    ],
)
def test_configuration_errors_are_plain_words_on_the_field(client, admin_user, model, factory, field, value, message, constraint):
    obj = factory()
    url = reverse(f"admin:loyalty_{model._meta.model_name}_change", args=[obj.pk])
    client.force_login(admin_user)
    form = client.get(url).context["adminform"].form
    data = {name: ("" if value_ is None else value_) for name, value_ in form.initial.items() if name in form.fields}
    data = {**{name: getattr(v, "pk", v) for name, v in data.items()}, field: value}

    response = client.post(url, data)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors[field] == [message]
    assert constraint not in response.content.decode()
    assert getattr(model.objects.get(pk=obj.pk), field) != Decimal(value)


def test_earning_rule_cap_and_promotion_errors_name_the_field_to_fix(client, admin_user):
    client.force_login(admin_user)
    response = client.post(reverse("admin:loyalty_earningrule_add"), {
        "name": "Double points", "kind": RuleKind.PROMOTION, "promotion_of": "", "priority": 100, "points": "0",
        "multiplier": "2", "cap_points": "500", "cap_period": "", "is_active": "on",
        "applies_tier_multiplier": "on",
    })

    errors = response.context["adminform"].form.errors
    assert errors["promotion_of"] == ["Choose the kind of rule this promotion multiplies."]
    assert errors["cap_period"] == ["Choose the period the cap applies to, or clear the cap points."]
    assert "Constraint" not in response.content.decode()
    assert not EarningRule.objects.exists()


def test_earning_rule_list_shows_points_in_their_unit(client, admin_user):
    EarningRuleFactory(name="Spend points", kind=RuleKind.SPEND, points=Decimal("30.00"))
    EarningRuleFactory(name="Review points", kind=RuleKind.REVIEW, points=Decimal("30.00"))
    EarningRuleFactory(name="Story point", kind=RuleKind.STORY_SHARE, points=Decimal("1.00"))
    EarningRuleFactory(name="Double reviews", kind=RuleKind.PROMOTION, promotion_of=RuleKind.REVIEW, points=Decimal("0"),
                       multiplier=Decimal("2.00"))
    client.force_login(admin_user)

    page = client.get(reverse("admin:loyalty_earningrule_changelist")).content.decode()

    for earns in ("30 points per $1", "30 points", "1 point", "×2 the base rule&#x27;s points"):
        assert f'<td class="field-points_display">{earns}</td>' in page, earns
    assert "30.00" not in page


def test_cs_reads_the_badge_and_tier_as_text_without_links_to_pages_it_cannot_open(client, cs_user, admin_user, program):
    badge = BadgeFactory(name="Loyal patron")
    clay = TierFactory(code="clay", name="Clay", rank=1, threshold=Decimal("0"))
    buyer = BuyerFactory()
    award = BadgeAward.objects.create(badge=badge, buyer=buyer, period_key="once", metric_value=3, awarded_at=timezone.now())
    change = TierChange.objects.create(buyer=buyer, to_tier=clay, cause=TierChangeCause.RECOMPUTE, created_at=timezone.now())
    badge_url = reverse("admin:loyalty_badge_change", args=[badge.pk])
    tier_url = reverse("admin:loyalty_tier_change", args=[clay.pk])

    client.force_login(cs_user)
    award_page = client.get(reverse("admin:loyalty_badgeaward_change", args=[award.pk])).content.decode()
    change_page = client.get(reverse("admin:loyalty_tierchange_change", args=[change.pk])).content.decode()
    assert "Loyal patron" in award_page and badge_url not in award_page
    assert "Clay" in change_page and tier_url not in change_page
    assert client.get(badge_url).status_code == 403  # why the link must not be there

    client.force_login(admin_user)
    assert badge_url in client.get(reverse("admin:loyalty_badgeaward_change", args=[award.pk])).content.decode()
