"""The nightly recompute, stage by stage.

Each stage names a service function in the app that owns it. The order matters: seller
scores read features, retention reads orders and feedback, loyalty reads segments, and
KPIs read everything.
"""

import time
from collections.abc import Callable, Iterator
from importlib import import_module

STAGES: list[tuple[str, str]] = []


def _resolve(path: str) -> Callable:
    module, _, name = path.partition(":")
    return getattr(import_module(module), name)


def pipeline_run_inline(*, seed: int = 7, progress: Callable[[str], None] | None = None) -> Iterator[tuple[str, float]]:
    """Run every stage in this process, one after another (the demo and single-box deployments)."""
    for stage, path in STAGES:
        if progress:
            progress(f"  running {stage}…")
        started = time.monotonic()
        _resolve(path)(seed=seed)
        yield stage, time.monotonic() - started
