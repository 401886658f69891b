from celery.schedules import crontab

BEAT_SCHEDULE = {
    # Weekly retraining; a new version only goes live if the gate passes it (scoring/gate.py).
    "scoring-train-weekly": {"task": "scoring.train_seller_score", "schedule": crontab(hour=4, minute=0, day_of_week=0)},
    # Before the nightly pipeline (02:30): store how far the scores written last night have moved from
    # each model's training rows, so the pipeline's alert check raises a drift alert the same night.
    "scoring-drift-daily": {"task": "scoring.check_model_drift", "schedule": crontab(hour=2, minute=0)},
}
