"""Liveness with real workers and beat: a SIGKILLed worker, a broker killed mid-run, duplicated callbacks.

The kill test runs the workers and beat at the default liveness settings (no visibility-timeout
override), so its recovery time is the one production gets. The others shorten the watchdog's
intervals through settings to keep the suite fast; the mechanism is the same.
"""

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
import redis

from casework.models import Case
from workflows import pipeline
from core.models import PipelineChunk, PipelineRun, RunStatus
from tests import workers
from tests.workflows import stages
from tests.workflows.liveness_stages import finalized

BROKER_BASE = workers.BROKER_BASE
STAGES = "tests.workflows.liveness_stages:STAGES"
QUICK = {"PIPELINE_HEARTBEAT_SECONDS": "1", "PIPELINE_STALL_SECONDS": "6", "PIPELINE_WATCHDOG_SECONDS": "2", "PIPELINE_LEASE_SECONDS": "60"}

pytestmark = workers.REAL_WORKER_MARKS


@pytest.fixture
def broker(worker_id):
    return workers.private_broker(BROKER_BASE, worker_id, offset=9)


@pytest.fixture
def control(settings, monkeypatch, tmp_path):
    from tests.workflows import stages

    tmp_path.chmod(0o777)
    settings.PIPELINE_STAGES = STAGES
    monkeypatch.setattr(stages, "CONTROL_DIR", tmp_path)
    return tmp_path


@pytest.fixture
def marketplace():
    stages.marketplace_build(cancelled=12, sold=8, buyers=10)


def _env(control, **extra):
    return {"PIPELINE_STAGES": STAGES, "PIPELINE_CHUNK_SIZE": "3", "KILN_TEST_PIPELINE_CONTROL": str(control), **extra}


def start_beat(*, broker: str, **env) -> subprocess.Popen:
    name = uuid.uuid4().hex[:8]
    folder = Path(tempfile.mkdtemp(prefix="kiln-beat-"))
    log = open(Path(tempfile.gettempdir()) / f"kiln-beat-{name}.log", "w")  # read it when a test times out
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "beat", "-l", "INFO", "-s", str(folder / "schedule"), "--max-interval", "1"],
        cwd=workers.ROOT,
        env=workers.worker_env(broker, **env),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _cases():
    return sorted(Case.objects.values_list("kind", "seller_id", "buyer_id", "status", "reason"))


def _reference(control):
    list(pipeline.pipeline_run_inline(chunk_size=3))
    reference = _cases()
    Case.objects.all().delete()
    for path in control.glob("finalized-*"):
        path.unlink()
    return reference


def _remote_run(*, after: int):
    run = PipelineRun.objects.filter(pk__gt=after).exclude(trigger="inline").order_by("-pk").first()
    return run if run and run.status in (RunStatus.SUCCEEDED, RunStatus.FAILED) else None


def _chunks(*, after: int, status: str) -> bool:
    return PipelineChunk.objects.filter(stage__run__pk__gt=after, status=status).exists()


def _last_pk():
    return PipelineRun.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def test_a_killed_worker_process_group_costs_minutes_not_an_hour_at_default_settings(broker, control, marketplace):
    reference = _reference(control)
    before = _last_pk()
    (control / "stall-sellers").write_text("30")
    beat = start_beat(broker=broker, **_env(control))
    victim = workers.start_worker(broker=broker, queues="default,recompute", **_env(control))
    try:
        workers.pipeline_start_remote(broker, trigger="test")
        workers.wait_for(lambda: _chunks(after=before, status=RunStatus.RUNNING), timeout=60)
        os.killpg(victim.pid, signal.SIGKILL)  # the worker and everything it started, mid-chunk
        killed_at = time.monotonic()
        victim.wait(timeout=10)
        (control / "stall-sellers").unlink()
        with workers.workers(1, broker=broker, queues="default,recompute", **_env(control)):
            run = workers.wait_for(lambda: _remote_run(after=before), timeout=240, interval=1)
        recovered_in = time.monotonic() - killed_at
    finally:
        workers.stop(victim)
        workers.stop(beat)
    print(f"killed worker: run {run.status} {recovered_in:.0f} s after the kill")
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert recovered_in < 240
    assert run.redispatches >= 1
    assert _cases() == reference
    assert PipelineChunk.objects.filter(stage__run=run, attempts__gte=2).exists()
    assert (finalized(control, "sellers"), finalized(control, "summary")) == (1, 1)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _ping(url):
    try:
        return redis.Redis.from_url(url).ping()
    except redis.ConnectionError:
        return False


def test_a_broker_killed_and_restarted_mid_run_does_not_leave_the_run_stuck(tmp_path, control, marketplace):
    reference = _reference(control)
    before = _last_pk()
    port = _free_port()
    url = f"redis://127.0.0.1:{port}/0"

    def start_redis():
        # Nothing persisted: every queued message and chord counter dies with the process.
        process = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        workers.wait_for(lambda: _ping(url), timeout=15)
        return process

    server = start_redis()
    env = _env(control, **QUICK)
    beat = start_beat(broker=url, **env)
    try:
        (control / "stall-sellers").write_text("1")
        with workers.workers(1, broker=url, queues="default,recompute", **env):
            workers.pipeline_start_remote(url, trigger="test")
            workers.wait_for(lambda: _chunks(after=before, status=RunStatus.SUCCEEDED), timeout=60)
            server.kill()
            server.wait(timeout=15)
            killed_at = time.monotonic()
            time.sleep(2)
            server = start_redis()
            (control / "stall-sellers").unlink()
            run = workers.wait_for(lambda: _remote_run(after=before), timeout=120, interval=0.5)
            recovered_in = time.monotonic() - killed_at
            print(f"broker restart: run {run.status} {recovered_in:.0f} s after the kill ({run.error or 'no error'})")
            if run.status == RunStatus.FAILED:
                # Allowed only with the reason recorded, and then the next run must start at once.
                assert "No progress" in run.error
                workers.pipeline_start_remote(url, trigger="test")
                run = workers.wait_for(lambda: _remote_run(after=run.pk), timeout=120, interval=0.5)
    finally:
        workers.stop(beat)
        server.kill()
        server.wait(timeout=15)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert _cases() == reference


def test_duplicated_level_callbacks_run_each_level_once(broker, control, marketplace):
    reference = _reference(control)
    before = _last_pk()
    (control / "stall-sellers").write_text("0.5")
    with workers.workers(1, broker=broker, queues="default,recompute", **_env(control)):
        workers.pipeline_start_remote(broker, trigger="test")
        run = workers.wait_for(lambda: PipelineRun.objects.filter(pk__gt=before).first(), timeout=60)
        workers.wait_for(lambda: PipelineChunk.objects.filter(stage__run=run, status=RunStatus.SUCCEEDED).exists(), timeout=60)
        _send_callbacks(broker, run.pk, levels=[0, 0, 1])  # early copies, while level 0 is still running
        run = workers.wait_for(lambda: _remote_run(after=before), timeout=120)
        _send_callbacks(broker, run.pk, levels=[0, 1, 0, 1])  # late copies, after the run finished
        time.sleep(3)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert (finalized(control, "sellers"), finalized(control, "summary")) == (1, 1)
    assert _cases() == reference
    assert run.stages.get(name="summary").rows == len(reference)


def _send_callbacks(broker, run_id, *, levels):
    from celery import Celery

    producer = Celery(set_as_current=False)  # Kiln's app stays the current one for later tests
    with producer.connection(broker) as connection_:
        for level in levels:
            producer.send_task("core.pipeline.level_done", args=[run_id, level], queue="default", connection=connection_)
