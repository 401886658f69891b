"""The nightly recompute as one Celery workflow.

Stages are grouped in levels: the stages of one level are independent and run in parallel;
a level starts only when the previous one has finished. Each stage is split into chunks by
primary-key range and run as a chord: the chunks are the header, and the callback checks the
level, runs each stage's finalize step once, and dispatches the next level. A stage with only a
finalize step (no chunks) is itself one task in the header, so it runs beside the level's
chunks on another worker instead of after them in the callback.

Every chunk function is idempotent and runs in its own transaction, so a chunk that is
redelivered after a worker died, or retried after a database error, writes the same rows
again rather than adding to them. A run holds a lease while it makes progress, so a second run
(beat firing while the last one is still going) is recorded as skipped instead of
interleaving its writes.

Liveness: every chunk and finalize step renews the run's heartbeat and lease (and a thread keeps
renewing them while a long step runs), so the lease lapses minutes after progress stops instead
of hours. A beat-driven watchdog finds runs whose heartbeat went quiet (a SIGKILLed worker's
unacknowledged chunk, messages lost with a broker restart) and re-sends their current level, or
fails them with the reason once re-sending stopped helping. A level's completion is claimed with
a conditional UPDATE, so a duplicated chord callback changes nothing.
"""

import logging
import os
import resource
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import import_module

from django.apps import apps
from django.conf import settings
from django.db import connection, connections, transaction
from django.db.models import F, Max, Min, Q, Sum
from django.utils import timezone

from core.models import PipelineChunk, PipelineLease, PipelineRun, PipelineStageRun, RunStatus

logger = logging.getLogger(__name__)

LEASE_NAME = "nightly-recompute"


def _lease_ttl() -> timedelta:
    return timedelta(seconds=settings.PIPELINE_LEASE_SECONDS)


@dataclass(frozen=True)
class Stage:
    name: str
    level: int
    # "app_label.Model" whose primary-key range is split into chunks; None for a single step.
    keys: str | None = None
    # Called as f(lo=, hi=, as_of=) for each chunk; returns rows written.
    chunk: Callable[..., int] | None = None
    # Called as f(as_of=) once after every chunk of the stage succeeded.
    finalize: Callable[..., int] | None = None

    @property
    def finalize_only(self) -> bool:
        return self.chunk is None and self.finalize is not None


# The single key range of a finalize-only stage's one task.
WHOLE_STAGE = (0, 0)


def _resolve(path: str) -> Callable:
    module, _, name = path.partition(":")
    return getattr(import_module(module), name)


def _stages() -> list[Stage]:
    # A dotted path, so tests and benchmarks can run the same machinery over other stages.
    return list(_resolve(settings.PIPELINE_STAGES))


def _levels(stages: list[Stage]) -> list[int]:
    return sorted({stage.level for stage in stages})


def pipeline_level_count() -> int:
    """How many levels a run goes through (for progress bars)."""
    return len(_levels(_stages()))


def _peak_rss_mb() -> float:
    """This process's peak resident memory in MB.

    On Linux, VmHWM: ru_maxrss survives fork and exec, so a worker started by a large parent
    would report the parent's peak (seen: every worker "peaked" at its launcher's 1,051 MB).
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    # ru_maxrss is in kilobytes on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def key_ranges(model_label: str, chunk_size: int) -> list[tuple[int, int]]:
    """Split a table's primary keys into [lo, hi] ranges without loading the keys."""
    model = apps.get_model(model_label)
    bounds = model.objects.aggregate(lo=Min("pk"), hi=Max("pk"))
    if bounds["lo"] is None:
        return []
    return [(lo, min(lo + chunk_size - 1, bounds["hi"])) for lo in range(bounds["lo"], bounds["hi"] + 1, chunk_size)]


# --- the lease ----------------------------------------------------------------


def _lease_acquire(run: PipelineRun, now: datetime) -> bool:
    PipelineLease.objects.get_or_create(name=LEASE_NAME)
    # Conditional UPDATE: of two runs racing for a free lease exactly one changes the row.
    taken = (
        PipelineLease.objects.filter(name=LEASE_NAME)
        .filter(Q(holder__isnull=True) | Q(expires_at__lt=now) | Q(holder=run))
        .update(holder=run, expires_at=now + _lease_ttl())
    )
    return taken == 1


# A beat this recent is still news: the watchdog acts on minutes of silence, and a night of
# thousands of chunks otherwise committed (and flushed to disk) four beats a chunk.
BEAT_FRESH = timedelta(seconds=5)


def _beat(run_id: int) -> None:
    """Record progress: the run's heartbeat and its lease move forward together.

    Each moves only if it is older than BEAT_FRESH; an UPDATE that changes no row writes
    nothing, so the beats between chunks of a busy night cost a read, not a commit.
    """
    now = timezone.now()
    PipelineRun.objects.filter(pk=run_id, status=RunStatus.RUNNING).filter(
        Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lt=now - BEAT_FRESH)
    ).update(heartbeat_at=now)
    expires_at = now + _lease_ttl()
    PipelineLease.objects.filter(name=LEASE_NAME, holder_id=run_id, expires_at__lt=expires_at - BEAT_FRESH).update(
        expires_at=expires_at
    )


@contextmanager
def _heartbeat(run_id: int, *, beat_now: bool = True):
    """Beat now (unless the caller just did), and keep beating from a thread while a long
    chunk or finalize step runs.

    The thread dies with its process, so a killed worker's run goes quiet and the watchdog
    notices. SQLite serialises writers, so there the step's own beats have to do.
    """
    if beat_now:
        _beat(run_id)
    interval = settings.PIPELINE_HEARTBEAT_SECONDS
    if not interval or connection.vendor != "postgresql":
        yield
        return
    stop = threading.Event()

    def keep_beating():
        try:
            while not stop.wait(interval):
                try:
                    _beat(run_id)
                except Exception:  # noqa: BLE001 - a missed beat only brings the watchdog closer
                    logger.warning("pipeline heartbeat for run %s failed", run_id, exc_info=True)
        finally:
            connections.close_all()  # this thread's own connections only

    thread = threading.Thread(target=keep_beating, name=f"pipeline-heartbeat-{run_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


def _lease_release(run: PipelineRun) -> None:
    PipelineLease.objects.filter(name=LEASE_NAME, holder=run).update(holder=None, expires_at=timezone.now())


# --- starting, advancing, finishing -----------------------------------------------


def pipeline_start(
    *, trigger: str = "manual", as_of: datetime | None = None, chunk_size: int | None = None, dispatch: bool = True
) -> PipelineRun:
    """Create a run and, if it wins the lease, dispatch its first level.

    A run that finds the lease held is kept as SKIPPED so the overlap is visible in the admin.
    """
    now = timezone.now()
    levels = _levels(_stages())
    with transaction.atomic():
        run = PipelineRun.objects.create(
            trigger=trigger,
            as_of=as_of or now,
            chunk_size=chunk_size or settings.PIPELINE_CHUNK_SIZE,
            status=RunStatus.RUNNING,
            started_at=now,
            heartbeat_at=now,
            level=levels[0] if levels else None,
        )
        if not _lease_acquire(run, now):
            run.status = RunStatus.SKIPPED
            run.finished_at = now
            run.error = "Another pipeline run holds the lease."
            run.save(update_fields=["status", "finished_at", "error"])
            return run
        PipelineStageRun.objects.bulk_create(
            [PipelineStageRun(run=run, name=stage.name, level=stage.level) for stage in _stages()]
        )
    if dispatch:
        if levels:
            transaction.on_commit(lambda: _dispatch_level(run.pk, levels[0]))
        else:
            _finish(run, RunStatus.SUCCEEDED)
    return run


def _stage_defs_at(level: int) -> list[Stage]:
    return [stage for stage in _stages() if stage.level == level]


def pipeline_prepare_level(*, run_id: int, level: int) -> list[int]:
    """Create the level's chunk rows (once) and return the ids of chunks still to run."""
    run = PipelineRun.objects.get(pk=run_id)
    now = timezone.now()
    pending: list[int] = []
    for definition in _stage_defs_at(level):
        stage = PipelineStageRun.objects.get(run=run, name=definition.name)
        if stage.status == RunStatus.SUCCEEDED:
            continue
        if definition.finalize_only:
            ranges = [WHOLE_STAGE]
        else:
            ranges = key_ranges(definition.keys, run.chunk_size) if definition.keys and definition.chunk else []
        with transaction.atomic():
            PipelineChunk.objects.bulk_create(
                [PipelineChunk(stage=stage, lo=lo, hi=hi) for lo, hi in ranges], ignore_conflicts=True
            )
            PipelineStageRun.objects.filter(pk=stage.pk).update(
                status=RunStatus.RUNNING, started_at=stage.started_at or now, chunks_total=len(ranges), error=""
            )
        todo = list(stage.chunks.exclude(status=RunStatus.SUCCEEDED).values_list("pk", flat=True))
        # Whole-stage tasks first: each is one long task, so starting them early shortens the level.
        pending = todo + pending if definition.finalize_only else pending + todo
    _beat(run.pk)
    return pending


def _dispatch_level(run_id: int, level: int) -> None:
    from celery import chord

    from workflows.tasks import pipeline_chunk_task, pipeline_level_done_task

    chunk_ids = pipeline_prepare_level(run_id=run_id, level=level)
    callback = pipeline_level_done_task.si(run_id, level)
    if chunk_ids:
        chord([pipeline_chunk_task.si(chunk_id) for chunk_id in chunk_ids])(callback)
    else:
        callback.delay()


def pipeline_run_chunk(*, chunk_id: int) -> int:
    """Run one chunk in one transaction. Transient database errors propagate for a retry."""
    chunk = PipelineChunk.objects.select_related("stage__run").get(pk=chunk_id)
    if chunk.status == RunStatus.SUCCEEDED:
        return chunk.rows
    definition = next(stage for stage in _stages() if stage.name == chunk.stage.name)
    with transaction.atomic():  # one commit for the claim and the beat
        PipelineChunk.objects.filter(pk=chunk_id).update(attempts=chunk.attempts + 1, status=RunStatus.RUNNING)
        _beat(chunk.stage.run_id)
    with _heartbeat(chunk.stage.run_id, beat_now=False):
        with transaction.atomic():
            if definition.finalize_only:
                rows = int(definition.finalize(as_of=chunk.stage.run.as_of) or 0)
            else:
                rows = int(definition.chunk(lo=chunk.lo, hi=chunk.hi, as_of=chunk.stage.run.as_of) or 0)
            PipelineChunk.objects.filter(pk=chunk_id).exclude(status=RunStatus.SUCCEEDED).update(
                status=RunStatus.SUCCEEDED,
                rows=rows,
                peak_rss_mb=_peak_rss_mb(),
                worker=f"{socket.gethostname()}:{os.getpid()}",
                finished_at=timezone.now(),
                error="",
            )
    _beat(chunk.stage.run_id)
    return rows


def pipeline_fail_chunk(*, chunk_id: int, error: str) -> None:
    PipelineChunk.objects.filter(pk=chunk_id).update(status=RunStatus.FAILED, error=error[:4000])


def pipeline_level_done(*, run_id: int, level: int) -> int | None:
    """Close a level: finalize its stages, then return the next level to dispatch (or None).

    The close is claimed first with a conditional UPDATE: a duplicated or late chord callback
    (a redelivered message, the callback of a chord the watchdog re-sent) finds the claim taken
    or the run past this level, and returns None without touching anything. A copy that comes
    while chunks are still queued or running (and none failed) is early: the real one follows.
    """
    chunks = PipelineChunk.objects.filter(stage__run_id=run_id, stage__level=level)
    if chunks.filter(status__in=[RunStatus.PENDING, RunStatus.RUNNING]).exists() and not chunks.filter(
        status=RunStatus.FAILED
    ).exists():
        return None
    claimed = (
        PipelineRun.objects.filter(pk=run_id, status=RunStatus.RUNNING, level=level)
        .exclude(closed_level=level)
        .update(closed_level=level, heartbeat_at=timezone.now())
    )
    if not claimed:
        return None
    run = PipelineRun.objects.get(pk=run_id)
    failed = []
    for definition in _stage_defs_at(level):
        stage = PipelineStageRun.objects.get(run=run, name=definition.name)
        if stage.status == RunStatus.SUCCEEDED:
            continue
        bad = stage.chunks.exclude(status=RunStatus.SUCCEEDED)
        if bad.exists():
            first = bad.first()
            _stage_close(stage, RunStatus.FAILED, error=f"chunk {first.lo}-{first.hi}: {first.error or first.status}")
            failed.append(definition.name)
            continue
        try:
            extra = 0
            # A finalize-only stage ran as its level's task; run here only if it was never prepared.
            if definition.finalize and not (definition.finalize_only and stage.chunks.exists()):
                with _heartbeat(run.pk), transaction.atomic():
                    extra = int(definition.finalize(as_of=run.as_of) or 0)
        except Exception as exc:  # noqa: BLE001 - recorded on the stage, visible in the admin
            _stage_close(stage, RunStatus.FAILED, error=f"finalize: {type(exc).__name__}: {exc}")
            failed.append(definition.name)
            continue
        _stage_close(stage, RunStatus.SUCCEEDED, extra_rows=extra)
    if failed:
        _finish(run, RunStatus.FAILED, error=f"failed stages: {', '.join(failed)}")
        return None
    later = [lvl for lvl in _levels(_stages()) if lvl > level]
    if not later:
        _finish(run, RunStatus.SUCCEEDED)
        return None
    # Recorded before the next level is sent, so a send lost with the broker is re-sent by the watchdog.
    PipelineRun.objects.filter(pk=run_id, level=level).update(level=later[0], heartbeat_at=timezone.now())
    return later[0]


def _stage_close(stage: PipelineStageRun, status: str, *, error: str = "", extra_rows: int = 0) -> None:
    totals = stage.chunks.aggregate(rows=Sum("rows"), rss=Max("peak_rss_mb"))
    stage.status = status
    stage.error = error
    stage.rows = (totals["rows"] or 0) + extra_rows
    stage.peak_rss_mb = totals["rss"] if totals["rss"] is not None else _peak_rss_mb()
    stage.finished_at = timezone.now()
    stage.save(update_fields=["status", "error", "rows", "peak_rss_mb", "finished_at"])


def _finish(run: PipelineRun, status: str, error: str = "") -> None:
    PipelineRun.objects.filter(pk=run.pk).update(status=status, finished_at=timezone.now(), error=error)
    _lease_release(run)


def pipeline_retry(*, run: PipelineRun, dispatch: bool = True) -> bool:
    """Resume a failed run from its first unfinished level; finished stages and chunks are kept."""
    if run.status != RunStatus.FAILED:
        return False
    now = timezone.now()
    with transaction.atomic():
        if not _lease_acquire(run, now):
            return False
        PipelineChunk.objects.filter(stage__run=run, status=RunStatus.FAILED).update(status=RunStatus.PENDING, error="")
        PipelineStageRun.objects.filter(run=run).exclude(status=RunStatus.SUCCEEDED).update(
            status=RunStatus.PENDING, error="", finished_at=None
        )
        first = run.stages.exclude(status=RunStatus.SUCCEEDED).order_by("level").values_list("level", flat=True).first()
        PipelineRun.objects.filter(pk=run.pk).update(
            status=RunStatus.RUNNING, finished_at=None, error="", heartbeat_at=now, level=first, closed_level=None, redispatches=0
        )
    if dispatch and first is not None:
        transaction.on_commit(lambda: _dispatch_level(run.pk, first))
    return True


def pipeline_retry_latest(*, dispatch: bool = True) -> PipelineRun | None:
    """Retry the most recent run if it failed; None when the latest run did not fail."""
    run = PipelineRun.objects.order_by("-started_at", "-pk").exclude(status=RunStatus.SKIPPED).first()
    if run is None or run.status != RunStatus.FAILED:
        return None
    return run if pipeline_retry(run=run, dispatch=dispatch) else None


# --- the watchdog -------------------------------------------------------------------


def pipeline_watchdog(*, now: datetime | None = None) -> dict[int, str]:
    """Find running runs whose heartbeat went quiet and re-send their level, or fail them.

    Re-sending is safe because chunks are idempotent and skip themselves once succeeded, and a
    level's close is claimed once. Returns {run id: "redispatched" | "failed: <reason>"}.
    """
    now = now or timezone.now()
    quiet_since = now - timedelta(seconds=settings.PIPELINE_STALL_SECONDS)
    silent = PipelineRun.objects.filter(status=RunStatus.RUNNING).filter(
        Q(heartbeat_at__lt=quiet_since) | Q(heartbeat_at__isnull=True, started_at__lt=quiet_since)
    )
    return {run.pk: _revive(run, now) for run in silent}


def _revive(run: PipelineRun, now: datetime) -> str:
    quiet = int((now - (run.heartbeat_at or run.started_at)).total_seconds())
    with transaction.atomic():
        # Two watchdogs looking at the same silence: only the one that moves the heartbeat acts.
        taken = PipelineRun.objects.filter(pk=run.pk, status=RunStatus.RUNNING, heartbeat_at=run.heartbeat_at).update(
            heartbeat_at=now, redispatches=F("redispatches") + 1
        )
        if not taken:
            return "taken"
        reason = ""
        if run.level is None:
            reason = f"No progress for {quiet} s and no level recorded to re-send."
        elif run.redispatches >= settings.PIPELINE_MAX_REDISPATCHES:
            reason = f"No progress for {quiet} s after {run.redispatches} re-dispatches of level {run.level}; stopped by the watchdog."
        elif not _lease_acquire(run, now):
            reason = f"No progress for {quiet} s and another run holds the lease; stopped by the watchdog."
        if reason:
            _finish(run, RunStatus.FAILED, error=reason)
            logger.warning("pipeline run %s failed by the watchdog: %s", run.pk, reason)
            return f"failed: {reason}"
        level = run.level
        PipelineChunk.objects.filter(stage__run=run, stage__level=level, status=RunStatus.RUNNING).update(
            status=RunStatus.PENDING
        )
        # A close claimed by a worker that then died is released, so the re-sent callback can claim it.
        PipelineRun.objects.filter(pk=run.pk, closed_level=level).update(closed_level=None)
        transaction.on_commit(lambda: _dispatch_level(run.pk, level))
    logger.warning("pipeline run %s quiet for %s s: level %s re-sent", run.pk, quiet, level)
    return "redispatched"


def pipeline_run_inline(
    *, as_of: datetime | None = None, chunk_size: int | None = None, progress: Callable[[str], None] | None = None
) -> Iterator[tuple[str, float]]:
    """Run the whole pipeline in this process (the demo, tests, and single-box set-ups)."""
    run = pipeline_start(trigger="inline", as_of=as_of, chunk_size=chunk_size, dispatch=False)
    if run.status == RunStatus.SKIPPED:
        raise RuntimeError(run.error)
    level = _levels(_stages())[0] if _stages() else None
    while level is not None:
        started = time.monotonic()
        if progress:
            progress(f"  level {level}: {', '.join(stage.name for stage in _stage_defs_at(level))}")
        for chunk_id in pipeline_prepare_level(run_id=run.pk, level=level):
            try:
                pipeline_run_chunk(chunk_id=chunk_id)
            except Exception as exc:
                pipeline_fail_chunk(chunk_id=chunk_id, error=f"{type(exc).__name__}: {exc}")
                raise
        next_level = pipeline_level_done(run_id=run.pk, level=level)
        yield ", ".join(stage.name for stage in _stage_defs_at(level)), time.monotonic() - started
        level = next_level
    if not _stages():
        _finish(run, RunStatus.SUCCEEDED)
