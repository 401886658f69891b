"""The stages of the nightly recompute, in dependency levels (see core/pipeline.py)."""

from core.pipeline import Stage

STAGES: list[Stage] = []
