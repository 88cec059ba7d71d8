"""Paired bootstrap confidence interval of a mean difference over languages."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def paired_bootstrap_ci(
    treated: Sequence[float],
    control: Sequence[float],
    resamples: int = 10_000,
    seed: int = 0,
    level: float = 0.95,
) -> tuple[float, float, float]:
    """The mean of ``treated - control`` and its percentile bootstrap interval at ``level``.

    ``treated[i]`` and ``control[i]`` are the scores of the same language under two settings
    (here multilingual and English-only intermediate training, each averaged over seeds). The
    pairing is by language: each resample draws languages with replacement and a drawn language
    brings both of its scores, i.e. its difference, so the interval reflects how the effect
    varies across languages, not seed noise. Seeded: the same inputs give the same interval.
    One language (or identical differences) gives an interval of zero width.
    """
    if len(treated) != len(control) or not treated:
        raise ValueError("paired bootstrap needs two equally long, non-empty score lists")
    diffs = np.asarray(treated, dtype=float) - np.asarray(control, dtype=float)
    draws = np.random.default_rng(seed).integers(0, len(diffs), size=(resamples, len(diffs)))
    means = diffs[draws].mean(axis=1)
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(diffs.mean()), float(low), float(high)
