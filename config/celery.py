import os

from celery import Celery
from celery.signals import worker_init

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


@worker_init.connect
def _import_model_loader(**kwargs):
    # The first import of skops.io (which loads the scoring and churn models) looks up the
    # module of every numpy and scipy ufunc by scanning sys.modules: 1.7 s in a process with
    # Django's 2,400 modules loaded. A worker pays it once at start-up, before the pool forks,
    # instead of inside the first chunk of the night that loads a model (or the first rescore
    # on the ingest queue); it adds scikit-learn's modules to every worker's memory.
    import skops.io  # noqa: F401
