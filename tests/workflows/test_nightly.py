"""The real nightly stages over a generated marketplace: in one process and on two real workers."""

import os
from datetime import datetime, timedelta, timezone

import pytest
from django.db import connection

from workflows import pipeline
from core.models import PipelineRun, RunStatus
from core.selectors import PIPELINE_OUTPUTS, pipeline_outputs_digest
from loyalty.factories import BadgeFactory, EarningRuleFactory
from loyalty.models import RuleKind
from marketplace.generator.services import generate_marketplace
from tests import workers

AS_OF = datetime(2026, 10, 1, 3, 0, tzinfo=timezone.utc)
BROKER_BASE = os.environ.get("CELERY_BROKER_URL", "")


def _marketplace():
    generate_marketplace(sellers=14, buyers=160, months=8, seed=11, end="2026-10-01", progress=False)
    EarningRuleFactory(name="A point per unit spent", kind=RuleKind.SPEND)


def _wipe_outputs():
    from buyers.models import BuyerSegmentChange, InterventionAssignment, SellerDormancy
    from casework.models import Case
    from dashboard.models import Alert, ChartSnapshot, KpiSnapshot
    from loyalty.models import Allocation, BadgeAward, BuyerTier, PointsEntry, TierChange
    from scoring.models import SellerScore, SellerScoreHistory

    for model in (
        Allocation, BadgeAward, TierChange, BuyerTier, PointsEntry, InterventionAssignment, Case, SellerDormancy,
        BuyerSegmentChange, SellerScoreHistory, SellerScore, Alert, KpiSnapshot, ChartSnapshot,
    ):
        model.objects.all().delete()
    from buyers.models import BuyerRetention

    BuyerRetention.objects.all().delete()


@pytest.mark.django_db
def test_the_nightly_pipeline_writes_every_stage_output():
    _marketplace()
    # Badges run beside the points award: both write the ledger, the badges their bonuses.
    BadgeFactory(code="regular", threshold=2, points_bonus=25)
    list(pipeline.pipeline_run_inline(as_of=AS_OF, chunk_size=40))
    run = PipelineRun.objects.get()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert set(run.stages.values_list("status", flat=True)) == {RunStatus.SUCCEEDED}
    assert set(run.stages.values_list("name", flat=True)) == {
        "buyer_lifetime_fits", "inventory_audit", "seller_scores", "buyer_retention", "buyer_recommendations",
        "loyalty_award_orders", "seller_dormancy", "buyer_churn_cases", "loyalty_expiry_reminders",
        "loyalty_lots", "loyalty_badges", "loyalty_tiers", "kpis_and_alerts", "dashboard_charts", "listing_health",
    }
    digest = pipeline_outputs_digest()
    assert len(digest["scoring.SellerScore"]) >= 13  # every seller that is not rejected
    assert len(digest["buyers.BuyerRetention"]) == 160
    assert len(digest["loyalty.PointsEntry"]) > 100
    awarded = sorted(buyer_id for buyer_id, _ in digest["loyalty.BadgeAward"])
    bonuses = sorted(row[0] for row in digest["loyalty.PointsEntry"] if row[4] == "badge" and row[2] == "earn")
    assert awarded and bonuses == awarded  # each award paid its bonus once
    assert digest["dashboard.KpiSnapshot"]
    from dashboard.models import ChartSnapshot

    # The charts are drawn for the day that ended before the run, as the KPI snapshots are.
    assert set(ChartSnapshot.objects.filter(as_of=AS_OF.date() - timedelta(days=1)).values_list("chart", flat=True)) == {
        "cohort_retention", "nps_by_month", "score_distribution", "onboarding_funnel", "theme_frequency",
    }
    # Without an active model artisans are left unscored (None), never given a made-up number.
    assert all(score is None or 0 <= score <= 100 for _, score, *_ in digest["scoring.SellerScore"])


@pytest.mark.django_db
def test_running_the_same_night_twice_changes_no_output():
    _marketplace()
    list(pipeline.pipeline_run_inline(as_of=AS_OF, chunk_size=40))
    first = pipeline_outputs_digest()
    list(pipeline.pipeline_run_inline(as_of=AS_OF, chunk_size=25))
    assert pipeline_outputs_digest() == first


def needs_workers(test):
    for mark in (
        pytest.mark.worker,
        pytest.mark.django_db(transaction=True),
        pytest.mark.skipif(not BROKER_BASE.startswith("redis://"), reason="set CELERY_BROKER_URL=redis://... to run real workers"),
        pytest.mark.skipif(connection.vendor != "postgresql", reason="worker processes need a shared server database"),
    ):
        test = mark(test)
    return test


@pytest.fixture
def broker(worker_id):
    return workers.private_broker(BROKER_BASE, worker_id, offset=5)


def _start_remote(broker):
    workers.pipeline_start_remote(broker, trigger="test", as_of=AS_OF.isoformat())


def _finished():
    return PipelineRun.objects.filter(trigger="test", status__in=[RunStatus.SUCCEEDED, RunStatus.FAILED]).first()


@needs_workers
def test_two_real_workers_produce_the_same_rows_as_one_process(broker):
    _marketplace()
    list(pipeline.pipeline_run_inline(as_of=AS_OF, chunk_size=40))
    single_process = pipeline_outputs_digest()
    _wipe_outputs()
    assert not pipeline_outputs_digest()["scoring.SellerScore"]

    with workers.workers(2, broker=broker, queues="default,recompute", PIPELINE_CHUNK_SIZE="40"):
        _start_remote(broker)
        run = workers.wait_for(_finished, timeout=240)
    assert run.status == RunStatus.SUCCEEDED, run.error
    two_workers = pipeline_outputs_digest()
    for label in PIPELINE_OUTPUTS:
        assert two_workers[label] == single_process[label], label
    assert run.stages.filter(chunks__isnull=False).values("chunks__worker").distinct().count() == 2


@needs_workers
def test_a_worker_killed_inside_a_loyalty_chunk_double_counts_no_points(broker, tmp_path):
    import signal

    from core.models import PipelineChunk

    _marketplace()
    list(pipeline.pipeline_run_inline(as_of=AS_OF, chunk_size=40))
    clean = pipeline_outputs_digest()
    _wipe_outputs()

    (tmp_path / "stall-loyalty").write_text("30")
    env = {
        "PIPELINE_STAGES": "tests.workflows.stages:NIGHTLY_WITH_STALL",
        "PIPELINE_CHUNK_SIZE": "40",
        "KILN_TEST_PIPELINE_CONTROL": str(tmp_path),
        "CELERY_VISIBILITY_TIMEOUT": "3",
    }
    victim = workers.start_worker(broker=broker, queues="default,recompute", **env)
    try:
        _start_remote(broker)
        workers.wait_for(
            lambda: PipelineChunk.objects.filter(stage__name="loyalty_award_orders", status=RunStatus.RUNNING).exists(), timeout=180
        )
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait(timeout=10)
    finally:
        workers.stop(victim)
    (tmp_path / "stall-loyalty").unlink()
    with workers.workers(1, broker=broker, queues="default,recompute", **env):
        run = workers.wait_for(_finished, timeout=240)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert PipelineChunk.objects.filter(stage__run=run, stage__name="loyalty_award_orders", attempts__gte=2).exists()
    after = pipeline_outputs_digest()
    for label in PIPELINE_OUTPUTS:
        assert after[label] == clean[label], label
