"""The pipeline on real worker processes over Redis: fan-out, a SIGKILL mid-chunk, a broker restart."""

import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest
import redis
from django.db import connection

from casework.models import Case
from workflows import pipeline
from core.models import PipelineChunk, PipelineRun, RunStatus
from tests import workers
from tests.workflows import stages

BROKER_BASE = workers.BROKER_BASE
STAGES = "tests.workflows.stages:STAGES"

pytestmark = workers.REAL_WORKER_MARKS


@pytest.fixture
def broker(worker_id):
    return workers.private_broker(BROKER_BASE, worker_id, offset=1)


@pytest.fixture
def control(settings, monkeypatch):
    from tests.workflows import stages

    path = tempfile.mkdtemp(prefix="kiln-pipeline-")
    settings.PIPELINE_STAGES = STAGES
    monkeypatch.setattr(stages, "CONTROL_DIR", __import__("pathlib").Path(path))
    yield __import__("pathlib").Path(path)
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def marketplace():
    stages.marketplace_build(cancelled=12, sold=8, buyers=10)


def _cases():
    return sorted(Case.objects.values_list("kind", "seller_id", "buyer_id", "status", "reason"))


def _clean_run_reference():
    list(pipeline.pipeline_run_inline(chunk_size=3))
    reference = _cases()
    Case.objects.all().delete()
    return reference


def _start_remote(broker):
    workers.pipeline_start_remote(broker, trigger="test")


def _remote_chunk_succeeded():
    # The clean reference run left succeeded chunks of its own; only the workers' run counts here.
    return PipelineChunk.objects.exclude(stage__run__trigger="inline").filter(status=RunStatus.SUCCEEDED).exists()


def _finished_run():
    run = PipelineRun.objects.filter(trigger="beat").order_by("-pk").first() or PipelineRun.objects.exclude(trigger="inline").order_by("-pk").first()
    return run if run and run.status in (RunStatus.SUCCEEDED, RunStatus.FAILED) else None


def test_two_workers_produce_the_same_rows_as_one_process(broker, control, marketplace):
    reference = _clean_run_reference()
    (control / "stall-sellers").write_text("0.2")  # long enough that both workers take chunks
    env = {"PIPELINE_STAGES": STAGES, "PIPELINE_CHUNK_SIZE": "3", "KILN_TEST_PIPELINE_CONTROL": str(control)}
    with workers.workers(2, broker=broker, queues="default,recompute", **env):
        _start_remote(broker)
        run = workers.wait_for(_finished_run)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert _cases() == reference
    assert PipelineChunk.objects.filter(stage__run=run).values("worker").distinct().count() == 2


def test_a_worker_killed_mid_chunk_loses_nothing_and_double_counts_nothing(broker, control, marketplace):
    reference = _clean_run_reference()
    (control / "stall-sellers").write_text("4")
    env = {
        "PIPELINE_STAGES": STAGES,
        "PIPELINE_CHUNK_SIZE": "3",
        "KILN_TEST_PIPELINE_CONTROL": str(control),
        "CELERY_VISIBILITY_TIMEOUT": "3",
    }
    victim = workers.start_worker(broker=broker, queues="default,recompute", **env)
    try:
        _start_remote(broker)
        workers.wait_for(lambda: PipelineChunk.objects.filter(status=RunStatus.RUNNING).exists(), timeout=60)
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait(timeout=10)
    finally:
        workers.stop(victim)
    (control / "stall-sellers").unlink()
    with workers.workers(1, broker=broker, queues="default,recompute", **env):
        run = workers.wait_for(_finished_run, timeout=120)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert _cases() == reference
    assert PipelineChunk.objects.filter(stage__run=run, attempts__gte=2).exists()
    assert not PipelineChunk.objects.filter(stage__run=run).exclude(status=RunStatus.SUCCEEDED).exists()


def test_queued_work_survives_a_broker_restart(tmp_path, control, marketplace):
    reference = _clean_run_reference()
    port = 6391 + (os.getpid() % 50)
    url = f"redis://127.0.0.1:{port}/0"

    def start_redis():
        process = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--appendonly", "yes", "--appendfsync", "always",
             "--save", "", "--dir", str(tmp_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        workers.wait_for(lambda: _ping(url), timeout=15)
        return process

    server = start_redis()
    env = {"PIPELINE_STAGES": STAGES, "PIPELINE_CHUNK_SIZE": "3", "KILN_TEST_PIPELINE_CONTROL": str(control)}
    try:
        (control / "stall-sellers").write_text("1")
        with workers.workers(1, broker=url, queues="default,recompute", **env):
            _start_remote(url)
            # Stop the broker once the workers' run is under way, with chunks still queued behind the stalled one.
            workers.wait_for(_remote_chunk_succeeded, timeout=60)
            server.terminate()
            server.wait(timeout=15)
            time.sleep(2)  # the worker sees the broker gone and starts reconnecting
            server = start_redis()
            (control / "stall-sellers").unlink()
            run = workers.wait_for(_finished_run, timeout=120)
    finally:
        server.terminate()
        server.wait(timeout=15)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert _cases() == reference


def test_chunks_retry_after_their_database_connections_are_cut(broker, control, marketplace):
    reference = _clean_run_reference()
    (control / "stall-sellers").write_text("1")
    env = {"PIPELINE_STAGES": STAGES, "PIPELINE_CHUNK_SIZE": "3", "KILN_TEST_PIPELINE_CONTROL": str(control)}
    database = connection.settings_dict["NAME"]
    with workers.workers(1, broker=broker, queues="default,recompute", **env):
        _start_remote(broker)
        workers.wait_for(lambda: PipelineChunk.objects.filter(status=RunStatus.RUNNING).exists(), timeout=60)
        with connection.cursor() as cursor:
            # Cut every other session on the test database: the worker is mid-chunk, inside its transaction.
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                [database],
            )
            assert cursor.fetchone()[0] >= 1
        (control / "stall-sellers").unlink()
        run = workers.wait_for(_finished_run, timeout=120)
    assert run.status == RunStatus.SUCCEEDED, run.error
    assert _cases() == reference
    assert PipelineChunk.objects.filter(stage__run=run, attempts__gte=2).exists()


def _ping(url):
    try:
        return redis.Redis.from_url(url).ping()
    except redis.ConnectionError:
        return False
