"""Every Celery task lands on a queue a worker consumes, and every route names real tasks."""

import fnmatch
import re
from pathlib import Path

from django.conf import settings

from config.celery import app

ROOT = Path(__file__).resolve().parents[2]


def _worker_queues() -> set[str]:
    makefile = (ROOT / "Makefile").read_text()
    return set(re.search(r"celery -A config worker -Q ([\w,]+)", makefile).group(1).split(","))


def _kiln_tasks() -> list[str]:
    app.loader.import_default_modules()
    return sorted(name for name in app.tasks if not name.startswith("celery."))


def _queue_for(task: str) -> str:
    for pattern, route in settings.CELERY_TASK_ROUTES.items():
        if fnmatch.fnmatchcase(task, pattern):
            return route["queue"]
    return settings.CELERY_TASK_DEFAULT_QUEUE


def test_every_task_is_routed_to_a_queue_make_worker_consumes():
    queues = _worker_queues()
    tasks = _kiln_tasks()

    assert len(tasks) > 20
    assert {task: _queue_for(task) for task in tasks if _queue_for(task) not in queues} == {}


def test_no_route_names_a_task_that_does_not_exist():
    tasks = _kiln_tasks()

    assert [pattern for pattern in settings.CELERY_TASK_ROUTES if not fnmatch.filter(tasks, pattern)] == []


def test_reactions_run_on_the_ingest_queue():
    assert _queue_for("integrations.run_reactions") == "ingest"
