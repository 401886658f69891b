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


def test_every_registered_reaction_is_a_celery_task_under_its_own_name():
    from integrations.reactions import reactions_registered
    from workflows.reactions import LEGACY_KEYS, REACTIONS, RECEIVERS

    tasks = set(_kiln_tasks())
    registered = reactions_registered()

    assert set(REACTIONS) <= set(registered) and set(LEGACY_KEYS) <= set(registered)
    assert {key: task.name for key, task in REACTIONS.items() if key != task.name or task.name not in tasks} == {}
    assert {_queue_for(key) for key in REACTIONS} == {"ingest"}
    assert all(signal.has_listeners() for signal in RECEIVERS)


def test_every_pipeline_stage_resolves_to_functions_and_a_model():
    from django.apps import apps

    from workflows.pipeline import _stages

    stages = _stages()

    assert len(stages) >= 10
    for stage in stages:
        assert stage.chunk or stage.finalize, stage.name
        assert all(callable(step) for step in (stage.chunk, stage.finalize) if step is not None), stage.name
        if stage.chunk:
            assert apps.get_model(stage.keys) is not None, stage.name
