"""A real Celery worker process, a real Redis broker, a real database write."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from celery import Celery
from django.db import connection

from core.models import OutboxMessage, OutboxStatus

ROOT = Path(__file__).resolve().parents[2]
BROKER = os.environ.get("CELERY_BROKER_URL", "")

pytestmark = [
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not BROKER.startswith("redis://"), reason="set CELERY_BROKER_URL=redis://... to run a real worker"),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the worker process needs a shared server database"),
]


def _database_url():
    settings = connection.settings_dict
    return f"postgres://{settings['USER']}@{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}/{settings['NAME']}"


@pytest.fixture
def worker_queue():
    queue = f"test-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "DATABASE_URL": _database_url(),
        "CELERY_BROKER_URL": BROKER,
        "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
        "DEBUG": "false",
        # Quiet hours would hold this mail whenever the suite runs late in the day.
        "MESSAGING_QUIET_HOURS": "false",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queue, "-c", "1", "--pool", "solo", "-l", "WARNING", "-n", f"{queue}@%h"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    yield queue
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()


def test_a_task_runs_in_a_separate_worker_process_and_writes_to_the_database(worker_queue):
    message = OutboxMessage.objects.create(
        dedupe_key=f"worker-test:{worker_queue}", to="artisan@example.com", subject="Hi", body="Hello", category="test"
    )
    # Not the current app: later tests in this process still send their tasks through Kiln's own.
    producer = Celery(broker=BROKER, set_as_current=False)
    producer.send_task("core.outbox.deliver", args=[message.pk], queue=worker_queue)

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        message.refresh_from_db()
        if message.status == OutboxStatus.SENT:
            break
        time.sleep(0.3)
    assert message.status == OutboxStatus.SENT
    assert message.attempts == 1 and message.sent_at is not None


def test_a_batch_of_deliveries_runs_in_a_separate_worker_process(worker_queue):
    messages = [
        OutboxMessage.objects.create(
            dedupe_key=f"worker-batch:{worker_queue}:{i}", to=f"m{i}@example.com", subject="Hi", body="Hello", category="test"
        )
        for i in range(3)
    ]
    producer = Celery(broker=BROKER, set_as_current=False)
    producer.send_task("core.outbox.deliver_batch", args=[[m.pk for m in messages]], queue=worker_queue)

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if OutboxMessage.objects.filter(pk__in=[m.pk for m in messages], status=OutboxStatus.SENT).count() == 3:
            break
        time.sleep(0.3)
    assert sorted(OutboxMessage.objects.filter(pk__in=[m.pk for m in messages]).values_list("status", "attempts")) == [
        (OutboxStatus.SENT, 1)
    ] * 3
