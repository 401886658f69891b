"""The lift estimator: its numbers against independently computed closed forms, and the report
built from real assignments and orders."""

import math
from datetime import timedelta

import numpy as np
import pytest

from buyers.factories import BuyerFactory, InterventionAssignmentFactory
from retention.impact import RETAINED, Z_95, impact_report, lift_estimate, newcombe_interval, subjects_needed, wilson_interval
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


def test_subjects_needed_is_the_closed_form_sample_size():
    # n = z^2 (p1 q1 / (1 - h) + p2 q2 / h) / d^2 with p1 = 0.5, p2 = 0.4, h = 0.3.
    expected = math.ceil(Z_95**2 * (0.25 / 0.7 + 0.24 / 0.3) / 0.01)
    assert subjects_needed(p_treated=0.5, p_holdout=0.4, holdout_share=0.3) == expected == 445


def test_an_inconclusive_lift_says_how_many_more_cases_are_needed():
    lift = lift_estimate(kind="k", outcome=RETAINED, treated=70, treated_successes=35, held_out=30, held_out_successes=12)

    assert not lift.significant
    assert lift.more_subjects_needed == 445 - 100
    assert lift.more_cases_needed == math.ceil(345 * 0.7)
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
    assert row.lift_ci95 == pytest.approx(newcombe_interval(3, 4, 1, 2))
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
