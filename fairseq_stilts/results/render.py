"""The report as Markdown and as CSV tables."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from pathlib import Path

from fairseq_stilts.results.categories import CATEGORIES
from fairseq_stilts.results.languages import ORDER_NOTE, family_order
from fairseq_stilts.results.report import AVERAGE, Report, average_label, no_deltas
from fairseq_stilts.results.resampling import Estimate
from fairseq_stilts.results.scores import Summary, official_metrics, xtreme_targets
from fairseq_stilts.results.summary import opening_paragraph
from fairseq_stilts.writes import write_atomic


def _cell(summary: Summary | None) -> str:
    if summary is None:
        return ""
    if summary.std is None:
        return f"{summary.mean:.2f} (n={summary.seeds})"
    return f"{summary.mean:.2f} ± {summary.std:.2f} (n={summary.seeds})"


def _interval(e: Estimate | None) -> str:
    """``+1.23 [+0.40, +2.10]``, starred when the interval excludes zero."""
    if e is None:
        return ""
    return f"{e.value:+.2f} [{e.low:+.2f}, {e.high:+.2f}]" + ("*" if e.excludes_zero else "")


def _table(header: list[str], body: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in body]


def _columns(report: Report) -> list[str]:
    return report.tasks + ([AVERAGE] if report.average_tasks else [])


def _header(report: Report, columns: list[str]) -> list[str]:
    return [average_label(report) if c == AVERAGE else c for c in columns]


def _deltas(report: Report, columns: list[str]) -> list[list[str]]:
    return [
        [s] + [_interval(report.deltas.get((s, t))) for t in columns]
        for s in report.settings
        if s != report.baseline
    ]


def method(report: Report) -> str:
    """How the intervals were computed, as the report states it."""
    text = (
        f"Intervals are 95% percentile intervals of {report.resamples} bootstrap resamples "
        "(seeded, reproducible). Each resample draws every language's test examples with "
        "replacement, the same draw for every setting and seed, so differences are paired by "
        "example, and recomputes each metric from the drawn examples' counts (accuracy; seqeval "
        "F1 from chunk counts per sentence; EM and F1 per question; BUCC F1 from pairs per "
        "source sentence); then it draws each setting's seeds with replacement and averages "
        "them. A * marks an interval that excludes zero. With two or three seeds the seeds' "
        "share of an interval is rough; with one seed and no per-example counts nothing varies: "
        "the interval has no width and is not starred."
    )
    if report.fixed_languages:
        missing = "; ".join(f"{t}: {' '.join(ls)}" for t, ls in report.fixed_languages.items())
        text += (
            " No per-example counts were found for some runs' languages (" + missing + "): "
            "there the interval reflects the spread over seeds only."
        )
    return text


def _comparison_tables(report: Report) -> list[str]:
    lines = [
        "",
        f"## English-only (`{report.english}`) vs multilingual (`{report.multilingual}`) "
        "intermediate training",
        "",
        "Multilingual minus English of the task score over the languages both have (seed "
        "means), with its 95% interval.",
        "",
    ]
    lines += _table(
        ["task", "languages", "English", "multilingual", "difference [95% CI]"],
        [
            [
                c.target,
                str(len(c.languages)),
                f"{c.english:.2f}",
                f"{c.multilingual:.2f}",
                _interval(c.difference),
            ]
            for c in report.comparisons
        ],
    )
    if report.category_comparisons:
        lines += [
            "",
            "By category, multilingual minus English of the category scores (each over its "
            "setting's languages) [95% CI]:",
            "",
        ]
        keys = list(report.category_comparisons)
        lines += _table(
            [average_label(report) if k == AVERAGE else k for k in keys],
            [[_interval(report.category_comparisons[k]) for k in keys]],
        )
    languages = family_order(lang for c in report.comparisons for lang in c.languages)
    lines += ["", f"Per language, multilingual minus English ({ORDER_NOTE}):", ""]
    lines += _table(
        ["language", *(c.target for c in report.comparisons)],
        [
            [lang] + [_interval(c.languages.get(lang)) for c in report.comparisons]
            for lang in languages
        ],
    )
    return lines


def _language_delta_counts(report: Report) -> list[str]:
    """Per setting and task: how many languages gain or lose, with intervals excluding zero."""
    lines = [
        "",
        f"## Per-language deltas against `{report.baseline}`",
        "",
        "Languages whose delta has a 95% interval above zero (up) or below zero (down), of the "
        "languages compared; every language's delta and interval is in language_deltas.csv.",
        "",
    ]
    body = []
    for setting in report.settings:
        if setting == report.baseline:
            continue
        cells = []
        for task in report.tasks:
            found = report.language_deltas.get((setting, task), {})
            up = sum(e.excludes_zero and e.value > 0 for e in found.values())
            down = sum(e.excludes_zero and e.value < 0 for e in found.values())
            cells.append(f"{up} up, {down} down of {len(found)}" if found else "")
        body.append([setting, *cells])
    return lines + _table(["setting", *report.tasks], body)


def markdown(report: Report, figures: Mapping[str, str] | None = None) -> str:
    """The whole report as a Markdown document; ``figures`` maps each figure's title to its
    file name, or to why it was not drawn."""
    columns = _columns(report)
    lines = [f"# X-STILTs results (split: {report.split})", ""]
    paragraph = opening_paragraph(report)
    lines += [paragraph, ""] if paragraph else []
    lines += _table(
        ["setting", "intermediate languages"],
        [[s, " ".join(report.intermediate_languages[s]) or "-"] for s in report.settings],
    )
    lines += ["", "## XTREME task scores", ""]
    lines.append(
        "Task score: mean over languages of the official metric ("
        + "; ".join(f"{t}: {' + '.join(official_metrics(t))}" for t in report.tasks)
        + "); span QA: (mean EM + mean F1) / 2. Cells: mean ± std over seeds (ddof=1), n seeds."
    )
    if report.average_tasks:
        lines.append(
            f"The {average_label(report)} is the mean of the task scores over "
            f"{len(report.average_tasks)} of the {len(xtreme_targets())} XTREME tasks: "
            f"{', '.join(report.average_tasks)}."
        )
    lines.append("")
    lines += _table(
        ["setting", *_header(report, columns)],
        [[s] + [_cell(report.summaries.get((s, t))) for t in columns] for s in report.settings],
    )
    lines += ["", f"## Deltas against `{report.baseline}`", ""]
    if report.deltas:
        lines.append(
            "Difference of seed means, intermediate setting x target task, with the average "
            "over tasks per setting; [95% CI], * where it excludes zero."
        )
        lines.append("")
        lines += _table(["setting", *_header(report, columns)], _deltas(report, columns))
    else:
        lines.append(f"No deltas: {no_deltas(report)}.")
    if report.categories:
        lines += ["", "## XTREME categories", ""]
        lines.append(
            "A category's score is the mean of its tasks' scores, shown where all of them are in "
            "the results: "
            + "; ".join(f"{c}: {', '.join(CATEGORIES[c])}" for c in report.categories)
            + ". Cells: mean ± std over seeds, n seeds."
        )
        lines.append("")
        lines += _table(
            ["setting", *report.categories],
            [
                [s] + [_cell(report.summaries.get((s, c))) for c in report.categories]
                for s in report.settings
            ],
        )
        if any((s, c) in report.deltas for s in report.settings for c in report.categories):
            lines += ["", f"Deltas against `{report.baseline}` [95% CI]:", ""]
            lines += _table(["setting", *report.categories], _deltas(report, report.categories))
    if report.comparisons:
        lines += _comparison_tables(report)
    if report.language_deltas:
        lines += _language_delta_counts(report)
    lines += ["", "## Per-language results (mean over seeds)"]
    for (target, metric), table in report.language_tables.items():
        langs = family_order(lang for by_lang in table.values() for lang in by_lang)
        lines += ["", f"### {target}: {metric}", ""]
        body = []
        for setting in report.settings:
            if setting in table:
                values = table[setting]
                cells = [f"{values[lang]:.2f}" if lang in values else "" for lang in langs]
                mean = sum(values.values()) / len(values)
                body.append([setting, *cells, f"{mean:.2f}"])
        lines += _table(["setting", *langs, "mean"], body)
    if figures:
        lines += ["", "## Figures", ""] + [
            f"- {title}: {where}" for title, where in figures.items()
        ]
    lines += ["", "## How the intervals are computed", "", method(report)]
    if report.notes:
        lines += ["", "## Notes", ""] + [f"- {note}" for note in report.notes]
    return "\n".join(lines) + "\n"


def _csv(header: list[str], body: list[list]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(["" if cell is None else cell for cell in row] for row in body)
    return buffer.getvalue()


def _bounds(e: Estimate | None) -> list[float | None]:
    return [None, None, None] if e is None else [e.value, e.low, e.high]


def csv_tables(report: Report) -> dict[str, str]:
    """File name -> CSV text of each table of the report."""
    base = report.baseline
    files = {
        "task_scores.csv": _csv(
            ["setting", "task", "seeds", "mean", "std", "ci_low", "ci_high"]
            + [f"delta_vs_{base}", "delta_ci_low", "delta_ci_high"],
            [
                [s, t, summary.seeds, summary.mean, summary.std]
                + _bounds(report.intervals.get((s, t)))[1:]
                + _bounds(report.deltas.get((s, t)))
                for s in report.settings
                for t in _columns(report) + report.categories
                if (summary := report.summaries.get((s, t))) is not None
            ],
        ),
        "seed_scores.csv": _csv(
            ["setting", "task", "seed", "score"],
            [
                [s, t, seed, score]
                for (s, t), by_seed in report.seed_scores.items()
                for seed, score in sorted(by_seed.items())
            ],
        ),
    }
    for (target, metric), table in report.language_tables.items():
        langs = family_order(lang for by_lang in table.values() for lang in by_lang)
        files[f"languages_{target}_{metric}.csv"] = _csv(
            ["setting", *langs],
            [[s] + [table[s].get(lang) for lang in langs] for s in report.settings if s in table],
        )
    if report.language_deltas:
        files["language_deltas.csv"] = _csv(
            ["setting", "task", "language", f"delta_vs_{base}", "ci_low", "ci_high"],
            [
                [s, t, lang, *_bounds(e)]
                for (s, t), found in report.language_deltas.items()
                for lang in family_order(found)
                for e in [found[lang]]
            ],
        )
    if report.comparisons:
        files["english_vs_multilingual.csv"] = _csv(
            ["task", "language", "english", "multilingual", "difference", "ci_low", "ci_high"],
            [
                [c.target, "all", c.english, c.multilingual, *_bounds(c.difference)]
                for c in report.comparisons
            ]
            + [
                [c.target, lang, None, None, *_bounds(c.languages[lang])]
                for c in report.comparisons
                for lang in family_order(c.languages)
            ],
        )
    return files


def write_tables(report: Report, out: Path, figures: Mapping[str, str] | None = None) -> list[Path]:
    """Write report.md and every CSV table into ``out``, each atomically; their paths."""
    paths = [out / "report.md"]
    write_atomic(paths[0], markdown(report, figures))
    for name, text in csv_tables(report).items():
        paths.append(out / name)
        write_atomic(paths[-1], text)
    return paths
