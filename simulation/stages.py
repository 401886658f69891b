"""The nightly stages the simulator runs each simulated week, through Kiln's pipeline machinery.

A subset of the nightly list: lifetime fits (refitted every few weeks; the fit is the slow
step), buyer retention scores and the retention interventions (holdout draw, cases). The
stage functions are Kiln's own.
"""

try:  # the stage adapters move to workflows/ (architecture work); either location serves
    from workflows.pipeline import Stage  # type: ignore[import-not-found]

    STAGE_MODULE = "workflows.stages"
except ImportError:  # pragma: no cover - depends on the branch
    from core.pipeline import Stage

    STAGE_MODULE = "core.stages"

WEEKLY = [
    Stage(
        "buyer_retention",
        level=1,
        keys="buyers.Buyer",
        chunk=f"{STAGE_MODULE}:buyer_retention_chunk",
        finalize=f"{STAGE_MODULE}:retention_interventions",
    ),
]
WITH_FITS = [Stage("buyer_lifetime_fits", level=0, finalize=f"{STAGE_MODULE}:buyer_lifetime_fits"), *WEEKLY]
