"""The report as Markdown and as CSV tables."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from fairseq_stilts.results.categories import CATEGORIES
from fairseq_stilts.results.report import AVERAGE, Report, average_label
from fairseq_stilts.results.scores import Summary, official_metrics, xtreme_targets
from fairseq_stilts.writes import write_atomic


def _languages(table: dict[str, dict[str, float]]) -> list[str]:
    found = {lang for by_lang in table.values() for lang in by_lang}
    return sorted(found, key=lambda lang: (lang != "en", lang))


def _cell(summary: Summary | None) -> str:
    if summary is None:
        return ""
    if summary.std is None:
        return f"{summary.mean:.2f} (n={summary.seeds})"
    return f"{summary.mean:.2f} ± {summary.std:.2f} (n={summary.seeds})"


def _table(header: list[str], body: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in body]


def _columns(report: Report) -> list[str]:
    return report.tasks + ([AVERAGE] if report.average_tasks else [])


def _header(report: Report, columns: list[str]) -> list[str]:
    return [average_label(report) if c == AVERAGE else c for c in columns]


def _deltas(report: Report, columns: list[str]) -> list[list[str]]:
    return [
        [s] + [f"{report.deltas[s, t]:+.2f}" if (s, t) in report.deltas else "" for t in columns]
        for s in report.settings
        if s != report.baseline
    ]


def markdown(report: Report) -> str:
    """The whole report as a Markdown document."""
    columns = _columns(report)
    lines = [f"# X-STILTs results (split: {report.split})", ""]
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
    if report.deltas:
        lines += ["", f"## Deltas against `{report.baseline}` (difference of seed means)", ""]
        lines += _table(["setting", *_header(report, columns)], _deltas(report, columns))
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
            lines += ["", f"Deltas against `{report.baseline}`:", ""]
            lines += _table(["setting", *report.categories], _deltas(report, report.categories))
    if report.comparisons:
        lines += [
            "",
            f"## English-only (`{report.english}`) vs multilingual (`{report.multilingual}`) intermediate training",
            "",
            "Difference multilingual − English of the task score (seed means), with a paired "
            "bootstrap 95% CI: languages resampled with replacement, each bringing both scores.",
            "",
        ]
        lines += _table(
            ["task", "languages", "English", "multilingual", "difference", "95% CI"],
            [
                [
                    c.target,
                    str(len(c.languages)),
                    f"{c.english:.2f}",
                    f"{c.multilingual:.2f}",
                    f"{c.difference:+.2f}",
                    f"[{c.low:+.2f}, {c.high:+.2f}]",
                ]
                for c in report.comparisons
            ],
        )
    lines += ["", "## Per-language results (mean over seeds)"]
    for (target, metric), table in report.language_tables.items():
        langs = _languages(table)
        lines += ["", f"### {target}: {metric}", ""]
        body = []
        for setting in report.settings:
            if setting in table:
                values = table[setting]
                cells = [f"{values[lang]:.2f}" if lang in values else "" for lang in langs]
                mean = sum(values.values()) / len(values)
                body.append([setting, *cells, f"{mean:.2f}"])
        lines += _table(["setting", *langs, "mean"], body)
    if report.notes:
        lines += ["", "## Notes", ""] + [f"- {note}" for note in report.notes]
    return "\n".join(lines) + "\n"


def _csv(header: list[str], body: list[list]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(["" if cell is None else cell for cell in row] for row in body)
    return buffer.getvalue()


def csv_tables(report: Report) -> dict[str, str]:
    """File name -> CSV text of each table of the report."""
    base = report.baseline
    files = {
        "task_scores.csv": _csv(
            ["setting", "task", "seeds", "mean", "std", f"delta_vs_{base}"],
            [
                [s, t, summary.seeds, summary.mean, summary.std, report.deltas.get((s, t))]
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
        langs = _languages(table)
        files[f"languages_{target}_{metric}.csv"] = _csv(
            ["setting", *langs],
            [[s] + [table[s].get(lang) for lang in langs] for s in report.settings if s in table],
        )
    if report.comparisons:
        files["english_vs_multilingual.csv"] = _csv(
            ["task", "languages", "english", "multilingual", "difference", "ci_low", "ci_high"],
            [
                [
                    c.target,
                    " ".join(c.languages),
                    c.english,
                    c.multilingual,
                    c.difference,
                    c.low,
                    c.high,
                ]
                for c in report.comparisons
            ],
        )
    return files


def write_tables(report: Report, out: Path) -> list[Path]:
    """Write report.md and every CSV table into ``out``, each atomically; their paths."""
    paths = [out / "report.md"]
    write_atomic(paths[0], markdown(report))
    for name, text in csv_tables(report).items():
        paths.append(out / name)
        write_atomic(paths[-1], text)
    return paths
