"""The lease heartbeat, the watchdog, claimed level transitions and retries, in one process."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from casework.models import Case, CaseKind
from config.celery import app
from workflows import pipeline
from core.models import PipelineChunk, PipelineLease, PipelineRun, RunStatus
from core.schedule import collect_beat_schedule
from tests.workflows import stages
from tests.workflows.liveness_stages import finalized

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def control(settings, tmp_path, monkeypatch):
    settings.PIPELINE_STAGES = "tests.workflows.liveness_stages:STAGES"
    settings.PIPELINE_STALL_SECONDS = 90
    settings.PIPELINE_LEASE_SECONDS = 300
    settings.PIPELINE_MAX_REDISPATCHES = 2
    monkeypatch.setattr(stages, "CONTROL_DIR", tmp_path)
    return tmp_path


@pytest.fixture
def marketplace():
    stages.marketplace_build(cancelled=5, sold=3, buyers=4)


def _go_quiet(run, seconds):
    """Move the run's last sign of life into the past, as a dead worker would leave it."""
    then = timezone.now() - timedelta(seconds=seconds)
    PipelineRun.objects.filter(pk=run.pk).update(heartbeat_at=then)
    PipelineLease.objects.filter(holder=run).update(expires_at=then + timedelta(seconds=300))


def test_progress_renews_the_heartbeat_and_the_lease_lapses_minutes_after_it(marketplace):
    run = pipeline.pipeline_start(trigger="beat", dispatch=False, chunk_size=2)
    _go_quiet(run, 60)
    chunk_id = pipeline.pipeline_prepare_level(run_id=run.pk, level=0)[0]
    _go_quiet(run, 60)
    before = timezone.now()
    pipeline.pipeline_run_chunk(chunk_id=chunk_id)
    run.refresh_from_db()
    lease = PipelineLease.objects.get()
    assert run.heartbeat_at >= before
    assert lease.holder_id == run.pk
    assert lease.expires_at == run.heartbeat_at + timedelta(seconds=300)


def test_a_beat_seconds_after_the_last_one_writes_nothing_and_a_later_one_moves_both(marketplace):
    run = pipeline.pipeline_start(trigger="beat", dispatch=False)
    _go_quiet(run, 2)
    run.refresh_from_db()
    lease = PipelineLease.objects.get()
    pipeline._beat(run.pk)
    assert PipelineRun.objects.get(pk=run.pk).heartbeat_at == run.heartbeat_at
    assert PipelineLease.objects.get().expires_at == lease.expires_at

    _go_quiet(run, 10)
    before = timezone.now()
    pipeline._beat(run.pk)
    run.refresh_from_db()
    assert run.heartbeat_at >= before
    assert PipelineLease.objects.get().expires_at == run.heartbeat_at + timedelta(seconds=300)


def test_a_quiet_run_loses_its_lease_to_the_next_run_minutes_later_not_hours(marketplace):
    stuck = pipeline.pipeline_start(trigger="beat", dispatch=False)
    assert pipeline.pipeline_start(trigger="beat", dispatch=False).status == RunStatus.SKIPPED
    _go_quiet(stuck, 301)
    assert pipeline.pipeline_start(trigger="beat", dispatch=False).status == RunStatus.RUNNING


def test_a_duplicated_level_callback_changes_nothing(marketplace, control):
    run = pipeline.pipeline_start(trigger="beat", dispatch=False, chunk_size=3)
    chunk_ids = pipeline.pipeline_prepare_level(run_id=run.pk, level=0)
    pipeline.pipeline_run_chunk(chunk_id=chunk_ids[0])
    assert pipeline.pipeline_level_done(run_id=run.pk, level=0) is None  # early: chunks are still queued
    run.refresh_from_db()
    assert (run.status, run.level, run.closed_level) == (RunStatus.RUNNING, 0, None)
    for chunk_id in chunk_ids[1:]:
        pipeline.pipeline_run_chunk(chunk_id=chunk_id)
    assert pipeline.pipeline_level_done(run_id=run.pk, level=0) == 1
    assert pipeline.pipeline_level_done(run_id=run.pk, level=0) is None
    run.refresh_from_db()
    assert (run.status, run.level, run.closed_level) == (RunStatus.RUNNING, 1, 0)
    assert finalized(control, "sellers") == 1
    assert pipeline.pipeline_level_done(run_id=run.pk, level=1) is None  # the last level
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED
    # Late copies of either callback, once the run is over, do nothing either.
    assert pipeline.pipeline_level_done(run_id=run.pk, level=0) is None
    assert pipeline.pipeline_level_done(run_id=run.pk, level=1) is None
    assert (finalized(control, "sellers"), finalized(control, "summary")) == (1, 1)
    assert run.stages.get(name="summary").rows == 9


def test_the_watchdog_resends_a_quiet_level_and_the_run_finishes(marketplace, control, django_capture_on_commit_callbacks):
    run = pipeline.pipeline_start(trigger="beat", dispatch=False, chunk_size=3)
    chunk_ids = pipeline.pipeline_prepare_level(run_id=run.pk, level=0)
    pipeline.pipeline_run_chunk(chunk_id=chunk_ids[0])
    # A worker took the second chunk and died with it; the rest of the messages were lost.
    PipelineChunk.objects.filter(pk=chunk_ids[1]).update(status=RunStatus.RUNNING, attempts=1)
    assert pipeline.pipeline_watchdog() == {}  # still within the stall window
    _go_quiet(run, 91)
    with django_capture_on_commit_callbacks(execute=True):
        assert pipeline.pipeline_watchdog() == {run.pk: "redispatched"}
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert run.redispatches == 1
    assert PipelineChunk.objects.get(pk=chunk_ids[0]).attempts == 1  # done work is not redone
    assert PipelineChunk.objects.get(pk=chunk_ids[1]).attempts == 2
    assert Case.objects.filter(kind=CaseKind.SELLER_QUALITY_ALERT).count() == 5
    assert (finalized(control, "sellers"), finalized(control, "summary")) == (1, 1)
    assert PipelineLease.objects.get().holder is None


def test_a_close_claimed_by_a_worker_that_died_is_released_by_the_watchdog(marketplace, control, django_capture_on_commit_callbacks):
    run = pipeline.pipeline_start(trigger="beat", dispatch=False, chunk_size=3)
    for chunk_id in pipeline.pipeline_prepare_level(run_id=run.pk, level=0):
        pipeline.pipeline_run_chunk(chunk_id=chunk_id)
    PipelineRun.objects.filter(pk=run.pk).update(closed_level=0)  # claimed, then the worker was killed
    _go_quiet(run, 120)
    with django_capture_on_commit_callbacks(execute=True):
        assert pipeline.pipeline_watchdog() == {run.pk: "redispatched"}
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert (finalized(control, "sellers"), finalized(control, "summary")) == (1, 1)


def test_the_watchdog_fails_a_run_that_resending_does_not_move_and_a_new_run_starts_at_once(marketplace):
    run = pipeline.pipeline_start(trigger="beat", dispatch=False, chunk_size=3)
    for expected in ("redispatched", "redispatched"):
        _go_quiet(run, 100)
        # dispatching is left to the broker that is not there: nothing comes back
        assert pipeline.pipeline_watchdog() == {run.pk: expected}
    _go_quiet(run, 100)
    outcome = pipeline.pipeline_watchdog()[run.pk]
    run.refresh_from_db()
    assert outcome.startswith("failed:")
    assert run.status == RunStatus.FAILED and run.finished_at is not None
    assert "No progress for 100 s after 2 re-dispatches of level 0" in run.error
    assert PipelineLease.objects.get().holder is None
    assert pipeline.pipeline_start(trigger="beat", dispatch=False).status == RunStatus.RUNNING


def test_the_watchdog_fails_a_quiet_run_whose_lease_another_run_took(marketplace):
    old = pipeline.pipeline_start(trigger="beat", dispatch=False)
    _go_quiet(old, 400)
    new = pipeline.pipeline_start(trigger="beat", dispatch=False)
    assert new.status == RunStatus.RUNNING
    assert pipeline.pipeline_watchdog()[old.pk].startswith("failed:")
    old.refresh_from_db()
    assert old.status == RunStatus.FAILED and "another run holds the lease" in old.error
    assert PipelineLease.objects.get().holder_id == new.pk


def test_run_pipeline_retry_resumes_the_failed_run(marketplace, control, django_capture_on_commit_callbacks):
    (control / "fail-sellers").touch()
    with pytest.raises(ValueError):
        list(pipeline.pipeline_run_inline(chunk_size=2))
    run = PipelineRun.objects.get()
    pipeline.pipeline_level_done(run_id=run.pk, level=0)
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    (control / "fail-sellers").unlink()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("run_pipeline", "--retry")
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert Case.objects.filter(kind=CaseKind.SELLER_QUALITY_ALERT).count() == 5
    with pytest.raises(CommandError, match="did not fail"):
        call_command("run_pipeline", "--retry")


def test_the_watchdog_runs_every_minute_from_beat(settings):
    entry = collect_beat_schedule()["pipeline-watchdog"]
    assert entry["task"] == "core.pipeline.watchdog" and entry["task"] in app.tasks
    assert entry["schedule"] == 60.0
