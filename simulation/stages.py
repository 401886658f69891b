"""The nightly stages the simulator runs each simulated week, through Kiln's pipeline machinery.

A subset of the nightly list: lifetime fits (refitted every few weeks; the fit is the slow
step), buyer retention scores and the retention interventions (holdout draw, cases). The
stage functions are Kiln's own.
"""

from workflows.pipeline import Stage
from workflows.stages import buyer_lifetime_fits, buyer_retention_chunk, retention_interventions

WEEKLY = [
    Stage("buyer_retention", level=1, keys="buyers.Buyer", chunk=buyer_retention_chunk, finalize=retention_interventions),
]
WITH_FITS = [Stage("buyer_lifetime_fits", level=0, finalize=buyer_lifetime_fits), *WEEKLY]
