from celery.schedules import crontab

BEAT_SCHEDULE = {
    "feedback-invite-respondents": {"task": "feedback.invite_respondents", "schedule": crontab(minute=17)},
}
