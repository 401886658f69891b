from celery.schedules import crontab

BEAT_SCHEDULE = {
    # Nightly, after the seller scores (02:30): fits, then per-range scoring chunks.
    "buyers-retention-nightly": {"task": "buyers.recompute_retention", "schedule": crontab(hour=3, minute=0)},
    # Recommendations and cases read the retention rows, so they run once the chunks are done.
    "buyers-recommendations-nightly": {"task": "buyers.recompute_recommendations", "schedule": crontab(hour=4, minute=0)},
    "buyers-churn-cases-daily": {"task": "buyers.open_churn_cases", "schedule": crontab(hour=5, minute=0)},
    "buyers-seller-dormancy-daily": {"task": "buyers.recompute_seller_dormancy", "schedule": crontab(hour=5, minute=30)},
    # Weekly retraining; the registry only activates a version that beats the recency baseline and the incumbent.
    "buyers-churn-train-weekly": {"task": "buyers.train_churn_model", "schedule": crontab(hour=1, minute=0, day_of_week=0)},
}
