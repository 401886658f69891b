from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from integrations.models import PendingReaction
from integrations.reactions import (
    reaction_enqueue,
    reaction_run,
    reactions_batched,
    reactions_dispatch,
    reactions_sweep_stale,
)
from tests.integrations import reaction_probe

PROBE = "tests.integrations.reaction_probe.reaction_probe_task"


@pytest.fixture(autouse=True)
def _reset_calls():
    reaction_probe.CALLS.clear()


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
