"""The small test stages, with every finalize step counting its runs in the control directory.

A file per stage, one line per run, so a test (or a worker process) can tell a level that ran
twice from one that ran once.
"""

from tests.workflows import stages
from workflows.pipeline import Stage


def _count(name: str) -> None:
    with open(stages.CONTROL_DIR / f"finalized-{name}", "a") as log:
        log.write("1\n")


def finalize_sellers(*, as_of):
    _count("sellers")
    return 0


def finalize_summary(*, as_of):
    _count("summary")
    return stages.count_open_cases(as_of=as_of)


def finalized(control_dir, name: str) -> int:
    path = control_dir / f"finalized-{name}"
    return len(path.read_text().splitlines()) if path.exists() else 0


STAGES = [
    Stage(
        "sellers",
        level=0,
        keys="sellers.Seller",
        chunk=stages.flag_sellers_with_cancellations,
        finalize=finalize_sellers,
    ),
    Stage("buyers", level=0, keys="buyers.Buyer", chunk=stages.flag_buyers_without_orders),
    Stage("summary", level=1, finalize=finalize_summary),
]
