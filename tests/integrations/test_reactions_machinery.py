from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from integrations.models import PendingReaction
from integrations.reactions import (
    STALE_AFTER,
    reaction_enqueue,
    reaction_run,
    reactions_batched,
    reactions_dispatch,
    reactions_register_sets,
    reactions_run,
    reactions_sweep_stale,
)
from tests.integrations import reaction_probe

PROBE = "tests.integrations.reaction_probe.reaction_probe_task"


@pytest.fixture(autouse=True)
def _reset_calls():
    reaction_probe.CALLS.clear()
    reaction_probe.SET_CALLS.clear()
    reaction_probe.FAIL_ON.clear()
    reaction_probe.KILL_ON.clear()


@pytest.mark.django_db
def test_reactions_run_only_after_commit(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic():
            reaction_enqueue(task_path=PROBE, subject_id=7)
            assert reaction_probe.CALLS == []

    assert len(callbacks) == 1
    assert reaction_probe.CALLS == [7]
    assert PendingReaction.objects.count() == 0


@pytest.mark.django_db
def test_a_burst_on_one_subject_in_a_batch_runs_once_per_subject(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with transaction.atomic(), reactions_batched():
            for _ in range(50):
                reaction_enqueue(task_path=PROBE, subject_id=1)
            reaction_enqueue(task_path=PROBE, subject_id=2)

    assert len(callbacks) == 1
    assert sorted(reaction_probe.CALLS) == [1, 2]


@pytest.mark.django_db
def test_a_subject_already_pending_is_not_enqueued_again():
    PendingReaction.objects.create(task_path=PROBE, subject_id=3)

    sent = reactions_dispatch(pairs=[(PROBE, 3), (PROBE, 4)])

    assert sent == 1
    assert reaction_probe.CALLS == [4]
    # The pending run for subject 3 still happens once when its worker claims the row.
    assert reaction_run(task_path=PROBE, subject_id=3) is True
    assert reaction_run(task_path=PROBE, subject_id=3) is False
    assert reaction_probe.CALLS == [4, 3]


@pytest.mark.django_db
def test_a_rolled_back_transaction_enqueues_nothing(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError):
            with transaction.atomic():
                reaction_enqueue(task_path=PROBE, subject_id=9)
                raise RuntimeError

    assert callbacks == []
    assert reaction_probe.CALLS == []


@pytest.mark.django_db
def test_unknown_or_non_task_targets_are_skipped_without_error():
    PendingReaction.objects.create(task_path="nowhere.tasks.missing_task", subject_id=1)
    PendingReaction.objects.create(task_path="tests.integrations.reaction_probe.not_a_task", subject_id=1)

    assert reaction_run(task_path="nowhere.tasks.missing_task", subject_id=1) is False
    assert reaction_run(task_path="tests.integrations.reaction_probe.not_a_task", subject_id=1) is False
    assert reaction_probe.CALLS == []
    assert PendingReaction.objects.count() == 0


@pytest.mark.django_db
def test_stale_pending_rows_are_resent():
    PendingReaction.objects.create(task_path=PROBE, subject_id=5)
    PendingReaction.objects.filter(subject_id=5).update(created_at=timezone.now() - timedelta(hours=1))
    PendingReaction.objects.create(task_path=PROBE, subject_id=6)

    assert reactions_sweep_stale() == 1
    assert reaction_probe.CALLS == [5]
    assert list(PendingReaction.objects.values_list("subject_id", flat=True)) == [6]


@pytest.mark.django_db
def test_a_batch_runs_a_set_based_reaction_once_over_its_subjects_and_the_others_one_by_one(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic(), reactions_batched():
            for subject_id in (12, 10, 11, 10):
                reaction_enqueue(task_path=reaction_probe.SET_PROBE, subject_id=subject_id)
            reaction_enqueue(task_path=PROBE, subject_id=7)
            reaction_enqueue(task_path=PROBE, subject_id=8)

    assert reaction_probe.SET_CALLS == [[10, 11, 12]]
    assert sorted(reaction_probe.CALLS) == [7, 8]
    assert PendingReaction.objects.count() == 0


@pytest.mark.django_db
def test_a_set_runs_only_the_subjects_whose_pending_row_it_claimed():
    PendingReaction.objects.create(task_path=reaction_probe.SET_PROBE, subject_id=1)
    PendingReaction.objects.create(task_path=reaction_probe.SET_PROBE, subject_id=3)

    # Subject 2 was claimed by another worker already: its row is gone.
    assert reactions_run(pairs=[(reaction_probe.SET_PROBE, 1), (reaction_probe.SET_PROBE, 2), (reaction_probe.SET_PROBE, 3)]) == 2
    assert reactions_run(pairs=[(reaction_probe.SET_PROBE, 1), (reaction_probe.SET_PROBE, 3)]) == 0

    assert reaction_probe.SET_CALLS == [[1, 3]]
    assert reaction_probe.CALLS == []


@pytest.mark.django_db
def test_a_failing_set_gives_each_subject_its_own_task():
    reaction_probe.FAIL_ON.add(5)
    for subject_id in (4, 5, 6):
        PendingReaction.objects.create(task_path=reaction_probe.SET_PROBE, subject_id=subject_id)

    assert reactions_run(pairs=[(reaction_probe.SET_PROBE, s) for s in (4, 5, 6)]) == 3

    assert reaction_probe.SET_CALLS == []
    assert reaction_probe.CALLS == [4, 5, 6]
    assert PendingReaction.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_set_cut_short_leaves_its_subjects_pending_for_the_sweep():
    reaction_probe.KILL_ON.add(8)
    for subject_id in (7, 8):
        PendingReaction.objects.create(task_path=reaction_probe.SET_PROBE, subject_id=subject_id)

    with pytest.raises(reaction_probe.WorkerKilled):
        reactions_run(pairs=[(reaction_probe.SET_PROBE, 7), (reaction_probe.SET_PROBE, 8)])

    # The claim rolled back with the set: both rows wait for the stale sweep, none ran.
    assert sorted(PendingReaction.objects.values_list("subject_id", flat=True)) == [7, 8]
    assert reaction_probe.SET_CALLS == [] and reaction_probe.CALLS == []

    reaction_probe.KILL_ON.clear()
    PendingReaction.objects.update(created_at=timezone.now() - STALE_AFTER - timedelta(minutes=1))
    assert reactions_sweep_stale() == 2
    assert reaction_probe.SET_CALLS == [[7, 8]]
    assert PendingReaction.objects.count() == 0


def test_a_set_based_form_needs_the_reaction_task_first():
    with pytest.raises(KeyError):
        reactions_register_sets({"nowhere.tasks.unregistered": lambda ids: None})
