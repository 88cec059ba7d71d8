"""The report's uncertainty: a bootstrap over test examples within each language, paired across
settings, combined with a bootstrap over seeds.

Each resample draws, for every (task, language), the language's test examples with replacement;
the same draw is used for every setting and seed (the test set is the same for all of them), so a
difference between settings is paired example by example. From each run's per-example counts
(:mod:`~fairseq_stilts.results.example_counts`) the resampled sums give the metric exactly as the
task computes it (:mod:`~fairseq_stilts.metrics.sums`: accuracy, seqeval F1 from chunk counts per
sentence, EM and F1 per question, BUCC F1 from pairs per source sentence). Then each setting's
seeds are drawn with replacement, the same draw for all its tasks and languages (a seed is one
intermediate run, which all its targets start from), and every quantity (a language score, a task
score, a category or the average) is computed per seed as its point value is, then averaged over
the drawn seeds. A language without counts for some run keeps its scores fixed and varies with
the seeds only. Percentile intervals of the resampled values; seeded, and each draw depends only
on the seed and the names of what it draws for.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from fairseq_stilts.metrics.sums import SUM_METRICS
from fairseq_stilts.results.example_counts import Counts

LEVEL = 0.95
_CHUNK = 4_000_000  # drawn example indices held at once


@dataclass(frozen=True)
class Estimate:
    """A point value with the bounds of its percentile bootstrap interval at :data:`LEVEL`."""

    value: float
    low: float
    high: float

    @property
    def excludes_zero(self) -> bool:
        """Whether the interval lies above or below zero; never for an interval of no width
        (nothing varied: one seed and no per-example counts)."""
        return self.low < self.high and (self.low > 0 or self.high < 0)


def estimate(value: float, draws: np.ndarray) -> Estimate:
    """``value`` with the central :data:`LEVEL` interval of its resampled ``draws``."""
    tail = (1.0 - LEVEL) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail])
    return Estimate(float(value), float(low), float(high))


def _rng(seed: int, *names: str) -> np.random.Generator:
    """A generator that depends only on ``seed`` and ``names``."""
    return np.random.default_rng([seed, *"/".join(names).encode("utf-8")])


def resampled_sums(matrix: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """``resamples`` x columns: the column sums of ``matrix`` (examples x columns) over rows
    drawn with replacement, as many as it has."""
    n = len(matrix)
    out = np.empty((resamples, matrix.shape[1]))
    step = max(1, _CHUNK // max(n, 1))
    values = matrix.astype(np.float64)
    for first in range(0, resamples, step):
        count = min(step, resamples - first)
        drawn = rng.integers(0, n, size=(count, n)) + n * np.arange(count)[:, None]
        weights = np.bincount(drawn.ravel(), minlength=count * n).reshape(count, n)
        out[first : first + count] = weights @ values
    return out


def _score(metrics: Sequence[str], sums: Mapping[str, np.ndarray]) -> np.ndarray:
    return np.mean([SUM_METRICS[m](sums) for m in metrics], axis=0)


def _language_draws(
    runs: Mapping[tuple[str, int], float],
    counts: Mapping[tuple[str, int], Counts],
    metrics: Sequence[str],
    resamples: int,
    rng: np.random.Generator,
) -> tuple[dict[tuple[str, int], np.ndarray], bool]:
    """Per run, the language's score in each resample of its examples; whether the examples
    were resampled (every run has counts of the same examples), else each run's fixed score."""
    needed = sorted({name for m in metrics for name in SUM_METRICS[m].sums})
    found = [counts.get(run) for run in runs]
    sizes = {len(next(iter(c.values()))) for c in found if c}
    usable = all(c and set(needed) <= set(c) for c in found) and len(sizes) == 1 and 0 not in sizes
    if not usable:
        return {run: np.full(resamples, value) for run, value in runs.items()}, False
    matrix = np.column_stack([c[name] for c in found for name in needed])
    sums = resampled_sums(matrix, resamples, rng)
    draws = {}
    for i, run in enumerate(runs):
        columns = sums[:, i * len(needed) : (i + 1) * len(needed)]
        draws[run] = _score(metrics, dict(zip(needed, columns.T, strict=True)))
    return draws, True


@dataclass
class TaskDraws:
    """One task's resampled language scores per run, and the languages whose examples could
    not be resampled (their scores stay fixed)."""

    runs: dict[tuple[str, int], dict[str, np.ndarray]]  # (setting, seed) -> language -> draws
    fixed_languages: list[str]

    def run_score(self, run: tuple[str, int]) -> np.ndarray:
        """The run's task score in each resample: the mean over its languages."""
        return np.mean(list(self.runs[run].values()), axis=0)


def resample_task(
    task: str,
    scores: Mapping[tuple[str, int], Mapping[str, float]],
    counts: Mapping[tuple[str, int, str], Counts],
    metrics: Sequence[str],
    resamples: int,
    seed: int,
) -> TaskDraws:
    """Each run's language scores of ``task`` resampled over examples, from its language scores
    per run ((setting, seed) -> language -> score) and the runs' per-example counts ((setting,
    seed, language) -> counts)."""
    languages = sorted({lang for by_lang in scores.values() for lang in by_lang})
    result = TaskDraws({run: {} for run in scores}, [])
    for lang in languages:
        runs = {run: by_lang[lang] for run, by_lang in scores.items() if lang in by_lang}
        run_counts = {run: counts[(*run, lang)] for run in runs if (*run, lang) in counts}
        draws, resampled = _language_draws(
            runs, run_counts, metrics, resamples, _rng(seed, task, lang)
        )
        result.fixed_languages += [] if resampled else [lang]
        for run, values in draws.items():
            result.runs[run][lang] = values
    return result


class SeedResampler:
    """Draws each setting's seeds with replacement, once per resample, shared by everything of
    that setting: a seed is one intermediate-training run, which all its targets start from."""

    def __init__(self, seeds: Mapping[str, Sequence[int]], resamples: int, seed: int) -> None:
        self.seeds = {setting: sorted(found) for setting, found in seeds.items()}
        self.resamples, self.seed = resamples, seed
        self.picks = {
            setting: _rng(seed, "seeds", setting).integers(0, len(found), (resamples, len(found)))
            for setting, found in self.seeds.items()
        }

    def mean(self, setting: str, per_seed: Mapping[int, np.ndarray], *names: str) -> np.ndarray:
        """The mean over drawn seeds of ``per_seed`` (seed -> draws). A quantity that lacks some
        of the setting's seeds draws among its own (seeded by ``names``), as its value is the
        mean over those."""
        seeds = sorted(per_seed)
        if seeds == self.seeds[setting]:
            picks = self.picks[setting]
        else:
            rng = _rng(self.seed, "seeds", setting, *names)
            picks = rng.integers(0, len(seeds), (self.resamples, len(seeds)))
        stack = np.array([per_seed[s] for s in seeds])
        return stack[picks, np.arange(self.resamples)[:, None]].mean(axis=1)
