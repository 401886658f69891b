"""The lift estimator: its numbers against independently computed closed forms, and the report
built from real assignments and orders."""

import math
from datetime import timedelta

import numpy as np
import pytest

from buyers.factories import BuyerFactory, InterventionAssignmentFactory
from retention.impact import (
    PLANNED_SUBJECTS, RETAINED, Z_95, anytime_z, impact_report, lift_estimate, newcombe_interval, subjects_needed, wilson_interval,
)
from marketplace.factories import OrderFactory


def _wilson_by_roots(x, n, z=Z_95):
    """Wilson limits as the roots of (p - pi)^2 = z^2 pi (1 - pi) / n, solved as a quadratic in pi."""
    p = x / n
    a = 1 + z * z / n
    b = -(2 * p + z * z / n)
    c = p * p
    return tuple(sorted(np.roots([a, b, c]).real))


@pytest.mark.parametrize("x,n", [(56, 70), (48, 80), (0, 10), (10, 10), (3, 40)])
def test_wilson_interval_matches_the_roots_of_the_score_equation(x, n):
    low, high = wilson_interval(x, n)
    expected = _wilson_by_roots(x, n)
    assert low == pytest.approx(max(expected[0], 0.0), abs=1e-9)
    assert high == pytest.approx(min(expected[1], 1.0), abs=1e-9)


def test_newcombe_interval_of_a_difference_combines_the_two_wilson_intervals():
    # Newcombe (1998), example (a): 56/70 against 48/80.
    l1, u1 = _wilson_by_roots(56, 70)
    l2, u2 = _wilson_by_roots(48, 80)
    d = 56 / 70 - 48 / 80
    expected = (d - math.sqrt((56 / 70 - l1) ** 2 + (u2 - 48 / 80) ** 2), d + math.sqrt((u1 - 56 / 70) ** 2 + (48 / 80 - l2) ** 2))

    low, high = newcombe_interval(56, 70, 48, 80)

    assert (low, high) == pytest.approx(expected, abs=1e-9)
    # The published interval for this example (method 10) is 0.0524 to 0.3339.
    assert (round(low, 4), round(high, 4)) == (0.0524, 0.3339)


def test_no_interval_when_an_arm_is_empty():
    assert newcombe_interval(3, 10, 0, 0) is None
    lift = lift_estimate(kind="k", outcome=RETAINED, treated=10, treated_successes=3, held_out=0, held_out_successes=0)
    assert lift.lift is None and not lift.significant and "No conclusion yet" in lift.verdict


def _boundary(n, alpha=0.05, planned=PLANNED_SUBJECTS):
    """The normal-mixture confidence sequence's half-width for a mean of n unit-variance
    observations (Waudby-Smith et al. 2024, Theorem 2.2), with rho tuned for n = planned."""
    rho2 = (-2 * math.log(alpha) + math.log(-2 * math.log(alpha) + 1)) / planned
    return math.sqrt(2 * (n * rho2 + 1) / (n * n * rho2) * math.log(math.sqrt(n * rho2 + 1) / alpha))


@pytest.mark.parametrize("n", [1, 30, 150, 300, 1_000, 100_000])
def test_anytime_critical_value_is_the_mixture_boundary_over_the_standard_error(n):
    assert anytime_z(n) == pytest.approx(_boundary(n) * math.sqrt(n), rel=1e-12)
    assert anytime_z(n) > Z_95


def test_anytime_critical_value_is_smallest_near_the_planned_size():
    values = {n: anytime_z(n) for n in (30, 100, 200, PLANNED_SUBJECTS, 500, 1_000, 10_000)}
    assert min(values, key=values.get) == PLANNED_SUBJECTS
    assert 3.0 < values[PLANNED_SUBJECTS] < 3.1


def test_no_effect_watched_at_every_look_is_rarely_called_significant():
    # A play with no effect, 30% held out, read every 20 closed subjects from 40 to 600: the
    # report's interval must exclude zero at some look in at most 5% of experiments. A
    # fixed-sample 95% interval read the same way does so in about a quarter of them.
    rng = np.random.default_rng(2026)
    experiments, subjects = 600, 600
    ever_anytime = ever_fixed = 0
    for _ in range(experiments):
        held = rng.random(subjects) < 0.3
        bought = rng.random(subjects) < 0.65
        anytime = fixed = False
        for n in range(40, subjects + 1, 20):
            h, b = held[:n], bought[:n]
            counts = dict(treated=int((~h).sum()), treated_successes=int((b & ~h).sum()),
                          held_out=int(h.sum()), held_out_successes=int((b & h).sum()))
            anytime |= lift_estimate(kind="k", outcome=RETAINED, **counts).significant
            low, high = newcombe_interval(counts["treated_successes"], counts["treated"], counts["held_out_successes"], counts["held_out"])
            fixed |= low > 0 or high < 0
        ever_anytime += anytime
        ever_fixed += fixed
    assert ever_anytime / experiments <= 0.05
    assert ever_fixed / experiments >= 0.15


def test_subjects_needed_is_the_smallest_total_at_which_the_boundary_clears_the_lift():
    # Variance per subject v = p1 q1 / (1 - h) + p2 q2 / h with p1 = 0.5, p2 = 0.4, h = 0.3; the
    # lift 0.1 clears the boundary once z(n)^2 v / n <= 0.1^2.
    v = 0.25 / 0.7 + 0.24 / 0.3
    needed = subjects_needed(p_treated=0.5, p_holdout=0.4, holdout_share=0.3)
    assert _boundary(needed) ** 2 * v <= 0.01 < _boundary(needed - 1) ** 2 * v
    # A single planned look would need 445: the price of reading the report at any time.
    assert math.ceil(Z_95**2 * v / 0.01) == 445
    assert 1_000 < needed < 1_300


def test_an_inconclusive_lift_says_how_many_more_cases_are_needed():
    lift = lift_estimate(kind="k", outcome=RETAINED, treated=70, treated_successes=35, held_out=30, held_out_successes=12)
    needed = subjects_needed(p_treated=0.5, p_holdout=0.4, holdout_share=0.3)

    assert not lift.significant
    assert lift.more_subjects_needed == needed - 100
    assert lift.more_cases_needed == math.ceil((needed - 100) * 0.7)
    assert f"{lift.more_cases_needed:,} more cases" in lift.verdict


def test_impact_report_counts_purchases_inside_each_closed_window_only(db):
    treated = [InterventionAssignmentFactory(arm="treated") for _ in range(4)]
    held = [InterventionAssignmentFactory(arm="holdout") for _ in range(2)]
    still_open = InterventionAssignmentFactory(arm="treated", flagged_at=treated[0].flagged_at + timedelta(days=60))
    for a in treated[:3] + held[:1] + [still_open]:
        OrderFactory(buyer=a.buyer, placed_at=a.flagged_at + timedelta(days=10))
    OrderFactory(buyer=treated[3].buyer, placed_at=treated[3].flagged_at - timedelta(days=5))  # before the flag
    OrderFactory(buyer=held[1].buyer, placed_at=held[1].window_ends_at + timedelta(days=1))  # after the window

    (row,) = impact_report()

    assert (row.kind, row.outcome) == ("buyer_churn_risk", RETAINED)
    assert (row.treated, row.treated_successes, row.held_out, row.held_out_successes) == (4, 3, 2, 1)
    assert row.lift == pytest.approx(0.75 - 0.5)
    assert row.lift_ci95 == pytest.approx(newcombe_interval(3, 4, 1, 2, anytime_z(6)))
    assert impact_report(include_open=True)[0].treated == 5


def test_retention_report_prints_the_same_estimate(db):
    import json
    from io import StringIO

    from django.core.management import call_command

    for arm in ("treated", "treated", "holdout"):
        InterventionAssignmentFactory(arm=arm, buyer=BuyerFactory())
    out = StringIO()
    call_command("retention_report", stdout=out)

    (line,) = out.getvalue().splitlines()
    row = json.loads(line)
    assert (row["treated"], row["held_out"], row["lift"]) == (2, 1, 0.0)
    assert "No effect seen so far" in row["verdict"]
