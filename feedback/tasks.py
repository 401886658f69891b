from celery import shared_task

from feedback import followups, invitations


@shared_task(name="feedback.process_responses", autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=5)
def process_responses_task(response_ids: list[int]) -> dict:
    return followups.responses_process(response_ids=response_ids)


@shared_task(name="feedback.invite_respondents")
def invite_respondents_task(survey_id: int | None = None) -> dict:
    return invitations.invitations_send(survey_id=survey_id)
