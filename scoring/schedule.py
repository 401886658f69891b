from celery.schedules import crontab

BEAT_SCHEDULE = {
    # After the inventory audit (sellers, 01:30) so tonight's findings are in the scores.
    "scoring-recompute-nightly": {"task": "scoring.recompute_all", "schedule": crontab(hour=2, minute=30)},
    # Weekly retraining; a new version only goes live if it beats the active one and the baseline.
    "scoring-train-weekly": {"task": "scoring.train_seller_score", "schedule": crontab(hour=4, minute=0, day_of_week=0)},
}
