"""Collects the Celery beat entries that each app declares in ``<app>/schedule.py``."""

from importlib import import_module

from celery.schedules import crontab

from django.apps import apps
from django.conf import settings


def collect_beat_schedule() -> dict:
    schedule: dict = {}
    for config in apps.get_app_configs():
        try:
            module = import_module(f"{config.name}.schedule")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.schedule":
                raise
            continue
        schedule.update(getattr(module, "BEAT_SCHEDULE", {}))
    return schedule


BEAT_SCHEDULE = {
    "outbox-sweep": {"task": "core.outbox.sweep", "schedule": 60.0},
}

BEAT_SCHEDULE["nightly-recompute"] = {
    "task": "core.pipeline.start",
    "schedule": crontab(hour=2, minute=30),
    "kwargs": {"trigger": "beat"},
}

# Finds runs whose heartbeat went quiet (a killed worker, messages lost with the broker).
BEAT_SCHEDULE["pipeline-watchdog"] = {"task": "core.pipeline.watchdog", "schedule": float(settings.PIPELINE_WATCHDOG_SECONDS)}
