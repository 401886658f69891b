from celery.schedules import crontab

BEAT_SCHEDULE = {
    # Monday 07:00, after Sunday night's recompute: each team finds last week's review in its inbox.
    "dashboard-weekly-churn-review": {"task": "dashboard.send_churn_review", "schedule": crontab(day_of_week=1, hour=7, minute=0)},
}
