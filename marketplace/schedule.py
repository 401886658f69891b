from celery.schedules import crontab

BEAT_SCHEDULE = {
    # Hourly: a buyer hears about a late order within the hour after the grace period ends.
    "marketplace-late-order-outreach": {"task": "marketplace.late_order_outreach", "schedule": crontab(minute=40)},
}
