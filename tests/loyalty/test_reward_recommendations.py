from datetime import timedelta

import pytest
from django.template.loader import render_to_string
from django.utils import timezone

from buyers.factories import BuyerFactory
from loyalty.factories import EarnLotFactory, RewardFactory, TierFactory
from loyalty.models import BuyerTier, EntryState, Redemption
from loyalty.recommend import cheapest_affordable, member_reward_recommendations, rewards_covered
from marketplace.factories import OrderFactory
from sellers.factories import SellerFactory

pytestmark = pytest.mark.django_db


def _member(points=500, pending=0):
    buyer = BuyerFactory()
    EarnLotFactory(buyer=buyer, amount=points)
    if pending:
        EarnLotFactory(buyer=buyer, amount=pending, state=EntryState.PENDING, available_at=timezone.now() + timedelta(days=5))
    return buyer


def test_rewards_the_member_buys_into_rank_above_cheaper_ones_they_do_not():
    buyer = _member(500)
    potter = SellerFactory(craft_category="ceramics", name="Juniper Clay")
    OrderFactory(buyer=buyer, seller=potter)
    OrderFactory(buyer=buyer, seller=potter)
    RewardFactory(name="Gift card", points_cost=100)
    RewardFactory(name="Glaze kit", points_cost=400, category="ceramics")
    RewardFactory(name="Juniper mug", points_cost=300, category="ceramics", seller=potter)

    names = [r["name"] for r in member_reward_recommendations(buyer_id=buyer.pk)]

    assert names == ["Juniper mug", "Glaze kit", "Gift card"]


def test_affordable_now_comes_before_affordable_soon_and_out_of_reach_is_left_out():
    buyer = _member(300, pending=200)
    RewardFactory(name="Now", points_cost=250)
    RewardFactory(name="Soon", points_cost=450)
    RewardFactory(name="Far", points_cost=5000)

    rows = member_reward_recommendations(buyer_id=buyer.pk)

    assert [(r["name"], r["affordable"], r["points_short"]) for r in rows] == [("Now", True, 0), ("Soon", False, 150)]


def test_tier_only_rewards_are_offered_only_to_that_tier():
    gold = TierFactory(code="gold", rank=9)
    member, gold_member = _member(500), _member(500)
    BuyerTier.objects.create(buyer=gold_member, tier=gold, since=timezone.now(), computed_at=timezone.now())
    RewardFactory(name="Gold lounge", points_cost=200, min_tier=gold)

    assert member_reward_recommendations(buyer_id=member.pk) == []
    assert [r["name"] for r in member_reward_recommendations(buyer_id=gold_member.pk)] == ["Gold lounge"]


def test_past_redemptions_pull_similar_rewards_up():
    buyer = _member(500)
    liked = RewardFactory(name="Weaving class", points_cost=200, category="textiles")
    RewardFactory(name="Print", points_cost=200, category="home_decor")
    debit = EarnLotFactory(buyer=buyer, amount=-1, remaining=0, kind="redeem", state="posted", source_type="redemption", source_id=None)
    Redemption.objects.create(buyer=buyer, reward=liked, points=200, entry=debit, created_at=timezone.now())

    rows = member_reward_recommendations(buyer_id=buyer.pk)

    assert rows[0]["name"] == "Weaving class" and "redeemed it before" in rows[0]["why"]


def test_the_baseline_lists_the_cheapest_affordable_rewards():
    buyer = _member(300)
    cheap, mid = RewardFactory(points_cost=50), RewardFactory(points_cost=200)
    RewardFactory(points_cost=900)

    assert cheapest_affordable(buyer_ids=[buyer.pk])[buyer.pk] == [cheap.pk, mid.pk]


def test_what_expiring_points_cover_is_only_what_they_pay_for_alone():
    rows = [{"name": "Mug", "points_cost": 300}, {"name": "Class", "points_cost": 900}]

    assert rewards_covered(rewards=rows, points=420) == ["Mug"]


def test_recommendations_are_in_the_member_api(admin_client):
    buyer = _member(500)
    RewardFactory(name="Gift card", points_cost=100)

    summary = admin_client.get(f"/api/v1/loyalty/members/{buyer.pk}/")
    listing = admin_client.get(f"/api/v1/loyalty/members/{buyer.pk}/reward-recommendations/")

    assert summary.status_code == 200 and summary.data["reward_recommendations"][0]["name"] == "Gift card"
    assert listing.data["results"][0]["affordable"] is True


def test_the_partial_for_the_buyer_page_renders_the_selector_output():
    buyer = _member(300, pending=200)
    RewardFactory(name="Glaze kit", points_cost=450)

    html = render_to_string(
        "loyalty/_reward_recommendations.html", {"reward_recommendations": member_reward_recommendations(buyer_id=buyer.pk)}
    )
    empty = render_to_string("loyalty/_reward_recommendations.html", {"reward_recommendations": []})

    assert "Glaze kit" in html and "150 more points" in html
    assert "No reward is within reach" in empty
