from celery.schedules import crontab

BEAT_SCHEDULE = {
    # Weekly retraining; a new version only goes live if it beats the active one and the baseline.
    "scoring-train-weekly": {"task": "scoring.train_seller_score", "schedule": crontab(hour=4, minute=0, day_of_week=0)},
}
