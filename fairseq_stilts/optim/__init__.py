"""Optimizers (imported by the package: fairseq's --user-dir import does not look here)."""

from fairseq_stilts.optim import stilts_adamw  # noqa: F401
