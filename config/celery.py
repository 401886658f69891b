import os

from celery import Celery

# Workers and beat are production processes unless told otherwise.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

app = Celery("kiln")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_finalize.connect
def _install_beat_schedule(sender, **kwargs):
    # Each app declares its periodic work in <app>/schedule.py; collect them here so no
    # one file has to know every app's timetable.
    from core.schedule import collect_beat_schedule

    sender.conf.beat_schedule = collect_beat_schedule()
