from celery.schedules import crontab

BEAT_SCHEDULE = {
    "loyalty-activate-points": {"task": "loyalty.activate_points", "schedule": crontab(minute=5)},
    "loyalty-expire-points": {"task": "loyalty.expire_points", "schedule": crontab(hour=1, minute=15)},
    "loyalty-expiry-reminders": {"task": "loyalty.send_expiry_reminders", "schedule": crontab(hour=9, minute=0)},
    "loyalty-award-delivered-orders": {"task": "loyalty.award_delivered_orders", "schedule": crontab(hour=2, minute=0)},
    "loyalty-recompute-tiers": {"task": "loyalty.recompute_tiers", "schedule": crontab(hour=3, minute=0)},
    "loyalty-evaluate-badges": {"task": "loyalty.evaluate_badges", "schedule": crontab(hour=3, minute=30)},
}
