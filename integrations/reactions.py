"""Follow-up work after ingestion: enqueued after commit, one pending run per (task, subject).

``reaction_enqueue(task_path=..., subject_id=...)`` registers the reaction. After the commit, a
``PendingReaction`` row is inserted unless one is already pending for the same subject; only the
request that inserted the row sends it to ``integrations.run_reactions`` (many pairs per message).
For each pair, that task deletes the row (the claim) and enqueues the real task, which reads the subject's current state. A burst of
events on one subject therefore costs one run, and an event committed after the claim queues
another, so nothing is missed.

Inside ``reactions_batched()`` (used by bulk endpoints) the same reactions are collected in a
set and dispatched in one statement after the commit.

The task of a reaction is found in an explicit registry of Celery tasks, filled by the
orchestration layer (``workflows/reactions.py``) with ``reactions_register``; a pending row
stores only the key. This module imports no task of another app.

A reaction may also register a set-based form (``reactions_register_sets``): a function that
does for a list of subjects what the task does for each, with the same result. A worker then
claims a message's pairs of that key in one statement and calls it once, instead of enqueueing
one task per subject: a bulk sync of 200 engagement events costs one award, and a batch that
touched 40 artisans one rescore of the 40. If the set call fails, its subjects go to the
one-subject task each, so one bad subject cannot cost the others their run.
"""

import contextvars
import logging
from collections.abc import Callable
from contextlib import contextmanager
from datetime import timedelta

from celery import Task
from django.db import connection, transaction
from django.utils import timezone

from integrations.models import PendingReaction

logger = logging.getLogger(__name__)

_batch: contextvars.ContextVar[set | None] = contextvars.ContextVar("kiln_reaction_batch", default=None)

# A pending row older than this lost its enqueue (e.g. the broker was down) and is re-sent.
STALE_AFTER = timedelta(minutes=10)
_INSERT_CHUNK = 500
# Pairs per broker message; the worker enqueues each pair's own task.
DISPATCH_CHUNK = 200


_registry: dict[str, Task] = {}
_sets: dict[str, Callable[[list[int]], object]] = {}


def reactions_register(tasks: dict[str, Task]) -> None:
    """Adds reaction keys and the Celery task each one runs (the subject id is its argument)."""
    for key, task in tasks.items():
        if not isinstance(task, Task):
            raise TypeError(f"Reaction {key} must be a Celery task, not {task!r}")
        _registry[key] = task


def reactions_register_sets(functions: dict[str, Callable[[list[int]], object]]) -> None:
    """Adds the set-based form of registered reactions: ``function(subject_ids)`` must leave the
    same state as the key's task run once per subject, and be as safe to run twice."""
    for key, function in functions.items():
        if key not in _registry:
            raise KeyError(f"Reaction {key} has no task: register the task before its set-based form")
        _sets[key] = function


def reactions_registered() -> dict[str, Task]:
    return dict(_registry)


def reaction_enqueue(*, task_path: str, subject_id: int) -> None:
    batch = _batch.get()
    if batch is not None:
        batch.add((task_path, subject_id))
        return
    pair = (task_path, subject_id)
    transaction.on_commit(lambda: reactions_dispatch(pairs=[pair]), robust=True)


@contextmanager
def reactions_batched():
    if _batch.get() is not None:
        yield
        return
    pairs: set = set()
    token = _batch.set(pairs)
    try:
        yield
    finally:
        _batch.reset(token)
    if pairs:
        ordered = sorted(pairs)
        transaction.on_commit(lambda: reactions_dispatch(pairs=ordered), robust=True)


def _pending_insert(pairs: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """Inserts the rows that are not pending yet and returns exactly those."""
    table = PendingReaction._meta.db_table
    now = timezone.now()
    inserted: list[tuple[str, int]] = []
    with connection.cursor() as cursor:
        for start in range(0, len(pairs), _INSERT_CHUNK):
            chunk = pairs[start : start + _INSERT_CHUNK]
            values = ", ".join(["(%s, %s, %s)"] * len(chunk))
            params: list = []
            for task_path, subject_id in chunk:
                params.extend([task_path, subject_id, now])
            cursor.execute(
                f"INSERT INTO {table} (task_path, subject_id, created_at) VALUES {values} "
                "ON CONFLICT (task_path, subject_id) DO NOTHING RETURNING task_path, subject_id",
                params,
            )
            inserted.extend((row[0], int(row[1])) for row in cursor.fetchall())
    return inserted


def reactions_dispatch(*, pairs: list[tuple[str, int]]) -> int:
    """Marks the pairs pending and sends the newly pending ones to a worker, DISPATCH_CHUNK per
    message, so a bulk request costs one INSERT and a few broker messages, not one per subject."""
    from integrations.tasks import run_reactions_task

    fresh = _pending_insert(list(pairs))
    for start in range(0, len(fresh), DISPATCH_CHUNK):
        chunk = [[task_path, subject_id] for task_path, subject_id in fresh[start : start + DISPATCH_CHUNK]]
        try:
            run_reactions_task.delay(chunk)
        except Exception:  # noqa: BLE001 - the stale sweep re-sends what was not delivered
            logger.exception("Reactions %s failed to run", chunk[:3])
    return len(fresh)


def reactions_run(*, pairs: list[tuple[str, int]]) -> int:
    """Worker side of ``reactions_dispatch``: the pairs of a key with a set-based form are claimed
    and run together; the others are claimed and run one at a time."""
    by_key: dict[str, list[int]] = {}
    for task_path, subject_id in pairs:
        by_key.setdefault(task_path, []).append(int(subject_id))
    ran = 0
    for task_path, subject_ids in by_key.items():
        if task_path in _sets:
            ran += reactions_run_set(task_path=task_path, subject_ids=subject_ids)
            continue
        for subject_id in subject_ids:
            try:
                ran += reaction_run(task_path=task_path, subject_id=subject_id)
            except Exception:  # noqa: BLE001 - one failing reaction must not stop the others
                logger.exception("Reaction %s(%s) failed to run", task_path, subject_id)
    return ran


def _pending_claim(task_path: str, subject_ids: list[int]) -> list[int]:
    """Deletes the pending rows of these subjects and returns the subjects whose row this call
    deleted: a row claimed by another worker is not run twice."""
    table = PendingReaction._meta.db_table
    claimed: list[int] = []
    with connection.cursor() as cursor:
        for start in range(0, len(subject_ids), _INSERT_CHUNK):
            chunk = subject_ids[start : start + _INSERT_CHUNK]
            cursor.execute(
                f"DELETE FROM {table} WHERE task_path = %s AND subject_id IN ({', '.join(['%s'] * len(chunk))}) "
                "RETURNING subject_id",
                [task_path, *chunk],
            )
            claimed.extend(int(row[0]) for row in cursor.fetchall())
    return sorted(claimed)


def reactions_run_set(*, task_path: str, subject_ids: list[int]) -> int:
    """Claims the subjects' pending rows and runs the key's set-based form once over those claimed.

    The claim commits with the set's own writes: a worker killed mid-set leaves the rows pending,
    and the stale sweep sends them again, instead of the subjects silently losing their run."""
    failed: list[int] = []
    with transaction.atomic():
        claimed = _pending_claim(task_path, sorted(set(subject_ids)))
        if not claimed:
            return 0
        try:
            with transaction.atomic():
                _sets[task_path](claimed)
        except Exception:  # noqa: BLE001 - the one-subject tasks still give each subject its run
            logger.exception("Reaction set %s over %s subjects failed; running them one at a time", task_path, len(claimed))
            failed = claimed
    task = _registry[task_path]
    for subject_id in failed:
        try:
            task.delay(subject_id)
        except Exception:  # noqa: BLE001 - one failing reaction must not stop the others
            logger.exception("Reaction %s(%s) failed to run", task_path, subject_id)
    return len(claimed)


def reaction_run(*, task_path: str, subject_id: int) -> bool:
    """Claims the pending row and enqueues the real task. False when another run claimed it."""
    claimed, _ = PendingReaction.objects.filter(task_path=task_path, subject_id=subject_id).delete()
    if not claimed:
        return False
    task = _registry.get(task_path)
    if task is None:
        logger.warning("Reaction %s is not registered; skipped for subject %s", task_path, subject_id)
        return False
    task.delay(subject_id)
    return True


def reactions_sweep_stale() -> int:
    """Re-sends reactions whose pending row is older than STALE_AFTER."""
    cutoff = timezone.now() - STALE_AFTER
    stale = list(PendingReaction.objects.filter(created_at__lt=cutoff).values_list("id", "task_path", "subject_id")[:5000])
    if not stale:
        return 0
    PendingReaction.objects.filter(id__in=[row[0] for row in stale]).delete()
    return reactions_dispatch(pairs=[(row[1], row[2]) for row in stale])
