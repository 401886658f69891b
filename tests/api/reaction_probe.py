from celery import shared_task

CALLS: list[int] = []


@shared_task(name="tests.reaction_probe")
def reaction_probe_task(subject_id: int) -> None:
    CALLS.append(subject_id)


def not_a_task(subject_id: int) -> None:
    CALLS.append(-subject_id)
