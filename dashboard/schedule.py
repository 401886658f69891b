from celery.schedules import crontab

# Snapshots first, so the morning dashboard loads from stored rows; alerts after, on complete days.
BEAT_SCHEDULE = {
    "dashboard-record-snapshots": {"task": "dashboard.record_snapshots", "schedule": crontab(hour=2, minute=10)},
    "dashboard-evaluate-alerts": {"task": "dashboard.evaluate_alerts", "schedule": crontab(hour=2, minute=40)},
}
