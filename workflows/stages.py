"""The stages of the nightly recompute, in dependency levels (see workflows/pipeline.py).

Level 0 computes inputs that later stages read (buyer lifetime fits, inventory findings) beside
what needs only the storefront's rows (seller scores, listing verdicts); level 1 scores buyers
and assesses dormant artisans; level 2 opens buyer churn cases from the scores, recommends,
awards the night's points (awards read buyer segments) and badges; level 3 settles the ledger
(activation, expiry); level 4 places tiers on the settled ledger; and level 5 sends expiry
reminders, snapshots KPIs, draws the charts and evaluates alerts over everything before it.
Each adapter below maps a primary-key range onto the owning app's service; ``STAGES`` names
the functions themselves, so every stage is an import a reader (and tests) can follow.
"""

from datetime import datetime, timedelta

from retention.recommendations import buyer_recommendations_recompute
from loyalty.pipeline import award_orders_chunk, badges_finalize, expiry_reminders_chunk, lots_finalize, tiers_chunk
from scoring.pipeline import seller_scores_chunk
from marketplace.listing_health import listing_health_recompute
from workflows.pipeline import Stage


def buyer_lifetime_fits(*, as_of: datetime) -> int:
    from retention.services import lifetime_fits_run

    outcome = lifetime_fits_run(as_of=as_of)
    return int(outcome.bgnbd.status == "active") + int(outcome.gamma_gamma.status == "active")


def inventory_audit_chunk(*, lo: int, hi: int, as_of: datetime) -> int:
    from marketplace.inventory import inventory_audit_open_cases
    from sellers.models import Seller

    seller_ids = list(Seller.objects.filter(pk__gte=lo, pk__lte=hi).values_list("pk", flat=True))
    return inventory_audit_open_cases(seller_ids=seller_ids, as_of=as_of) if seller_ids else 0


def buyer_retention_chunk(*, lo: int, hi: int, as_of: datetime) -> int:
    from retention.services import buyer_retention_score_range

    return buyer_retention_score_range(start_id=lo, end_id=hi + 1, as_of=as_of)


def seller_dormancy_cases(*, as_of: datetime) -> int:
    from retention.dormancy import seller_dormancy_recompute
    from retention.interventions import seller_dormant_cases_open

    seller_dormancy_recompute(as_of=as_of)
    return int(seller_dormant_cases_open(as_of=as_of)["cases_opened"])


def buyer_churn_cases(*, as_of: datetime) -> int:
    from retention.interventions import buyer_churn_cases_open

    return int(buyer_churn_cases_open(as_of=as_of)["cases_opened"])


def retention_interventions(*, as_of: datetime) -> int:
    """Both kinds of retention case in one step, for pipelines that score buyers and open
    cases at one level (the simulator's)."""
    return seller_dormancy_cases(as_of=as_of) + buyer_churn_cases(as_of=as_of)


def kpis_and_alerts(*, as_of: datetime) -> int:
    from dashboard.services import alert_evaluate_all, snapshot_record

    # KPIs cover complete days, so the nightly run snapshots the day that just ended.
    day = as_of.date() - timedelta(days=1)
    rows = snapshot_record(as_of=day, charts=False)
    return rows + len(alert_evaluate_all(as_of=day))


def dashboard_charts(*, as_of: datetime) -> int:
    from dashboard.services import charts_record

    return charts_record(as_of=as_of.date() - timedelta(days=1))


STAGES: list[Stage] = [
    Stage("buyer_lifetime_fits", level=0, finalize=buyer_lifetime_fits),
    Stage("inventory_audit", level=0, keys="sellers.Seller", chunk=inventory_audit_chunk),
    # Seller scores and listing verdicts read the storefront's own rows, not the lifetime fits, so
    # they share level 0: while one worker fits the lifetime models (one task, the longest of the
    # run), the others score artisans instead of waiting.
    Stage("seller_scores", level=0, keys="sellers.Seller", chunk=seller_scores_chunk),
    Stage("listing_health", level=0, finalize=listing_health_recompute),
    Stage("buyer_retention", level=1, keys="buyers.Buyer", chunk=buyer_retention_chunk),
    # Finalize-only stages are tasks of their own beside a level's chunks: dormancy reads the
    # storefront after level 0's onboarding decisions, churn cases read the retention rows, and
    # neither is needed by anything before the KPIs, so neither waits for, or holds up, a level.
    Stage("seller_dormancy", level=1, finalize=seller_dormancy_cases),
    Stage("buyer_churn_cases", level=2, finalize=buyer_churn_cases),
    Stage("buyer_recommendations", level=2, finalize=buyer_recommendations_recompute),
    # Loyalty reads segments (promotions target them), so it follows retention.
    Stage("loyalty_award_orders", level=2, keys="marketplace.Order", chunk=award_orders_chunk),
    # Badges read the storefront's rows and pay fixed bonuses, which no earning cap counts, so
    # they run beside the award: as the one long task of level 3 they kept a worker waiting.
    Stage("loyalty_badges", level=2, finalize=badges_finalize),
    Stage("loyalty_lots", level=3, finalize=lots_finalize),
    Stage("loyalty_tiers", level=4, keys="buyers.Buyer", chunk=tiers_chunk),
    # Reminders follow the night's activations and expiries, and offer the rewards of the
    # member's tier as the night left it; the workers split them with the KPIs and charts.
    Stage("loyalty_expiry_reminders", level=5, keys="buyers.Buyer", chunk=expiry_reminders_chunk),
    Stage("kpis_and_alerts", level=5, finalize=kpis_and_alerts),
    # Alerts read the KPI snapshots, not the charts: the charts are drawn beside them.
    Stage("dashboard_charts", level=5, finalize=dashboard_charts),
]
