from celery.schedules import crontab

BEAT_SCHEDULE = {
    # Weekly retraining; the registry only activates a version that beats the recency baseline and the incumbent.
    "buyers-churn-train-weekly": {"task": "buyers.train_churn_model", "schedule": crontab(hour=1, minute=0, day_of_week=0)},
}
