"""The report's figures, drawn with matplotlib's Agg backend (no display needed), each saved as
PNG and SVG. Colours are colour-blind safe: Okabe and Ito's palette for categories, ColorBrewer's
RdBu for signed deltas; a * marks a delta whose 95% interval excludes zero."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
# fairseq sets the root logger to DEBUG on import, which would print matplotlib's font search.
logging.getLogger("matplotlib").setLevel(logging.WARNING)

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from fairseq_stilts.results.languages import ORDER_NOTE, family_of, family_order  # noqa: E402
from fairseq_stilts.results.report import AVERAGE, Report, average_label, no_deltas  # noqa: E402
from fairseq_stilts.results.resampling import Estimate  # noqa: E402
from fairseq_stilts.writes import write_atomic  # noqa: E402

BLUE, ORANGE, GREY = "#0072B2", "#E69F00", "#999999"  # Okabe-Ito
FORMATS = ("png", "svg")


def _save(figure: Figure, path: Path) -> list[Path]:
    """Write ``figure`` as ``path`` with each of :data:`FORMATS` as suffix, atomically."""
    paths = []
    try:
        for suffix in FORMATS:
            buffer = io.BytesIO()
            figure.savefig(buffer, format=suffix, dpi=120, bbox_inches="tight")
            paths.append(path.with_suffix(f".{suffix}"))
            write_atomic(paths[-1], buffer.getvalue())
    finally:
        plt.close(figure)
    return paths


def _error_bars(estimates: list[Estimate]) -> np.ndarray:
    """matplotlib's (below, above) error-bar lengths of each estimate's interval; none below 0
    (a percentile interval need not contain its point value)."""
    return np.clip(
        [[e.value - e.low for e in estimates], [e.high - e.value for e in estimates]], 0, None
    )


def _label(report: Report, column: str) -> str:
    """A column's label, the average's on two lines."""
    return average_label(report).replace(" (", "\n(") if column == AVERAGE else column


def _heatmap(
    cells: dict[tuple[str, str], Estimate],
    rows: list[str],
    columns: list[str],
    column_labels: list[str],
    title: str,
    row_label: str,
) -> Figure:
    """Rows x columns of signed deltas, each cell's value written in it (* when its interval
    excludes zero, bold too)."""
    grid = np.array(
        [[cells[r, c].value if (r, c) in cells else np.nan for c in columns] for r in rows]
    )
    limit = float(np.nanmax(np.abs(grid))) if np.isfinite(grid).any() else 1.0
    limit = limit or 1.0
    figure, axes = plt.subplots(
        figsize=(0.95 * len(columns) + 3.0, 0.34 * len(rows) + 1.8), layout="constrained"
    )
    image = axes.imshow(grid, cmap="RdBu", vmin=-limit, vmax=limit, aspect="auto")
    axes.set_xticks(range(len(columns)), column_labels, rotation=30, ha="right")
    axes.set_yticks(range(len(rows)), rows)
    for i, j in zip(*np.where(~np.isnan(grid)), strict=True):
        e = cells[rows[i], columns[j]]
        axes.text(
            j,
            i,
            f"{e.value:+.1f}" + ("*" if e.excludes_zero else ""),
            ha="center",
            va="center",
            fontsize=8,
            fontweight="bold" if e.excludes_zero else "normal",
            color="white" if abs(e.value) > 0.6 * limit else "black",
        )
    axes.set_ylabel(row_label)
    axes.set_title(title, fontsize=10)
    figure.colorbar(image, ax=axes, label="score difference", shrink=0.8)
    return figure


def task_deltas(report: Report) -> dict[str, Figure] | str:
    """Intermediate setting x target task: delta against the baseline, with the average."""
    settings = [s for s in report.settings if s != report.baseline]
    if not report.deltas or not settings:
        return no_deltas(report)
    columns = report.tasks + ([AVERAGE] if report.average_tasks else [])
    labels = [_label(report, c) for c in columns]
    title = f"Delta against '{report.baseline}' ({report.split}); * 95% CI excludes zero"
    figure = _heatmap(report.deltas, settings, columns, labels, title, "intermediate setting")
    figure.axes[0].set_xlabel("target task")
    return {"task_deltas": figure}


def _language_figure(
    cells: dict[tuple[str, str], Estimate], tasks: list[str], title: str
) -> Figure:
    languages = family_order(lang for lang, _ in cells)
    figure = _heatmap(cells, languages, tasks, tasks, f"{title}\n{ORDER_NOTE}", "language")
    axes = figure.axes[0]
    for i in range(1, len(languages)):
        if family_of(languages[i]) != family_of(languages[i - 1]):
            axes.axhline(i - 0.5, color="black", linewidth=0.6)
    return figure


def language_deltas(report: Report) -> dict[str, Figure] | str:
    """Language x task: each setting minus the baseline, one figure per setting."""
    settings = sorted({s for s, _ in report.language_deltas}, key=report.settings.index)
    if not settings:
        return no_deltas(report)
    figures = {}
    for setting in settings:
        tasks = [t for t in report.tasks if (setting, t) in report.language_deltas]
        cells = {
            (lang, t): e for t in tasks for lang, e in report.language_deltas[setting, t].items()
        }
        title = f"{setting} minus {report.baseline} per language ({report.split})"
        stem = re.sub(r"[^\w.-]", "_", setting)
        figures[f"language_deltas/{stem}"] = _language_figure(cells, tasks, title)
    return figures


def multilingual_language_deltas(report: Report) -> dict[str, Figure] | str:
    """Language x task: multilingual minus English-only intermediate training."""
    if not report.comparisons:
        return "name --english and --multilingual settings to compare them"
    tasks = [c.target for c in report.comparisons]
    cells = {(lang, c.target): e for c in report.comparisons for lang, e in c.languages.items()}
    title = f"{report.multilingual} minus {report.english} per language ({report.split})"
    return {"multilingual_minus_english": _language_figure(cells, tasks, title)}


def category_scores(report: Report) -> dict[str, Figure] | str:
    """Per category (and the average): each setting's score (dot) with its 95% interval."""
    panels = report.categories + ([AVERAGE] if report.average_tasks else [])
    if not panels:
        return "no XTREME category has all its tasks in the results"
    settings = report.settings[::-1]  # the baseline on top
    figure, axes = plt.subplots(
        1,
        len(panels),
        sharey=True,
        squeeze=False,
        figsize=(2.9 * len(panels) + 1.5, 0.32 * len(settings) + 1.6),
        layout="constrained",
    )
    for axis, panel in zip(axes[0], panels, strict=True):
        found = [s for s in settings if (s, panel) in report.intervals]
        y = [settings.index(s) for s in found]
        e = [report.intervals[s, panel] for s in found]
        values = [x.value for x in e]
        colours = [GREY if s == report.baseline else BLUE for s in found]
        axis.hlines(y, [x.low for x in e], [x.high for x in e], colors=colours, linewidth=2)
        axis.scatter(values, y, color=colours, zorder=3, s=18)
        if (report.baseline, panel) in report.intervals:
            axis.axvline(report.intervals[report.baseline, panel].value, color=ORANGE, ls="--")
        axis.set_title(_label(report, panel), fontsize=9)
        axis.set_xlabel("score")
        axis.grid(axis="x", alpha=0.3)
    axes[0][0].set_yticks(range(len(settings)), settings)
    figure.suptitle(
        f"XTREME categories ({report.split}): mean over seeds, 95% CI; dashed: baseline",
        fontsize=10,
    )
    return {"category_scores": figure}


def english_vs_multilingual(report: Report) -> dict[str, Figure] | str:
    """Per task: English-only and multilingual task scores, and their difference with its 95%
    interval."""
    if not report.comparisons:
        return "name --english and --multilingual settings to compare them"
    tasks = [c.target for c in report.comparisons]
    x = np.arange(len(tasks))
    figure, (scores, diffs) = plt.subplots(
        1, 2, figsize=(1.4 * len(tasks) + 6, 4), layout="constrained"
    )
    for offset, setting, colour in (
        (-0.2, report.english, BLUE),
        (0.2, report.multilingual, ORANGE),
    ):
        e = [report.intervals[setting, t] for t in tasks]
        errors = _error_bars(e)
        values = [v.value for v in e]
        scores.bar(x + offset, values, 0.4, yerr=errors, capsize=3, color=colour, label=setting)
    scores.set_xticks(x, tasks, rotation=30, ha="right")
    scores.set_ylabel("task score (95% CI)")
    scores.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, fontsize=8)
    d = [c.difference for c in report.comparisons]
    errors = _error_bars(d)
    diffs.bar(x, [v.value for v in d], 0.5, yerr=errors, capsize=4, color=GREY)
    diffs.axhline(0.0, color="black", linewidth=0.8)
    diffs.set_xticks(x, tasks, rotation=30, ha="right")
    diffs.set_ylabel("multilingual - English (95% CI)")
    figure.suptitle(f"English-only vs multilingual intermediate training ({report.split})")
    return {"english_vs_multilingual": figure}


FIGURES: dict[str, Callable[[Report], dict[str, Figure] | str]] = {
    "category scores": category_scores,
    "intermediate setting x target delta": task_deltas,
    "per-language deltas against the baseline": language_deltas,
    "English-only vs multilingual": english_vs_multilingual,
    "per-language multilingual minus English": multilingual_language_deltas,
}


def draw_figures(report: Report, out: Path) -> tuple[dict[str, str], list[Path]]:
    """Draw every figure into ``out/figures``: title -> its files (or why it is not drawn), and
    the paths written."""
    listed, paths = {}, []
    for title, draw in FIGURES.items():
        drawn = draw(report)
        if isinstance(drawn, str):
            listed[title] = f"not drawn: {drawn}"
            continue
        written = []
        for stem, figure in drawn.items():
            written += _save(figure, out / "figures" / stem)
        listed[title] = ", ".join(str(p.relative_to(out)) for p in written)
        paths += written
    return listed, paths
