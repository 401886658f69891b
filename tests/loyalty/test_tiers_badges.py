from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from buyers.factories import BuyerFactory
from loyalty import badges, tiers
from loyalty.factories import BadgeFactory, EarnLotFactory, TierFactory
from loyalty.models import BadgeAward, BadgeMetric, BuyerTier, PointsEntry, SourceType, TierChange
from marketplace.factories import EngagementEventFactory, OrderFactory
from marketplace.models import EngagementKind
from sellers.factories import SellerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def ladder(program):
    return (
        TierFactory(code="member", rank=0, threshold=Decimal(0)),
        TierFactory(code="silver", rank=1, threshold=Decimal(500), multiplier=Decimal("1.25")),
        TierFactory(code="gold", rank=2, threshold=Decimal(2000), multiplier=Decimal("1.5")),
    )


def _tier_of(buyer):
    return BuyerTier.objects.select_related("tier").get(buyer=buyer).tier.code


def test_recompute_places_members_by_points_earned_and_records_the_cause(ladder):
    rich, plain = BuyerFactory(), BuyerFactory()
    EarnLotFactory(buyer=rich, amount=2500)
    EarnLotFactory(buyer=plain, amount=100)

    stats = tiers.tiers_recompute()

    assert (_tier_of(rich), _tier_of(plain)) == ("gold", "member")
    assert stats["changed"] == 2
    change = TierChange.objects.get(buyer=rich)
    assert (change.from_tier, change.to_tier.code, change.cause) == (None, "gold", "recompute")
    assert tiers.tiers_recompute()["changed"] == 0  # idempotent


def test_downgrade_waits_for_the_grace_period(ladder, program):
    program.downgrade_grace_days = 30
    program.save()
    buyer = BuyerFactory()
    lot = EarnLotFactory(buyer=buyer, amount=600)
    now = timezone.now()
    tiers.tiers_recompute(now=now)
    PointsEntry.objects.filter(pk=lot.pk).update(occurred_at=now - timedelta(days=400))  # out of the window

    tiers.tiers_recompute(now=now + timedelta(days=1))
    assert _tier_of(buyer) == "silver"
    assert BuyerTier.objects.get(buyer=buyer).below_since is not None

    tiers.tiers_recompute(now=now + timedelta(days=32))
    assert _tier_of(buyer) == "member"
    assert TierChange.objects.filter(buyer=buyer).first().cause == "grace_expired"


def test_override_is_a_separate_record_and_ends_on_its_date(ladder, admin_user):
    buyer = BuyerFactory()
    now = timezone.now()
    tiers.tiers_recompute(now=now)
    override = tiers.tier_override_create(buyer_id=buyer.pk, tier_id=ladder[2].pk, reason="Flagship artisan ambassador",
                                          ends_at=now + timedelta(days=10), actor=admin_user)
    assert _tier_of(buyer) == "gold"
    assert TierChange.objects.filter(buyer=buyer).first().override == override

    tiers.tiers_recompute(now=now + timedelta(days=11))
    assert _tier_of(buyer) == "member"
    assert TierChange.objects.filter(buyer=buyer).first().cause == "override_ended"


def test_override_without_reason_is_rejected(ladder, admin_user):
    with pytest.raises(ValidationError) as err:
        tiers.tier_override_create(buyer_id=BuyerFactory().pk, tier_id=ladder[1].pk, reason="",
                                   ends_at=timezone.now() + timedelta(days=1), actor=admin_user)
    assert "reason" in err.value.message_dict


def test_overlapping_tier_thresholds_are_rejected_and_nothing_changes(ladder, admin_user):
    bad = [
        {"code": "member", "rank": 0, "threshold": 0},
        {"code": "silver", "rank": 1, "threshold": 800},
        {"code": "gold", "rank": 2, "threshold": 800},
    ]
    with pytest.raises(ValidationError, match="overlaps"):
        tiers.tiers_configure(tiers=bad, actor=admin_user)
    assert [t.threshold for t in ladder[1].__class__.objects.order_by("rank")] == [0, 500, 2000]


def test_tiers_configure_saves_a_valid_table(ladder, admin_user):
    saved = tiers.tiers_configure(
        tiers=[{"code": "member", "rank": 0, "threshold": 0}, {"code": "silver", "rank": 1, "threshold": 2000},
               {"code": "gold", "rank": 2, "threshold": 5000, "multiplier": 2}],
        basis="qualifying_spend", actor=admin_user,
    )
    assert [(t.code, t.threshold) for t in saved] == [("member", 0), ("silver", 2000), ("gold", 5000)]


def test_preview_counts_members_per_tier_without_saving(ladder):
    for amount in (100, 700, 900, 3000):
        EarnLotFactory(buyer=BuyerFactory(), amount=amount)
    BuyerFactory()  # no activity

    preview = tiers.tiers_preview(tiers=[{"code": "member", "rank": 0, "threshold": 0},
                                         {"code": "silver", "rank": 1, "threshold": 800},
                                         {"code": "gold", "rank": 2, "threshold": 1000}])

    assert {t["code"]: t["members"] for t in preview["tiers"]} == {"member": 3, "silver": 1, "gold": 1}
    assert ladder[1].__class__.objects.get(code="silver").threshold == 500


def test_preview_applies_overrides_and_the_grace_period_like_the_next_recompute(ladder, program, admin_user):
    program.downgrade_grace_days = 30
    program.save()
    now = timezone.now()
    slipping, pinned = BuyerFactory(), BuyerFactory()
    EarnLotFactory(buyer=slipping, amount=600)
    tiers.tiers_recompute(now=now)  # slipping: silver, pinned: member
    tiers.tier_override_create(buyer_id=pinned.pk, tier_id=ladder[2].pk, reason="Ambassador",
                               ends_at=now + timedelta(days=60), actor=admin_user)
    candidate = [{"code": "member", "rank": 0, "threshold": 0}, {"code": "silver", "rank": 1, "threshold": 1000},
                 {"code": "gold", "rank": 2, "threshold": 5000}]

    later = timezone.now()  # the override starts when it is created
    preview = tiers.tiers_preview(tiers=candidate, now=later)

    counts = {t["code"]: (t["members"], t["members_after_recompute"]) for t in preview["tiers"]}
    # Both qualify only for member under the candidate: slipping keeps silver during the grace
    # period, and pinned keeps the gold override.
    assert counts == {"member": (2, 0), "silver": (0, 1), "gold": (0, 1)}
    assert (preview["kept_by_grace"], preview["held_by_override"]) == (1, 1)

    no_grace = tiers.tiers_preview(tiers=candidate, grace_days=0, now=later)
    assert {t["code"]: t["members_after_recompute"] for t in no_grace["tiers"]} == {"member": 1, "silver": 0, "gold": 1}

    tiers.tiers_configure(tiers=candidate, actor=admin_user)
    tiers.tiers_recompute(now=later)
    assert (_tier_of(slipping), _tier_of(pinned)) == ("silver", "gold")


def _orders(buyer, seller, n, days_ago=20):
    now = timezone.now()
    return [OrderFactory(buyer=buyer, seller=seller, placed_at=now - timedelta(days=days_ago + i)) for i in range(n)]


def test_support_your_artisan_badge_is_awarded_once_with_its_bonus(program):
    badge = BadgeFactory(code="support-your-artisan", threshold=3, points_bonus=100)
    loyal, casual = BuyerFactory(), BuyerFactory()
    seller = SellerFactory()
    _orders(loyal, seller, 3)
    _orders(casual, seller, 2)
    _orders(casual, SellerFactory(), 2)  # spread over artisans does not count

    assert badges.badges_evaluate() == {"support-your-artisan": 1}
    assert badges.badges_evaluate() == {"support-your-artisan": 0}

    award = BadgeAward.objects.get()
    assert (award.buyer, award.badge, award.metric_value, award.period_key) == (loyal, badge, 3, "once")
    assert PointsEntry.objects.get(source_type=SourceType.BADGE).amount == 100


def test_follower_badge_counts_distinct_artisans(program):
    BadgeFactory(code="follower", metric=BadgeMetric.ARTISANS_FOLLOWED, threshold=2)
    buyer = BuyerFactory()
    seller = SellerFactory()
    for target in (seller, seller, SellerFactory()):
        EngagementEventFactory(buyer=buyer, kind=EngagementKind.FOLLOW_ARTISAN, target_seller=target)
    other = BuyerFactory()
    EngagementEventFactory(buyer=other, kind=EngagementKind.FOLLOW_ARTISAN, target_seller=seller)
    EngagementEventFactory(buyer=other, kind=EngagementKind.FOLLOW_ARTISAN, target_seller=seller)

    badges.badges_evaluate()

    assert list(BadgeAward.objects.values_list("buyer_id", flat=True)) == [buyer.pk]


def test_revoking_a_badge_needs_a_reason_and_takes_back_the_bonus(program, admin_user):
    BadgeFactory(metric=BadgeMetric.STORIES_SHARED, threshold=1, points_bonus=40)
    event = EngagementEventFactory(kind=EngagementKind.STORY_SHARE)
    badges.badges_evaluate()
    award = BadgeAward.objects.get()

    with pytest.raises(ValidationError):
        badges.badge_revoke(award_id=award.pk, reason=" ", actor=admin_user)
    badges.badge_revoke(award_id=award.pk, reason="Shared someone else's story", actor=admin_user)

    award.refresh_from_db()
    assert award.revoked_reason == "Shared someone else's story"
    assert sum(PointsEntry.objects.filter(buyer=event.buyer).values_list("amount", flat=True)) == 0
    badges.badges_evaluate()
    assert BadgeAward.objects.count() == 1  # a revoked once-only badge is not silently re-awarded


def test_threshold_analysis_compares_repeat_rates_of_qualifiers(program):
    badge = BadgeFactory(threshold=2, window_days=100)
    seller = SellerFactory()
    now = timezone.now()
    # Observation window is 200..100 days ago; outcome window is the last 100 days.
    loyal = [BuyerFactory() for _ in range(2)]
    casual = [BuyerFactory() for _ in range(3)]
    for b in loyal:
        _orders(b, seller, 2, days_ago=150)
        _orders(b, seller, 1, days_ago=30)
    for i, b in enumerate(casual):
        _orders(b, SellerFactory(), 1, days_ago=150)
        if i == 0:
            _orders(b, seller, 1, days_ago=30)

    result = badges.badge_threshold_analysis(badge=badge, thresholds=[1, 2], as_of=now)

    by_t = {r["threshold"]: r for r in result["rows"]}
    assert result["population"] == 5
    assert (by_t[2]["qualifiers"], by_t[2]["repeat_rate_qualifiers"]) == (2, 1.0)
    assert by_t[2]["repeat_rate_non_qualifiers"] == round(1 / 3, 4)
    assert by_t[1]["qualifiers"] == 5


def test_the_pipeline_tier_chunk_places_exactly_the_members_of_its_key_range_with_bounded_statements(ladder):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from loyalty.pipeline import tiers_chunk

    members = BuyerFactory.create_batch(6)
    for buyer, amount in zip(members, [2500, 100, 700, 0, 2100, 600]):
        if amount:
            EarnLotFactory(buyer=buyer, amount=amount)
    inside = members[1:5]

    with CaptureQueriesContext(connection) as queries:
        changed = tiers_chunk(lo=inside[0].pk, hi=inside[-1].pk, as_of=timezone.now())

    assert changed == 4
    assert {bt.buyer_id: bt.tier.code for bt in BuyerTier.objects.select_related("tier")} == {
        members[1].pk: "member", members[2].pk: "silver", members[3].pk: "member", members[4].pk: "gold",
    }
    # Bounded by the range's two ends, not by a list of its members' ids.
    assert not any(" IN (" in q["sql"] and str(inside[1].pk) in q["sql"] for q in queries.captured_queries)
    # Same placements as the recompute by id list; a second pass changes nothing.
    assert tiers_chunk(lo=inside[0].pk, hi=inside[-1].pk, as_of=timezone.now()) == 0
    assert tiers.tiers_recompute(buyer_ids=[m.pk for m in inside])["changed"] == 0


def test_a_recompute_large_enough_for_copy_stores_the_same_placements_and_history(ladder):
    from loyalty.bulk import COPY_MIN_ROWS

    members = BuyerFactory.create_batch(COPY_MIN_ROWS + 3)
    EarnLotFactory(buyer=members[0], amount=2500)
    EarnLotFactory(buyer=members[1], amount=600)
    now = timezone.now()

    stats = tiers.tiers_recompute(now=now)

    assert stats == {"members": len(members), "changed": len(members)}
    placed = dict(BuyerTier.objects.values_list("buyer_id", "tier__code"))
    assert (placed[members[0].pk], placed[members[1].pk], placed[members[2].pk]) == ("gold", "silver", "member")
    row = BuyerTier.objects.get(buyer=members[0])
    assert (row.basis_value, row.since, row.below_since) == (Decimal("2500"), now, None)
    change = TierChange.objects.get(buyer=members[0])
    assert (change.from_tier_id, change.to_tier.code, change.basis_value, change.created_at) == (None, "gold", Decimal("2500"), now)
    assert "2500" in change.detail
    assert tiers.tiers_recompute(now=now)["changed"] == 0 and TierChange.objects.count() == len(members)
