from celery.schedules import crontab

BEAT_SCHEDULE = {
    "integrations-purge-idempotency-records": {
        "task": "integrations.purge_idempotency_records",
        "schedule": crontab(minute=17),
    },
    "integrations-sweep-stale-reactions": {
        "task": "integrations.sweep_stale_reactions",
        "schedule": 300.0,
    },
}
