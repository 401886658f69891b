from datetime import date

from celery import shared_task

from dashboard import services


def _day(value: str | None) -> date:
    return date.fromisoformat(value) if value else services.default_as_of()


@shared_task(name="dashboard.record_snapshots")
def record_snapshots_task(as_of: str | None = None) -> int:
    return services.snapshot_record(as_of=_day(as_of))


@shared_task(name="dashboard.evaluate_alerts")
def evaluate_alerts_task(as_of: str | None = None) -> list[int]:
    return [alert.pk for alert in services.alert_evaluate_all(as_of=_day(as_of))]


@shared_task(name="dashboard.send_churn_review")
def send_churn_review_task() -> int:
    from dashboard.churn_review import churn_review_send

    return churn_review_send()
