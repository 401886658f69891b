"""Collects the Celery beat entries that each app declares in ``<app>/schedule.py``."""

from importlib import import_module

from django.apps import apps


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
