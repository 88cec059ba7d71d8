"""XTREME scoring of result rows: per-language values, task scores and their seed statistics.

A task's score is the mean over languages of its official metric (its spec's ``metrics``,
docs/scoring.md); for span QA it is (mean EM + mean F1) / 2. Computed per language as the mean of the official metrics, which
is the same number when every language has all of them (languages missing one are left out).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass

from fairseq_stilts.registry import all_specs, get_spec
from fairseq_stilts.results.row import Row


def xtreme_targets() -> tuple[str, ...]:
    """The XTREME target tasks, in the order their specs were registered."""
    return tuple(name for name, spec in all_specs().items() if spec.role == "target")


def official_metrics(target: str) -> tuple[str, ...]:
    """The metrics whose mean is ``target``'s score (none for a task that is not a target)."""
    return get_spec(target).metrics if target in xtreme_targets() else ()


@dataclass(frozen=True)
class Summary:
    """Mean and sample standard deviation (ddof=1) over seeds; std is None below two seeds."""

    mean: float
    std: float | None
    seeds: int


def summarize(values: Iterable[float]) -> Summary:
    """Mean and std (ddof=1) of ``values``, one per seed."""
    values = list(values)
    std = statistics.stdev(values) if len(values) >= 2 else None
    return Summary(statistics.fmean(values), std, len(values))


def latest(rows: Iterable[Row], split: str) -> list[Row]:
    """Rows of ``split``; of rows for the same setting, target, language, metric and seed (a run
    evaluated again), the one appended last."""
    kept: dict[tuple, Row] = {}
    for row in rows:
        if row.split == split:
            kept[row.setting, row.target, row.language, row.metric, row.seed] = row
    return list(kept.values())


def language_values(rows: Iterable[Row], target: str, metric: str) -> dict[str, dict[str, float]]:
    """setting -> language -> ``metric`` of ``target``, mean over seeds."""
    per_seed: dict[str, dict[str, list[float]]] = {}
    for row in rows:
        if row.target == target and row.metric == metric:
            per_seed.setdefault(row.setting, {}).setdefault(row.language, []).append(row.value)
    return {
        setting: {lang: statistics.fmean(v) for lang, v in by_lang.items()}
        for setting, by_lang in per_seed.items()
    }


def language_scores(rows: Iterable[Row], target: str) -> dict[tuple[str, int], dict[str, float]]:
    """(setting, seed) -> language -> the task-level score of that language (mean of the
    official metrics; a language lacking one of them is left out)."""
    metrics = official_metrics(target)
    values: dict[tuple[str, int], dict[str, dict[str, float]]] = {}
    for row in rows:
        if row.target == target and row.metric in metrics:
            by_lang = values.setdefault((row.setting, row.seed), {})
            by_lang.setdefault(row.language, {})[row.metric] = row.value
    return {
        key: {
            lang: statistics.fmean(found[m] for m in metrics)
            for lang, found in by_lang.items()
            if len(found) == len(metrics)
        }
        for key, by_lang in values.items()
    }


def task_scores(rows: Iterable[Row], target: str) -> dict[tuple[str, int], float]:
    """(setting, seed) -> the XTREME score of ``target``: mean over languages."""
    return {
        key: statistics.fmean(by_lang.values())
        for key, by_lang in language_scores(rows, target).items()
        if by_lang
    }
