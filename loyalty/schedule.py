from celery.schedules import crontab

BEAT_SCHEDULE = {
    "loyalty-activate-points": {"task": "loyalty.activate_points", "schedule": crontab(minute=5)},
    "loyalty-expiry-reminders": {"task": "loyalty.send_expiry_reminders", "schedule": crontab(hour=9, minute=0)},
    # Hourly, so a competition ending on the hour pays its prizes within the hour; closing twice pays once.
    "loyalty-close-competitions": {"task": "loyalty.close_competitions", "schedule": crontab(minute=15)},
}
