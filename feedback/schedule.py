from celery.schedules import crontab

BEAT_SCHEDULE = {
    "feedback-invite-respondents": {"task": "feedback.invite_respondents", "schedule": crontab(minute=17)},
    # Zigpoll and any other pull connector: incremental, from each source's last cursor.
    "feedback-sync-pull-sources": {"task": "feedback.sync_pull_sources", "schedule": crontab(minute="*/15")},
}
