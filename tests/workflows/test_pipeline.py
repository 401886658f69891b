import shutil

import pytest

from casework.models import Case, CaseKind
from workflows import pipeline
from core.models import PipelineChunk, PipelineLease, PipelineRun, RunStatus
from tests.workflows import stages

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def stage_control(settings, tmp_path, monkeypatch):
    settings.PIPELINE_STAGES = "tests.workflows.stages:STAGES"
    monkeypatch.setattr(stages, "CONTROL_DIR", tmp_path)
    return tmp_path


@pytest.fixture
def marketplace():
    stages.marketplace_build(cancelled=5, sold=3, buyers=4)


def test_inline_run_records_every_stage_and_writes_the_results(marketplace):
    list(pipeline.pipeline_run_inline(chunk_size=2))
    run = PipelineRun.objects.get()
    assert run.status == RunStatus.SUCCEEDED and run.finished_at is not None
    stages_by_name = {stage.name: stage for stage in run.stages.all()}
    assert {name: stage.status for name, stage in stages_by_name.items()} == dict.fromkeys(["sellers", "buyers", "summary"], "succeeded")
    assert stages_by_name["sellers"].rows == 5
    assert stages_by_name["buyers"].rows == 4
    assert stages_by_name["summary"].rows == 9
    assert stages_by_name["sellers"].chunks_total == 4  # 8 sellers in chunks of 2
    assert Case.objects.filter(kind=CaseKind.SELLER_QUALITY_ALERT).count() == 5
    assert PipelineLease.objects.get().holder is None


def test_a_second_run_changes_nothing(marketplace):
    list(pipeline.pipeline_run_inline(chunk_size=3))
    before = sorted(Case.objects.values_list("kind", "seller_id", "buyer_id"))
    list(pipeline.pipeline_run_inline(chunk_size=3))
    assert sorted(Case.objects.values_list("kind", "seller_id", "buyer_id")) == before
    assert PipelineRun.objects.filter(status=RunStatus.SUCCEEDED).count() == 2


def test_an_overlapping_run_is_skipped_while_the_lease_is_held(marketplace):
    first = pipeline.pipeline_start(trigger="beat", dispatch=False)
    second = pipeline.pipeline_start(trigger="beat", dispatch=False)
    assert first.status == RunStatus.RUNNING
    assert second.status == RunStatus.SKIPPED and "holds the lease" in second.error
    assert second.stages.count() == 0
    with pytest.raises(RuntimeError, match="holds the lease"):
        list(pipeline.pipeline_run_inline())


def test_a_failed_stage_is_visible_and_a_retry_does_not_redo_finished_work(marketplace, stage_control, django_capture_on_commit_callbacks):
    (stage_control / "fail-sellers").touch()
    with pytest.raises(ValueError):
        list(pipeline.pipeline_run_inline(chunk_size=2))
    run = PipelineRun.objects.get()
    # The inline runner stops at the first failure; close the level as the chord callback would.
    pipeline.pipeline_level_done(run_id=run.pk, level=0)
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and "sellers" in run.error
    sellers_stage = run.stages.get(name="sellers")
    assert sellers_stage.status == RunStatus.FAILED and "told to fail" in sellers_stage.error
    buyers_done = set(PipelineChunk.objects.filter(stage__name="buyers", status="succeeded").values_list("pk", "attempts"))

    (stage_control / "fail-sellers").unlink()
    with django_capture_on_commit_callbacks(execute=True):
        assert pipeline.pipeline_retry(run=run)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED
    assert set(PipelineChunk.objects.filter(stage__name="buyers").values_list("pk", "attempts")) >= buyers_done
    assert Case.objects.filter(kind=CaseKind.SELLER_QUALITY_ALERT).count() == 5


def test_the_celery_workflow_runs_the_levels_in_order(marketplace, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        run = pipeline.pipeline_start(trigger="beat", chunk_size=2)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED
    summary = run.stages.get(name="summary")
    assert summary.rows == 9
    assert summary.started_at >= max(run.stages.filter(level=0).values_list("finished_at", flat=True))


def test_key_ranges_cover_every_key_once(marketplace):
    ranges = pipeline.key_ranges("sellers.Seller", 3)
    from sellers.models import Seller

    covered = [pk for pk in Seller.objects.values_list("pk", flat=True) if any(lo <= pk <= hi for lo, hi in ranges)]
    assert len(covered) == Seller.objects.count()
    assert all(hi - lo < 3 for lo, hi in ranges)



def test_the_nightly_pipeline_is_the_only_scheduled_full_recompute():
    from core.schedule import collect_beat_schedule

    schedule = collect_beat_schedule()
    nightly = [entry for entry in schedule.values() if entry["task"] == "core.pipeline.start"]
    assert len(nightly) == 1
    covered = {
        "scoring.recompute_all", "buyers.recompute_retention", "buyers.recompute_recommendations", "buyers.open_churn_cases",
        "buyers.recompute_seller_dormancy", "loyalty.award_delivered_orders", "loyalty.expire_points",
        "loyalty.recompute_tiers", "loyalty.evaluate_badges", "sellers.inventory_audit", "dashboard.record_snapshots",
        "dashboard.evaluate_alerts",
    }
    assert not covered & {entry["task"] for entry in schedule.values()}


def test_peak_memory_is_this_process_own_and_not_inherited_from_whoever_started_it():
    import subprocess
    import sys

    from workflows.pipeline import _peak_rss_mb

    # A child started by a process holding 300 MB reports its own peak, not its parent's.
    grandchild = (
        "import os, django; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings.base'); django.setup(); "
        "from workflows.pipeline import _peak_rss_mb; print(_peak_rss_mb())"
    )
    code = f"GRANDCHILD = {grandchild!r}; " + (
        "import os, subprocess, sys; ballast = bytearray(300 * 2**20); ballast[::4096] = b'x' * len(ballast[::4096]); "
        "print(subprocess.run([sys.executable, '-c', GRANDCHILD], capture_output=True, text=True, check=True).stdout)"
    )
    child_peak = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert 0 < child_peak < 250
    assert _peak_rss_mb() > 0
