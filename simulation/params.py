"""Parameters of the simulator: sizes, staff capacity, holdouts and the ground-truth effects.

docs/simulation.md documents every one of them; change a number only together with the docs.
The marketplace itself (artisans, buyers, their purchases) is the generator's
(marketplace/generator/params.py): the simulator only decides how subjects respond to Kiln.
"""

from __future__ import annotations

from dataclasses import dataclass, field

RISK = "risk"
UPLIFT = "uplift"


@dataclass(frozen=True)
class Effect:
    """Ground truth of one intervention, as principal strata.

    A subject who would lapse without the play (no purchase, or no sale, in its outcome window)
    is *persuadable* with ``persuadable_share`` (and buys or sells because of it) and a *lost
    cause* otherwise; a subject who would stay anyway is *do-not-disturb* with
    ``do_not_disturb_share`` (the play drives it away: its remaining purchases or sales in the
    window vanish) and a *sure thing* otherwise.

    ``risk_slope`` makes persuadability heterogeneous for buyer plays: the persuadable share is
    ``persuadable_share * clip(1 + risk_slope * (0.8 - churn_probability) / 0.2, 0, 2)``, so at
    slope 1 a buyer at 80% churn risk has the base share, one at 60% twice it, one at 100% none:
    the riskiest buyers are mostly lost causes.
    """

    persuadable_share: float = 0.0
    do_not_disturb_share: float = 0.0
    risk_slope: float = 0.0
    # A relative effect on retention instead of a fixed share: a lapsing subject at churn
    # probability c is persuadable with min(1, relative_lift * (1 - c) / c), so a subject whose
    # natural chance to be retained is 1 - c is retained with (1 + relative_lift) * (1 - c)
    # when the churn probabilities are calibrated.
    relative_lift: float = 0.0

    def persuadable(self, churn_probability: float | None) -> float:
        if self.relative_lift:
            if churn_probability is None:
                return 0.0
            c = min(max(churn_probability, 0.01), 0.99)
            return min(self.relative_lift * (1 - c) / c, 1.0)
        if churn_probability is None or not self.risk_slope:
            return self.persuadable_share
        weight = min(max(1 + self.risk_slope * (0.8 - churn_probability) / 0.2, 0.0), 2.0)
        return min(self.persuadable_share * weight, 1.0)


# Interventions the simulator runs. Case kinds are worked by staff; message plays go to every
# treated subject through the outbox (and act only if the outbound policy lets them through).
BUYER_CHURN = "buyer_churn_risk"
SELLER_DORMANT = "seller_dormant"
RECOMMENDATION = "recommendation_email"
EXPIRY_REMINDER = "points_expiry_reminder"
BADGE_NOTICE = "artisan_badge_notice"

# The seeds' "support your artisan" badge (workflows/demo.py): three delivered orders from the
# same artisan within a year, 50 points. Kiln's badge evaluation awards it each simulated week;
# a notice of the award goes out through the outbox to the treated arm of the new earners.
SUPPORT_YOUR_ARTISAN = {
    "code": "support-your-artisan", "name": "Support your artisan",
    "description": "Three orders from the same artisan within a year.", "metric": "orders_same_artisan",
    "threshold": 3, "window_days": 365, "points_bonus": 50, "is_active": True,
}

DEFAULT_EFFECTS = {
    BUYER_CHURN: Effect(persuadable_share=0.35, do_not_disturb_share=0.05, risk_slope=1.0),
    SELLER_DORMANT: Effect(persuadable_share=0.30, do_not_disturb_share=0.0),
    RECOMMENDATION: Effect(persuadable_share=0.15, do_not_disturb_share=0.0),
    # A reminder with no effect at all: the report must find nothing.
    EXPIRY_REMINDER: Effect(),
    # Earners shown their badge come back 12% more often (relative) within the window.
    BADGE_NOTICE: Effect(relative_lift=0.12),
}


@dataclass(frozen=True)
class SimulationParams:
    seed: int = 1
    # Mid size (docs/simulation.md says why): 40 artisans, 1,500 buyers.
    sellers: int = 40
    buyers: int = 1500
    history_months: int = 12  # generated history before the simulation starts
    flag_weeks: int = 8  # weeks in which the pipeline runs and flags subjects
    outcome_window_days: int = 90
    holdout_share: float = 0.3
    end: str = "2026-06-01"  # the simulation ends here; it starts flag_weeks + the window before
    # Staff: cases each team works per week (fixed capacity) and the outcome mix of a worked case.
    customer_success_capacity: int = 6
    seller_support_capacity: int = 4
    reached_share: float = 0.8  # worked cases that reach the subject; the rest close as "no action"
    ordering: str = RISK  # how staff order the buyer churn queue
    # Message plays: buyers in the medium churn band get recommendations; buyers in the low
    # band get a points expiry reminder. At most this many of each per week.
    messages_per_week: int = 60
    lifetime_refit_weeks: int = 4
    effects: dict = field(default_factory=lambda: dict(DEFAULT_EFFECTS))

    @property
    def horizon_days(self) -> int:
        return self.flag_weeks * 7 + self.outcome_window_days + 7
