"""Start real Celery worker processes (and, for outage tests, a private Redis) from tests."""

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[1]
BROKER_BASE = os.environ.get("CELERY_BROKER_URL", "")
# Every test module that starts real worker processes carries these marks.
REAL_WORKER_MARKS = [
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not BROKER_BASE.startswith("redis://"), reason="set CELERY_BROKER_URL=redis://... to run real workers"),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="worker processes need a shared server database"),
]


def database_url() -> str:
    settings = connection.settings_dict
    return f"postgres://{settings['USER']}@{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}/{settings['NAME']}"


def worker_env(broker: str, **extra) -> dict:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": broker,
        "CELERY_RESULT_BACKEND": broker,
        "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
        "DEBUG": "false",
        "MESSAGING_QUIET_HOURS": "false",
        **extra,
    }


def start_worker(*, broker: str, queues: str, name: str | None = None, **env) -> subprocess.Popen:
    name = name or uuid.uuid4().hex[:8]
    log_path = Path(tempfile.gettempdir()) / f"kiln-worker-{name}.log"  # read it when a test times out
    log = open(log_path, "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queues, "-c", "1", "--pool", "solo",
         "-l", "INFO", "-n", f"{name}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT,
        env=worker_env(broker, **env),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    process.log_path = log_path
    return process


def stop(process: subprocess.Popen, sig=signal.SIGTERM) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, sig)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@contextmanager
def workers(count: int, *, broker: str, queues: str, **env):
    processes = [start_worker(broker=broker, queues=queues, **env) for _ in range(count)]
    try:
        wait_ready(processes)
        yield processes
    finally:
        for process in processes:
            stop(process)


def wait_ready(processes: list[subprocess.Popen], *, timeout: float = 90) -> None:
    """Until every worker has logged that it is ready. A run sent earlier can be taken whole by
    the first worker up while the others are still importing Django (seen on a loaded machine)."""
    wait_for(lambda: all(" ready." in Path(p.log_path).read_text() for p in processes), timeout=timeout, interval=0.1)


def wait_for(predicate, *, timeout: float = 90, interval: float = 0.3):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {predicate.__name__}")


def private_broker(base: str, worker_id: str, *, offset: int) -> str:
    """A Redis database of its own per test process, emptied, so parallel runs never share queues."""
    import redis

    index = offset + (int(worker_id[2:]) if worker_id.startswith("gw") else 0)
    url = base.rsplit("/", 1)[0] + f"/{index}"
    redis.Redis.from_url(url).flushdb()
    return url


def pipeline_start_remote(broker: str, **kwargs) -> None:
    """Ask the workers on ``broker`` to start a pipeline run, as beat would."""
    from celery import Celery

    # An explicit connection: Celery prefers the CELERY_BROKER_URL variable over a broker argument.
    producer = Celery(set_as_current=False)  # Kiln's app stays the current one for later tests
    with producer.connection(broker) as connection_:
        producer.send_task("core.pipeline.start", kwargs=kwargs, queue="default", connection=connection_)
