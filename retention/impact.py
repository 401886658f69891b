"""Did it work? The lift of each intervention over its holdout, with an honest 95% interval.

One estimator serves the ``retention_report`` command, the "Did it work?" page, the intervention
API and the admin's impact view.

Each flagged subject was randomised into a treated or a held-out arm (retention.interventions), so
the difference of the two arms' outcome rates estimates the average effect of *offering* the play
(intention to treat: a treated case nobody worked still counts as treated). The interval is
Newcombe's hybrid score interval for a difference of independent proportions (Newcombe 1998,
method 10): it combines the two Wilson intervals and, unlike the Wald interval, keeps close to
its coverage with small arms and rates near 0 or 1 — holdouts are small by design.

The report is live: outcome windows close every day and staff look whenever they like, and the
page tells them how many more cases a conclusion needs, so they stop when the interval excludes
zero. A fixed-sample 95% interval read that way is wrong far more often than 5%: with no effect
at all, looked at every ten subjects up to a thousand, one excludes zero at some look in about a
third of experiments. So the intervals are 95% *confidence sequences*: the critical value is the
two-sided normal-mixture boundary of an asymptotic confidence sequence (Waudby-Smith, Arbour,
Sinha, Kennedy and Ramdas, "Time-uniform central limit theory and asymptotic confidence
sequences", Annals of Statistics 2024, Theorem 2.2), which holds at every look at once, in place
of 1.96 in both Wilson intervals. Its price is width: about 3.1 instead of 1.96 near
``PLANNED_SUBJECTS``, so a conclusion needs about 2.5 times the subjects a single planned look
would.

"Cases still needed" uses the normal approximation at the observed rates: the smallest total
number of flagged subjects n at which the boundary at n, times the standard error at n, falls
below the observed lift, with the arms split as they are now. It is a planning figure, not a
promise; with no lift observed it is None.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import datetime

from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from buyers.models import InterventionArm, InterventionAssignment
from casework.models import CaseStatus, case_kind_label
from core import formatting
from marketplace.models import Order, OrderStatus

Z_95 = 1.959963984540054
ALPHA = 0.05
# The confidence sequence is tightest around this many closed subjects per intervention (about a
# quarter's flags of one play at the mid size of docs/simulation.md) and widens slowly either side.
PLANNED_SUBJECTS = 300


def anytime_z(subjects: int, *, alpha: float = ALPHA, planned: int = PLANNED_SUBJECTS) -> float:
    """Critical value of the two-sided (1 - alpha) normal-mixture confidence sequence at n subjects.

    The boundary is sigma * sqrt(2 (n r^2 + 1) / (n^2 r^2) * log(sqrt(n r^2 + 1) / alpha)) around the
    running mean of n observations; divided by the standard error sigma / sqrt(n) it is this z. The
    mixing scale r minimises the boundary at n = ``planned`` (the paper's closed-form choice).
    """
    if subjects < 1:
        raise ValueError("A confidence sequence needs at least one subject.")
    log_term = -2 * math.log(alpha)
    rho_squared = (log_term + math.log(log_term + 1)) / planned
    x = subjects * rho_squared
    return math.sqrt(2 * (x + 1) / x * math.log(math.sqrt(x + 1) / alpha))


# Outcomes measured per assignment: label, and whether a higher rate is better.
RETAINED = "retained"
LATE_SHIPMENT = "late_shipment"
OUTCOMES = {
    RETAINED: ("Bought (buyers) or sold (artisans) within the outcome window", True),
    LATE_SHIPMENT: ("Shipped at least one order late within the outcome window (artisans)", False),
}


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float] | None:
    if n == 0:
        return None
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return (max(0.0, centre - half), min(1.0, centre + half))


def newcombe_interval(x1: int, n1: int, x2: int, n2: int, z: float = Z_95) -> tuple[float, float] | None:
    """Interval of p1 - p2 (Newcombe's hybrid score method) at critical value z; None when an arm is empty."""
    if n1 == 0 or n2 == 0:
        return None
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson_interval(x1, n1, z)
    l2, u2 = wilson_interval(x2, n2, z)
    d = p1 - p2
    lower = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    upper = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return (lower, upper)


def subjects_needed(*, p_treated: float, p_holdout: float, holdout_share: float) -> int | None:
    """Flagged subjects in total at which the confidence sequence of the observed lift would exclude zero."""
    lift = p_treated - p_holdout
    if lift == 0 or not 0 < holdout_share < 1:
        return None
    # Rates of exactly 0 or 1 give a zero variance; a floor of half a success keeps the figure sane.
    variance = max(p_treated * (1 - p_treated), 0.01) / (1 - holdout_share) + max(p_holdout * (1 - p_holdout), 0.01) / holdout_share

    def enough(n: int) -> bool:
        return anytime_z(n) ** 2 * variance / n <= lift * lift

    # z(n)^2 / n falls as n grows, so the smallest n that is enough is found by bisection.
    low, high = 1, 2
    while not enough(high):
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if enough(middle) else (middle, high)
    return high


@dataclass(frozen=True)
class Lift:
    kind: str
    outcome: str
    higher_is_better: bool
    treated: int
    treated_successes: int
    held_out: int
    held_out_successes: int
    cases_worked: int
    treated_rate: float | None
    held_out_rate: float | None
    treated_ci95: tuple[float, float] | None
    held_out_ci95: tuple[float, float] | None
    lift: float | None
    lift_ci95: tuple[float, float] | None
    significant: bool
    verdict: str
    more_subjects_needed: int | None
    more_cases_needed: int | None

    def as_dict(self) -> dict:
        return asdict(self)


def lift_estimate(
    *, kind: str, outcome: str, treated: int, treated_successes: int, held_out: int, held_out_successes: int, cases_worked: int = 0
) -> Lift:
    """The lift of one intervention on one outcome from the two arms' counts."""
    _label, higher_is_better = OUTCOMES.get(outcome, ("", True))
    rate_t = treated_successes / treated if treated else None
    rate_h = held_out_successes / held_out if held_out else None
    lift = rate_t - rate_h if treated and held_out else None
    z = anytime_z(max(treated + held_out, 1))
    ci = newcombe_interval(treated_successes, treated, held_out_successes, held_out, z)
    significant = ci is not None and (ci[0] > 0 or ci[1] < 0)
    more_subjects = more_cases = None
    if lift is None:
        verdict = "No conclusion yet: one arm has no closed outcome windows."
    elif significant:
        good = (lift > 0) == higher_is_better
        verdict = "It works: the interval excludes zero." if good else "It backfires: the interval excludes zero the wrong way."
    else:
        total = treated + held_out
        needed = subjects_needed(p_treated=rate_t, p_holdout=rate_h, holdout_share=held_out / total)
        if needed is None:
            verdict = "No effect seen so far; no number of further cases is expected to show one."
        else:
            more_subjects = max(needed - total, 0)
            more_cases = math.ceil(more_subjects * treated / total)
            verdict = (
                f"Cannot conclude yet: about {more_cases:,} more cases ({more_subjects:,} flagged subjects with the "
                f"holdout) are needed at the lift seen so far."
            )
    return Lift(
        kind=kind,
        outcome=outcome,
        higher_is_better=higher_is_better,
        treated=treated,
        treated_successes=treated_successes,
        held_out=held_out,
        held_out_successes=held_out_successes,
        cases_worked=cases_worked,
        treated_rate=rate_t,
        held_out_rate=rate_h,
        treated_ci95=wilson_interval(treated_successes, treated, z),
        held_out_ci95=wilson_interval(held_out_successes, held_out, z),
        lift=lift,
        lift_ci95=ci,
        significant=significant,
        verdict=verdict,
        more_subjects_needed=more_subjects,
        more_cases_needed=more_cases,
    )


def _annotated(assignments):
    """Each assignment with its outcomes within (flagged_at, window_ends_at]."""
    in_window = Order.objects.filter(placed_at__gt=OuterRef("flagged_at"), placed_at__lte=OuterRef("window_ends_at"))
    kept = in_window.exclude(status=OrderStatus.CANCELLED)
    late = in_window.filter(shipped_at__gt=F("ship_by"))
    return assignments.annotate(
        bought=Exists(kept.filter(buyer_id=OuterRef("buyer_id"))),
        sold=Exists(kept.filter(seller_id=OuterRef("seller_id"))),
        shipped_late=Exists(late.filter(seller_id=OuterRef("seller_id"))),
    )


def impact_tallies(*, as_of: datetime | None = None, include_open: bool = False, kinds=None) -> dict:
    """(kind, outcome) -> counts per arm, from the assignments whose outcome window has closed."""
    as_of = as_of or timezone.now()
    assignments = InterventionAssignment.objects.all()
    if not include_open:
        assignments = assignments.filter(window_ends_at__lte=as_of)
    if kinds is not None:
        assignments = assignments.filter(kind__in=list(kinds))
    rows = _annotated(assignments).values_list("kind", "arm", "seller_id", "bought", "sold", "shipped_late", "case__status").order_by()
    tallies: dict[tuple[str, str], dict] = {}

    def add(kind, outcome, arm, success, worked):
        tally = tallies.setdefault((kind, outcome), {"treated": 0, "treated_successes": 0, "held_out": 0, "held_out_successes": 0, "cases_worked": 0})
        prefix = "treated" if arm == InterventionArm.TREATED else "held_out"
        tally[prefix] += 1
        tally[f"{prefix}_successes"] += int(bool(success))
        tally["cases_worked"] += int(bool(worked) and arm == InterventionArm.TREATED)

    for kind, arm, seller_id, bought, sold, late, case_status in rows:
        # A case counts as worked once staff resolved it (dismissed cases were not worked).
        worked = case_status == CaseStatus.RESOLVED
        add(kind, RETAINED, arm, bought or sold, worked)
        if seller_id is not None:
            add(kind, LATE_SHIPMENT, arm, late, worked)
    return tallies


def impact_report(*, as_of: datetime | None = None, include_open: bool = False, kinds=None) -> list[Lift]:
    """Per intervention kind and outcome: treated against held out, lift with its 95% interval."""
    tallies = impact_tallies(as_of=as_of, include_open=include_open, kinds=kinds)
    return [lift_estimate(kind=kind, outcome=outcome, **counts) for (kind, outcome), counts in sorted(tallies.items())]


def intervention_report(*, as_of: datetime | None = None, include_open: bool = False) -> list[dict]:
    """Per intervention kind, the retained outcome of ``impact_report`` as plain numbers (the API's
    and the admin impact view's shape): counts, rates and intervals rounded to four places."""

    def rounded(values):
        return None if values is None else tuple(round(v, 4) for v in values)

    return [
        {
            "kind": row.kind,
            "treated": row.treated,
            "treated_retained": row.treated_successes,
            "treated_rate": row.treated_rate,
            "treated_ci95": rounded(row.treated_ci95),
            "held_out": row.held_out,
            "held_out_retained": row.held_out_successes,
            "held_out_rate": row.held_out_rate,
            "held_out_ci95": rounded(row.held_out_ci95),
            "lift": row.lift,
            "lift_ci95": rounded(row.lift_ci95),
        }
        for row in impact_report(as_of=as_of, include_open=include_open)
        if row.outcome == RETAINED
    ]


def intervention_report_shown(rows: list[dict]) -> list[dict]:
    """``intervention_report`` rows as the admin impact page reads them: the play by its case kind's
    name, rates as percentages and the lift in percentage points, each with its 95% interval."""

    def rate(value, interval):
        if value is None:
            return formatting.DASH
        low, high = interval or (None, None)
        span = f" ({formatting.percent(low, 1)} to {formatting.percent(high, 1)})" if interval else ""
        return f"{formatting.percent(value, 1)}{span}"

    def lift(value, interval):
        if value is None:
            return formatting.DASH
        span = f" ({formatting.point_difference_interval(*interval)})" if interval else ""
        return f"{formatting.point_difference(value)}{span}"

    return [
        {
            **row,
            "play": case_kind_label(row["kind"]),
            "treated_rate_shown": rate(row["treated_rate"], row["treated_ci95"]),
            "held_out_rate_shown": rate(row["held_out_rate"], row["held_out_ci95"]),
            "lift_shown": lift(row["lift"], row["lift_ci95"]),
        }
        for row in rows
    ]
