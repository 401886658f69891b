from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from buyers.factories import BuyerFactory
from core.factories import UserFactory
from integrations.factories import ApiKeyFactory
from loyalty.factories import BadgeFactory, EarnLotFactory, RewardFactory, TierFactory
from loyalty.models import BadgeAward, BuyerTier, EarningRule, PointsEntry, Tier
from sellers.factories import SellerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(program):
    buyer = BuyerFactory()
    now = timezone.now()
    EarnLotFactory(buyer=buyer, amount=120, expires_at=now + timedelta(days=10), reason="Order O1 delivered")
    EarnLotFactory(buyer=buyer, amount=80, expires_at=now + timedelta(days=300))
    EarnLotFactory(buyer=buyer, amount=30, state="pending", available_at=now + timedelta(days=5))
    silver = TierFactory(code="silver", rank=1, threshold=Decimal(100))
    TierFactory(code="gold", rank=2, threshold=Decimal(1000))
    BuyerTier.objects.create(buyer=buyer, tier=silver, since=now, computed_at=now)
    BadgeAward.objects.create(badge=BadgeFactory(name="Storyteller"), buyer=buyer, period_key="once", metric_value=3, awarded_at=now)
    EarnLotFactory(amount=500)  # someone ahead on the leaderboard
    return buyer


def test_member_summary_splits_balance_and_shows_tier_badges_and_rank(cs_client, member, django_assert_max_num_queries):
    with django_assert_max_num_queries(25):
        response = cs_client.get(reverse("loyalty-member", args=[member.pk]))

    assert response.status_code == 200
    body = response.json()
    assert {k: body["balance"][k] for k in ("active", "pending", "expiring_soon", "ledger_total")} == {
        "active": 200, "pending": 30, "expiring_soon": 120, "ledger_total": 230,
    }
    assert (body["tier"]["tier"], body["tier"]["next_tier"]) == ("silver", "gold")
    assert Decimal(body["tier"]["needed_for_next"]) == Decimal(1000) - Decimal(body["tier"]["value"])
    assert [b["name"] for b in body["badges"]] == ["Storyteller"]
    assert body["leaderboard"]["overall"] == {"rank": 2, "points": 230}


def test_ledger_history_explains_every_change_without_n_plus_one(cs_client, member, django_assert_max_num_queries):
    with django_assert_max_num_queries(6):
        response = cs_client.get(reverse("loyalty-member-ledger", args=[member.pk]))
    assert response.status_code == 200
    assert response.json()["count"] == 3
    assert "Order O1 delivered" in [e["reason"] for e in response.json()["results"]]


def test_adjustment_without_comment_is_a_400_and_changes_nothing(cs_client, member):
    before = PointsEntry.objects.count()
    response = cs_client.post(reverse("loyalty-member-adjust", args=[member.pk]), {"amount": 50, "comment": ""}, format="json")
    assert response.status_code == 400
    assert "comment" in response.json()["errors"]
    assert PointsEntry.objects.count() == before


def test_adjustment_with_comment_is_recorded_with_its_author(cs_client, cs_user, member):
    response = cs_client.post(reverse("loyalty-member-adjust", args=[member.pk]),
                              {"amount": -20, "comment": "Duplicate goodwill credit"}, format="json")
    assert response.status_code == 201
    entry = PointsEntry.objects.get(pk=response.json()["id"])
    assert (entry.amount, entry.kind, entry.created_by, entry.comment) == (-20, "adjust", cs_user, "Duplicate goodwill credit")


def test_redemption_above_balance_is_a_400_and_changes_nothing(cs_client, member):
    reward = RewardFactory(points_cost=201, stock=5)
    response = cs_client.post(reverse("loyalty-member-redeem", args=[member.pk]), {"reward_id": reward.pk}, format="json")
    assert response.status_code == 400
    assert "points" in response.json()["errors"]
    reward.refresh_from_db()
    assert reward.stock == 5
    assert PointsEntry.objects.filter(buyer=member, kind="redeem").count() == 0


def test_redemption_within_balance_returns_the_new_balance(cs_client, member):
    reward = RewardFactory(points_cost=150)
    response = cs_client.post(reverse("loyalty-member-redeem", args=[member.pk]), {"reward_id": reward.pk}, format="json")
    assert response.status_code == 201
    assert response.json()["balance"]["active"] == 50


def test_rule_with_negative_points_is_a_400(admin_client):
    response = admin_client.post(reverse("loyalty-rules"), {"name": "Bad", "kind": "spend", "points": "-1"}, format="json")
    assert response.status_code == 400
    assert "points" in response.json()["errors"]
    assert EarningRule.objects.count() == 0


def test_rule_creation_is_for_marketplace_admins_only(cs_client):
    response = cs_client.post(reverse("loyalty-rules"), {"name": "Mine", "kind": "spend", "points": "2"}, format="json")
    assert response.status_code == 403
    assert EarningRule.objects.count() == 0


def test_overlapping_tier_threshold_is_a_400_and_changes_nothing(admin_client, program):
    TierFactory(code="member", rank=0, threshold=0)
    payload = {"tiers": [{"code": "member", "rank": 0, "threshold": 0}, {"code": "silver", "rank": 1, "threshold": 500},
                         {"code": "gold", "rank": 2, "threshold": 300}]}
    response = admin_client.put(reverse("loyalty-tiers"), payload, format="json")
    assert response.status_code == 400
    assert "overlaps" in str(response.json()["errors"]["tiers"])
    assert list(Tier.objects.values_list("code", flat=True)) == ["member"]


def test_tier_preview_returns_counts_per_tier(admin_client, member):
    payload = {"tiers": [{"code": "member", "rank": 0, "threshold": 0}, {"code": "big", "rank": 1, "threshold": 300}]}
    response = admin_client.post(reverse("loyalty-tier-preview"), payload, format="json")
    assert response.status_code == 200
    assert {t["code"]: t["members"] for t in response.json()["tiers"]} == {"member": 1, "big": 1}


def test_simulate_an_unsaved_rule(admin_client, program):
    response = admin_client.post(reverse("loyalty-rule-simulate"),
                                 {"rule": {"name": "Reviews", "kind": "review", "points": "10"}}, format="json")
    assert response.status_code == 200
    assert response.json()["points"] == 0 and "would have awarded 0 points to 0 members" in response.json()["summary"]


def test_suggestions_rank_rewards_from_favourite_artisans_first(cs_client, member):
    from marketplace.factories import OrderFactory

    favourite = SellerFactory(craft_category="textiles")
    OrderFactory(buyer=member, seller=favourite)
    RewardFactory(name="Generic voucher", points_cost=100)
    RewardFactory(name="Weaving kit", points_cost=100, seller=favourite, category="textiles")
    RewardFactory(name="Too dear", points_cost=5000)

    response = cs_client.get(reverse("loyalty-member-suggestions", args=[member.pk]))

    names = [r["name"] for r in response.json()["results"]]
    assert names == ["Weaving kit", "Generic voucher", "Too dear"]


def test_leaderboard_and_power_users(cs_client, member):
    response = cs_client.get(reverse("loyalty-leaderboard"))
    assert [r["points"] for r in response.json()["results"]][:2] == [500, 230]
    assert cs_client.get(reverse("loyalty-leaderboard"), {"month": "bad"}).status_code == 400
    assert cs_client.get(reverse("loyalty-power-users")).status_code == 200


def test_unknown_member_is_a_404(cs_client, program):
    assert cs_client.get(reverse("loyalty-member", args=[987654])).status_code == 404


def test_api_requires_authentication_and_staff(program, member):
    assert APIClient().get(reverse("loyalty-member", args=[member.pk])).status_code in (401, 403)
    client = APIClient()
    client.force_authenticate(UserFactory(is_staff=False))
    assert client.get(reverse("loyalty-member", args=[member.pk])).status_code == 403


def test_api_key_needs_the_loyalty_read_scope(member):
    good = ApiKeyFactory(scopes=["loyalty:read"])
    bad = ApiKeyFactory(scopes=["storefront:write"])
    url = reverse("loyalty-member", args=[member.pk])
    assert APIClient().get(url, HTTP_AUTHORIZATION=f"Api-Key {good.plain_key}").status_code == 200
    assert APIClient().get(url, HTTP_AUTHORIZATION=f"Api-Key {bad.plain_key}").status_code == 403
    write = APIClient().post(reverse("loyalty-member-adjust", args=[member.pk]), {"amount": 5, "comment": "x"},
                             format="json", HTTP_AUTHORIZATION=f"Api-Key {good.plain_key}")
    assert write.status_code == 403


def test_admin_member_page_shows_balance_and_adjust_requires_comment(client, admin_user, member):
    admin_user.is_superuser = True
    admin_user.save()
    client.force_login(admin_user)
    page = client.get(reverse("admin:loyalty_loyaltymember_change", args=[member.pk]))
    assert page.status_code == 200
    assert b"200 active" in page.content and b"Storyteller" in page.content

    url = reverse("admin:loyalty_loyaltymember_adjust", args=[member.pk])
    assert client.post(url, {"amount": 10, "comment": ""}).status_code == 200  # re-shown with an error
    assert PointsEntry.objects.filter(buyer=member, kind="adjust").count() == 0
    assert client.post(url, {"amount": 10, "comment": "Parcel lost"}).status_code == 302
    assert PointsEntry.objects.get(buyer=member, kind="adjust").comment == "Parcel lost"
