from celery.schedules import crontab

BEAT_SCHEDULE = {
    "sellers-inventory-audit": {"task": "sellers.inventory_audit", "schedule": crontab(hour=1, minute=30)},
}
