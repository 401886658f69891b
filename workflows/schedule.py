from celery.schedules import crontab

BEAT_SCHEDULE = {}

BEAT_SCHEDULE["nightly-recompute"] = {
    "task": "core.pipeline.start",
    "schedule": crontab(hour=2, minute=30),
    "kwargs": {"trigger": "beat"},
}
