from celery import shared_task

from integrations.reactions import reactions_register

CALLS: list[int] = []


@shared_task(name="tests.reaction_probe")
def reaction_probe_task(subject_id: int) -> None:
    CALLS.append(subject_id)


def not_a_task(subject_id: int) -> None:
    CALLS.append(-subject_id)


# The probe is a reaction like the storefront's, registered under its module path.
reactions_register({"tests.integrations.reaction_probe.reaction_probe_task": reaction_probe_task})
