from celery.schedules import crontab

BEAT_SCHEDULE = {
    # Weekly retraining; a new version only goes live if the gate passes it (scoring/gate.py).
    "scoring-train-weekly": {"task": "scoring.train_seller_score", "schedule": crontab(hour=4, minute=0, day_of_week=0)},
    # After the nightly recompute (02:30), compare today's inputs with each model's training rows.
    "scoring-drift-daily": {"task": "scoring.check_model_drift", "schedule": crontab(hour=5, minute=15)},
}
