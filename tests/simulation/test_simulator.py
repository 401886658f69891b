"""The simulator on a tiny marketplace: reproducible from its seed, and the holdout report finds
the documented true effect."""

import pytest

from simulation import params as P
from retention.impact import newcombe_interval
from simulation.engine import Simulator, simulate

pytestmark = pytest.mark.django_db(transaction=True)

TINY = dict(sellers=8, buyers=240, history_months=6, flag_weeks=2, outcome_window_days=35, messages_per_week=80,
            holdout_share=0.4, end="2026-03-01")


def _summary(result):
    return [(r.kind, r.outcome, r.treated, r.treated_successes, r.held_out, r.held_out_successes) for r in result.report], result.truth


def test_same_seed_same_report_and_truth_and_a_strong_effect_is_recovered():
    # On a marketplace this small every buyer sits in the low churn band, so the message play
    # that reaches them (the points reminder) carries the effect under test.
    effects = dict(P.DEFAULT_EFFECTS, **{P.EXPIRY_REMINDER: P.Effect(persuadable_share=0.7)})
    params = P.SimulationParams(seed=5, effects=effects, **TINY)

    simulator = Simulator(params)
    first = simulator.run()
    second = simulate(params)

    assert _summary(first) == _summary(second)
    assert first.expected_per_case == second.expected_per_case
    # The expected effects are the realised ones without the persuadable coin: over the reached
    # subjects their sum agrees with the persuaded count within the coins' own noise, and each
    # lapsing subject's expectation is its persuadable share.
    reached = [t for t in simulator.truth.values() if t.kind == P.EXPIRY_REMINDER and t.reached]
    expected = [t.expected_effect for t in reached]
    assert abs(sum(expected) - sum(t.effect for t in reached)) < 4 * sum(e * (1 - e) for e in expected) ** 0.5
    assert {round(t.expected_effect, 6) for t in reached if t.effect > 0} == {0.7}
    row = first.lift(P.EXPIRY_REMINDER)
    truth = first.truth[P.EXPIRY_REMINDER]
    assert first.strata[P.EXPIRY_REMINDER]["persuaded"] > 10 and truth > 0.1
    # The report's interval is a 95% confidence sequence, wider than a single look's 99% interval
    # (the benchmark measures its coverage over seeds).
    low, high = row.lift_ci95
    assert (high - low) > (lambda lo, hi: hi - lo)(*newcombe_interval(
        row.treated_successes, row.treated, row.held_out_successes, row.held_out, z=2.576))
    assert low <= truth <= high
    assert row.significant and row.lift > 0


def test_a_different_seed_gives_a_different_marketplace_with_its_own_holdout_arms():
    def run(seed):
        simulator = Simulator(P.SimulationParams(seed=seed, **TINY))
        result = simulator.run()
        return result, {(t.kind, t.subject_id, t.flagged_at): t.arm for t in simulator.truth.values()}

    a, arms_a = run(5)
    b, arms_b = run(6)
    assert _summary(a) != _summary(b)
    # Buyer ids and flag days repeat from seed to seed: the subjects flagged on the same day in
    # both marketplaces must be drawn afresh (each seed is its own installation, with its own
    # holdout salt), not put in the same arm again.
    both = arms_a.keys() & arms_b.keys()
    assert len(both) >= 30
    assert sum(arms_a[k] != arms_b[k] for k in both) >= 0.2 * len(both)  # 0.48 expected at a 40% holdout


def test_storefront_events_go_through_kiln_ingestion_and_badge_notices_through_the_outbox():
    from buyers.models import InterventionArm, InterventionAssignment
    from core.models import OutboxMessage
    from integrations.models import PendingReaction
    from loyalty.models import BadgeAward
    from marketplace.models import EngagementEvent, Order, OrderStatus

    result = simulate(P.SimulationParams(seed=5, **TINY))

    # Every storefront fact after the start was accepted by Kiln's own services, and their
    # reactions ran: nothing refused, nothing left pending.
    assert not any(answers.get("rejected") for answers in result.ingest.values())
    after = Order.objects.filter(placed_at__gte=result.start)
    assert result.ingest["orders"]["created"] == after.count() > 0
    moved = after.exclude(status=OrderStatus.PLACED).count()
    assert result.ingest["status changes"]["updated"] >= moved > 0
    assert result.ingest["engagement events"]["created"] == EngagementEvent.objects.filter(occurred_at__gte=result.start).count()
    assert not PendingReaction.objects.exists()

    # The seeds' badge is awarded by Kiln; every new earner is flagged, and only the treated arm
    # is told, through the outbox.
    flagged = InterventionAssignment.objects.filter(kind=P.BADGE_NOTICE)
    assert flagged.count() == BadgeAward.objects.filter(badge__code="support-your-artisan").count() > 0
    told = set(OutboxMessage.objects.filter(category="loyalty_badge_earned").values_list("to", flat=True))
    treated = set(flagged.filter(arm=InterventionArm.TREATED).values_list("buyer__email", flat=True))
    assert told == treated
    assert result.lift(P.BADGE_NOTICE) is not None and P.BADGE_NOTICE in result.truth


def test_a_storefront_order_kiln_refuses_is_counted_and_never_stored():
    from buyers.factories import BuyerFactory
    from marketplace import api
    from marketplace.models import Order
    from sellers.factories import ListingFactory
    from simulation.engine import Storefront

    listing = ListingFactory(stock_quantity=1)
    buyer = BuyerFactory()
    order = {"external_id": "O-1", "buyer": buyer.external_id, "seller": listing.seller.external_id,
             "placed_at": "2026-01-05T10:00:00Z", "ship_by": "2026-01-08T10:00:00Z",
             "lines": [{"listing": listing.external_id, "quantity": 2, "unit_price": "30.00"}]}
    storefront = Storefront()

    results = storefront.send("orders", api.OrderSyncBulkApi, [order, {**order, "external_id": "O-2", "buyer": "nobody"}])

    assert [r["status"] for r in results] == ["rejected", "rejected"]  # over stock; unknown buyer
    assert storefront.answers["orders"]["rejected"] == 2 and not Order.objects.exists()


def test_a_relative_effect_multiplies_a_calibrated_retention_chance():
    effect = P.Effect(relative_lift=0.12)
    for churn in (0.2, 0.5, 0.8):
        # natural retention 1 - c; a lapser (chance c) is persuaded with the share: 1 - c + c * share
        retained = (1 - churn) + churn * effect.persuadable(churn)
        assert retained == pytest.approx(1.12 * (1 - churn))
    assert effect.persuadable(None) == 0.0
    assert P.Effect(relative_lift=5).persuadable(0.5) == 1.0
