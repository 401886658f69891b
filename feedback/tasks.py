from celery import shared_task

from feedback import followups, invitations


@shared_task(name="feedback.process_responses", autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=5)
def process_responses_task(response_ids: list[int]) -> dict:
    return followups.responses_process(response_ids=response_ids)


@shared_task(name="feedback.invite_respondents")
def invite_respondents_task(survey_id: int | None = None) -> dict:
    return invitations.invitations_send(survey_id=survey_id)


@shared_task(name="feedback.fetch_webhook_response")
def fetch_webhook_response_task(source_id: int, survey_id: str, response_id: str) -> str:
    from feedback import connectors
    from feedback.models import FeedbackSource

    source = FeedbackSource.objects.get(pk=source_id)
    return connectors.webhook_response_fetch(source=source, survey_id=survey_id, response_id=response_id).status


@shared_task(name="feedback.sync_pull_sources")
def sync_pull_sources_task() -> dict:
    from feedback import connectors

    return connectors.pull_sources_sync()
