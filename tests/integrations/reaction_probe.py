from celery import shared_task

from integrations.reactions import reactions_register, reactions_register_sets

CALLS: list[int] = []


@shared_task(name="tests.reaction_probe")
def reaction_probe_task(subject_id: int) -> None:
    CALLS.append(subject_id)


def not_a_task(subject_id: int) -> None:
    CALLS.append(-subject_id)


# The probe is a reaction like the storefront's, registered under its module path.
reactions_register({"tests.integrations.reaction_probe.reaction_probe_task": reaction_probe_task})


# A reaction with a set-based form: SET_CALLS records each call's subjects; a subject in FAIL_ON
# makes the set call raise, as a bad row would.
SET_CALLS: list[list[int]] = []
FAIL_ON: set[int] = set()


@shared_task(name="tests.reaction_set_probe")
def reaction_set_probe_task(subject_id: int) -> None:
    CALLS.append(subject_id)


KILL_ON: set[int] = set()


class WorkerKilled(BaseException):
    """Stands for the process dying mid-set: not an Exception, so nothing catches it on the way."""


def reaction_set_probe(subject_ids: list[int]) -> None:
    if FAIL_ON & set(subject_ids):
        raise RuntimeError("bad subject")
    if KILL_ON & set(subject_ids):
        raise WorkerKilled
    SET_CALLS.append(list(subject_ids))


SET_PROBE = "tests.integrations.reaction_probe.reaction_set_probe_task"
reactions_register({SET_PROBE: reaction_set_probe_task})
reactions_register_sets({SET_PROBE: reaction_set_probe})
