"""The X-STILTs report as numbers: tables, XTREME scores, deltas and the English-vs-multilingual
comparison, computed from result rows (pure functions; rendering is in render.py and plots.py).

Per setting and seed, each XTREME target present gets its task score (scores.py); each of
XTREME's four categories whose tasks are all present gets the mean of their scores
(categories.py); and the average is the mean of the task scores over the tasks that every setting
has (named in ``average_tasks``): the XTREME score when those are all nine tasks, otherwise a
partial average, named so (:func:`average_label`) with the missing tasks in the notes. Seeds
lacking one of the tasks are left out of the average. Settings are then summarised by the mean
and std (ddof=1) over seeds, and deltas are differences of seed means against the baseline
setting (no intermediate training), per task, category and language. Every score and delta
carries a 95% interval from the bootstrap over test examples and seeds (resampling.py).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np

from fairseq_stilts.errors import StiltsError
from fairseq_stilts.results.categories import CATEGORIES, XTREME_TASKS, category_scores
from fairseq_stilts.results.example_counts import Counts
from fairseq_stilts.results.resampling import (
    Estimate,
    SeedResampler,
    estimate,
    resample_task,
)
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
LanguageDraws = dict[tuple[str, str], np.ndarray]  # (setting, language) -> resampled score


@dataclass(frozen=True)
class Comparison:
    """Multilingual minus English-only intermediate training on one task, over the languages
    both have: per language and for the task score (seed means, with intervals)."""

    target: str
    languages: dict[str, Estimate]
    english: float
    multilingual: float
    difference: Estimate


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
    intervals: dict[tuple[str, str], Estimate]  # the summaries' means with their intervals
    deltas: dict[tuple[str, str], Estimate]
    language_deltas: dict[tuple[str, str], dict[str, Estimate]]  # (setting, task) vs baseline
    resamples: int
    fixed_languages: dict[str, list[str]]  # task -> languages without per-example counts
    english: str | None = None
    multilingual: str | None = None
    comparisons: list[Comparison] = field(default_factory=list)
    # multilingual minus English-only per category and for AVERAGE
    category_comparisons: dict[str, Estimate] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def build_report(
    rows: Iterable[Row],
    split: str = "test",
    baseline: str = "none",
    english: str | None = None,
    multilingual: str | None = None,
    resamples: int = 1_000,
    seed: int = 0,
    counts: Mapping[tuple[str, int, str, str], Counts] | None = None,
) -> Report:
    """The report of ``rows`` on ``split``; English vs multilingual only when both are named.
    ``counts`` are the runs' per-example counts, (setting, seed, target, language) -> counts;
    where a run has none its scores vary only with the seeds in the bootstrap."""
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
        intervals={},
        deltas={},
        language_deltas={},
        resamples=resamples,
        fixed_languages={},
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
    _add_intervals(report, rows, counts or {}, seed)
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


def no_deltas(report: Report) -> str:
    """Why the report has no deltas against its baseline."""
    if report.baseline not in report.settings:
        return (
            f"the results have no setting {report.baseline!r}; name the baseline with "
            f"--baseline, one of: {', '.join(report.settings)}"
        )
    if len(report.settings) == 1:
        return f"{report.baseline!r} is the only setting: nothing to compare it with"
    return f"no score of another setting shares a task with {report.baseline!r}"


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


def _resample_tasks(
    report: Report,
    rows: list[Row],
    counts: Mapping[tuple[str, int, str, str], Counts],
    seed: int,
) -> tuple[dict[tuple[str, str], np.ndarray], dict[str, LanguageDraws], dict[str, dict]]:
    """The resampled scores: per (setting, task, category or AVERAGE); per task, of each
    (setting, language); and the seed means per task of each (setting, language) score."""
    seeds: dict[str, set[int]] = {}
    for (setting, _), by_seed in report.seed_scores.items():
        seeds.setdefault(setting, set()).update(by_seed)
    resampler = SeedResampler(seeds, report.resamples, seed)
    draws: dict[tuple[str, str], np.ndarray] = {}
    per_run: dict[tuple[str, str, int], np.ndarray] = {}  # (setting, task, seed) -> task score
    languages: dict[str, LanguageDraws] = {}
    means: dict[str, dict[tuple[str, str], float]] = {}  # task -> (setting, lang) -> seed mean
    for task in report.tasks:
        scores = language_scores(rows, task)
        found = {(s, seed_, lang): c for (s, seed_, t, lang), c in counts.items() if t == task}
        prepared = {row.data_manifest_sha256 for row in rows if row.target == task}
        if len(prepared) > 1 and found:
            report.notes.append(
                f"{task}: the runs were evaluated on differently prepared data (manifest hashes "
                "differ): examples are not paired, intervals reflect the seeds only"
            )
            found = {}
        resampled = resample_task(
            task, scores, found, official_metrics(task), report.resamples, seed
        )
        if resampled.fixed_languages:
            report.fixed_languages[task] = resampled.fixed_languages
        per_seed: dict[tuple[str, str], dict[int, np.ndarray]] = {}
        for (setting, run_seed), by_lang in resampled.runs.items():
            if by_lang:
                per_run[setting, task, run_seed] = resampled.run_score((setting, run_seed))
            for lang, values in by_lang.items():
                per_seed.setdefault((setting, lang), {})[run_seed] = values
        languages[task] = {
            (setting, lang): resampler.mean(setting, by_seed, task, lang)
            for (setting, lang), by_seed in per_seed.items()
        }
        means[task] = {
            (setting, lang): statistics.fmean(scores[setting, s][lang] for s in by_seed)
            for (setting, lang), by_seed in per_seed.items()
        }
    groups = {task: (task,) for task in report.tasks}
    groups |= {c: CATEGORIES[c] for c in report.categories} | {AVERAGE: tuple(report.average_tasks)}
    for (setting, key), by_seed in report.seed_scores.items():
        per_seed = {  # computed per seed as the point value is: over the same seeds and tasks
            s: np.mean([per_run[setting, t, s] for t in groups[key]], axis=0) for s in by_seed
        }
        draws[setting, key] = resampler.mean(setting, per_seed, key)
    return draws, languages, means


def _add_intervals(
    report: Report,
    rows: list[Row],
    counts: Mapping[tuple[str, int, str, str], Counts],
    seed: int,
) -> None:
    """Intervals of every score and delta, per-language deltas and the English-vs-multilingual
    comparison, from the bootstrap over examples and seeds."""
    draws, by_language, means = _resample_tasks(report, rows, counts, seed)
    for key, summary in report.summaries.items():
        report.intervals[key] = estimate(summary.mean, draws[key])
    base = report.baseline
    for (setting, task), summary in report.summaries.items():
        if setting != base and (base, task) in report.summaries:
            difference = draws[setting, task] - draws[base, task]
            report.deltas[setting, task] = estimate(
                summary.mean - report.summaries[base, task].mean, difference
            )
    for task in report.tasks:
        for setting in report.settings:
            if setting != base:
                found = _paired(means[task], by_language[task], setting, base)
                if found:
                    report.language_deltas[setting, task] = found
    if report.english is not None and report.multilingual is not None:
        english, multilingual = report.english, report.multilingual
        for key in [*report.categories, AVERAGE]:
            if (english, key) in draws and (multilingual, key) in draws:
                report.category_comparisons[key] = estimate(
                    report.summaries[multilingual, key].mean - report.summaries[english, key].mean,
                    draws[multilingual, key] - draws[english, key],
                )
        for task in report.tasks:
            comparison = _compare(report, task, means[task], by_language[task])
            if comparison is not None:
                report.comparisons.append(comparison)


def _paired(
    means: Mapping[tuple[str, str], float], draws: LanguageDraws, treated: str, control: str
) -> dict[str, Estimate]:
    """Language -> ``treated`` minus ``control`` (seed means), over the languages both have."""
    languages = sorted(
        {lang for s, lang in means if s == treated} & {lang for s, lang in means if s == control}
    )
    return {
        lang: estimate(
            means[treated, lang] - means[control, lang],
            draws[treated, lang] - draws[control, lang],
        )
        for lang in languages
    }


def _compare(
    report: Report,
    task: str,
    means: Mapping[tuple[str, str], float],
    draws: LanguageDraws,
) -> Comparison | None:
    """Multilingual minus English-only on ``task``, over the languages both settings have."""
    english, multilingual = report.english, report.multilingual
    languages = _paired(means, draws, multilingual, english)
    unpaired = sorted({lang for s, lang in means if s in (english, multilingual)} - set(languages))
    if unpaired:
        report.notes.append(
            f"{task}: language(s) {', '.join(unpaired)} scored under only one of {english}, "
            f"{multilingual}; left out of the comparison"
        )
    if not languages:
        return None
    difference = np.mean(
        [draws[multilingual, lang] - draws[english, lang] for lang in languages],
        axis=0,
    )
    return Comparison(
        task,
        languages,
        statistics.fmean(means[english, lang] for lang in languages),
        statistics.fmean(means[multilingual, lang] for lang in languages),
        estimate(statistics.fmean(e.value for e in languages.values()), difference),
    )
