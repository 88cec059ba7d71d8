"""The X-STILTs report as numbers: tables, XTREME scores, deltas and the English-vs-multilingual
comparison, computed from result rows (pure functions; rendering is in render.py and plots.py).

Per setting and seed, each XTREME target present gets its task score (scores.py); each of
XTREME's four categories whose tasks are all present gets the mean of their scores
(categories.py); and the average is the mean of the task scores over the tasks that every setting
has (named in ``average_tasks``): the XTREME score when those are all nine tasks, otherwise a
partial average, named so (:func:`average_label`) with the missing tasks in the notes. Seeds
lacking one of the tasks are left out of the average. Settings are then summarised by the mean
and std (ddof=1) over seeds, and deltas are differences of seed means against the baseline
setting (no intermediate training).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field

from fairseq_stilts.errors import StiltsError
from fairseq_stilts.results.bootstrap import paired_bootstrap_ci
from fairseq_stilts.results.categories import CATEGORIES, XTREME_TASKS, category_scores
from fairseq_stilts.results.row import Row
from fairseq_stilts.results.scores import (
    Summary,
    language_scores,
    language_values,
    latest,
    official_metrics,
    summarize,
    task_scores,
    xtreme_targets,
)

AVERAGE = "average"


@dataclass(frozen=True)
class Comparison:
    """Multilingual minus English-only intermediate training on one task, paired by language."""

    target: str
    languages: tuple[str, ...]
    english: float
    multilingual: float
    difference: float
    low: float
    high: float


@dataclass
class Report:
    """Everything the report shows; ``task`` keys are target names, category names or AVERAGE."""

    split: str
    baseline: str
    settings: list[str]
    targets: list[str]
    tasks: list[str]  # XTREME targets with a task score
    average_tasks: list[str]
    categories: list[str]  # XTREME categories with a score for some setting
    intermediate_languages: dict[str, list[str]]
    language_tables: dict[tuple[str, str], dict[str, dict[str, float]]]  # (target, metric)
    seed_scores: dict[tuple[str, str], dict[int, float]]  # (setting, task) -> seed -> score
    summaries: dict[tuple[str, str], Summary]
    deltas: dict[tuple[str, str], float]
    english: str | None = None
    multilingual: str | None = None
    comparisons: list[Comparison] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def build_report(
    rows: Iterable[Row],
    split: str = "test",
    baseline: str = "none",
    english: str | None = None,
    multilingual: str | None = None,
    resamples: int = 10_000,
    seed: int = 0,
) -> Report:
    """The report of ``rows`` on ``split``; English vs multilingual only when both are named."""
    rows = latest(rows, split)
    if not rows:
        raise StiltsError(f"no results rows for split {split!r}")
    settings = _ordered({row.setting for row in rows}, first=baseline)
    for name, option in ((english, "--english"), (multilingual, "--multilingual")):
        if name is not None and name not in settings:
            raise StiltsError(
                f"{option} {name!r} is not a setting of the results; found: {', '.join(settings)}"
            )
    if (english is None) != (multilingual is None):
        raise StiltsError("name both --english and --multilingual, or neither")
    targets = sorted({row.target for row in rows}, key=_target_order)
    tasks = [t for t in targets if t in xtreme_targets()]
    report = Report(
        split=split,
        baseline=baseline,
        settings=settings,
        targets=targets,
        tasks=tasks,
        average_tasks=[],
        categories=[],
        intermediate_languages=_intermediate_languages(rows),
        language_tables=_language_tables(rows, targets),
        seed_scores={},
        summaries={},
        deltas={},
        english=english,
        multilingual=multilingual,
    )
    report.notes += [
        f"{t}: not an XTREME target, shown per language only" for t in targets if t not in tasks
    ]
    if baseline not in settings:
        report.notes.append(f"baseline setting {baseline!r} not in the results: no deltas")
    for task in tasks:
        for (setting, run_seed), score in task_scores(rows, task).items():
            report.seed_scores.setdefault((setting, task), {})[run_seed] = score
    _add_average(report)
    _add_categories(report)
    for key, by_seed in report.seed_scores.items():
        report.summaries[key] = summarize(by_seed[s] for s in sorted(by_seed))
    for (setting, task), summary in report.summaries.items():
        base = report.summaries.get((baseline, task))
        if setting != baseline and base is not None:
            report.deltas[setting, task] = summary.mean - base.mean
    if english is not None and multilingual is not None:
        for task in tasks:
            comparison = _compare(rows, task, english, multilingual, resamples, seed, report.notes)
            if comparison is not None:
                report.comparisons.append(comparison)
    return report


def _ordered(names: set[str], first: str) -> list[str]:
    return sorted(names, key=lambda name: (name != first, name))


def _target_order(target: str) -> tuple[int, str]:
    order = list(xtreme_targets())
    return (order.index(target) if target in order else len(order), target)


def _intermediate_languages(rows: list[Row]) -> dict[str, list[str]]:
    found: dict[str, set[str]] = {}
    for row in rows:
        found.setdefault(row.setting, set()).update(row.intermediate_languages)
    return {setting: sorted(langs) for setting, langs in found.items()}


def _language_tables(
    rows: list[Row], targets: list[str]
) -> dict[tuple[str, str], dict[str, dict[str, float]]]:
    tables = {}
    for target in targets:
        found = {row.metric for row in rows if row.target == target}
        official = [m for m in official_metrics(target) if m in found]
        for metric in official + sorted(found - set(official)):
            tables[target, metric] = language_values(rows, target, metric)
    return tables


def average_label(report: Report) -> str:
    """What the average is called: the XTREME score only over all nine tasks."""
    if len(report.average_tasks) == len(XTREME_TASKS):
        return "XTREME score"
    return f"partial average ({len(report.average_tasks)} of {len(XTREME_TASKS)} tasks)"


def _add_categories(report: Report) -> None:
    """Per setting and seed, the score of each category whose tasks all have one."""
    for setting in report.settings:
        seeds = set().union(*(report.seed_scores.get((setting, t), {}) for t in report.tasks))
        for seed in sorted(seeds):
            found = {
                task: report.seed_scores[setting, task][seed]
                for task in report.tasks
                if seed in report.seed_scores.get((setting, task), {})
            }
            for category, score in category_scores(found).items():
                report.seed_scores.setdefault((setting, category), {})[seed] = score
    report.categories = [
        c for c in CATEGORIES if any((s, c) in report.seed_scores for s in report.settings)
    ]


def _add_average(report: Report) -> None:
    """The XTREME average per setting and seed, over the tasks that every setting has."""
    report.average_tasks = [
        task
        for task in report.tasks
        if all((setting, task) in report.seed_scores for setting in report.settings)
    ]
    if not report.average_tasks:
        report.notes.append("no task is present for every setting: no XTREME average")
        return
    missing = [task for task in XTREME_TASKS if task not in report.average_tasks]
    if missing:
        report.notes.append(
            f"no XTREME score: it needs all {len(XTREME_TASKS)} tasks, and {', '.join(missing)} "
            f"are missing (for some setting); the {average_label(report)} is the mean over "
            f"{', '.join(report.average_tasks)}"
        )
    for setting in report.settings:
        per_task = [report.seed_scores[setting, task] for task in report.average_tasks]
        seeds = sorted(set.intersection(*(set(by_seed) for by_seed in per_task)))
        left_out = sorted(set().union(*per_task) - set(seeds))
        if left_out:
            report.notes.append(
                f"{setting}: seed(s) {', '.join(map(str, left_out))} lack a task and are left out of the average"
            )
        if seeds:
            report.seed_scores[setting, AVERAGE] = {
                s: statistics.fmean(by_seed[s] for by_seed in per_task) for s in seeds
            }


def _compare(
    rows: list[Row],
    task: str,
    english: str,
    multilingual: str,
    resamples: int,
    seed: int,
    notes: list[str],
) -> Comparison | None:
    """Seed-mean language scores of both settings, paired over their common languages."""
    means: dict[str, dict[str, float]] = {}
    scores = language_scores(rows, task)
    for setting in (english, multilingual):
        per_lang: dict[str, list[float]] = {}
        for (name, _), by_lang in scores.items():
            if name == setting:
                for lang, score in by_lang.items():
                    per_lang.setdefault(lang, []).append(score)
        means[setting] = {lang: statistics.fmean(v) for lang, v in per_lang.items()}
    common = sorted(set(means[english]) & set(means[multilingual]))
    unpaired = sorted(set(means[english]) ^ set(means[multilingual]))
    if unpaired:
        notes.append(
            f"{task}: language(s) {', '.join(unpaired)} scored under only one of {english}, {multilingual}; left out of the comparison"
        )
    if not common:
        return None
    eng = [means[english][lang] for lang in common]
    multi = [means[multilingual][lang] for lang in common]
    difference, low, high = paired_bootstrap_ci(multi, eng, resamples, seed)
    return Comparison(
        task, tuple(common), statistics.fmean(eng), statistics.fmean(multi), difference, low, high
    )
