from celery.schedules import crontab
from django.conf import settings

BEAT_SCHEDULE = {}

BEAT_SCHEDULE["nightly-recompute"] = {
    "task": "core.pipeline.start",
    "schedule": crontab(hour=2, minute=30),
    "kwargs": {"trigger": "beat"},
}

# Finds runs whose heartbeat went quiet (a killed worker, messages lost with the broker).
BEAT_SCHEDULE["pipeline-watchdog"] = {"task": "core.pipeline.watchdog", "schedule": float(settings.PIPELINE_WATCHDOG_SECONDS)}
