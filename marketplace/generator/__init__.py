"""Synthetic marketplace generator; the generating process is documented in docs/generator.md."""
