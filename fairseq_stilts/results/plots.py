"""PNG plots of the report, drawn with matplotlib's Agg backend (no display needed)."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
# fairseq sets the root logger to DEBUG on import, which would print matplotlib's font search.
logging.getLogger("matplotlib").setLevel(logging.WARNING)

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from fairseq_stilts.results.report import AVERAGE, Report, average_label  # noqa: E402


def _save(figure: Figure, path: Path) -> None:
    """Save ``figure`` as PNG to a temporary file beside ``path``, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        figure.savefig(tmp, format="png", dpi=120, bbox_inches="tight")
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    finally:
        plt.close(figure)


def delta_heatmap(report: Report, path: Path) -> bool:
    """Heatmap of delta against the baseline, intermediate setting x target task; False (and no
    file) when there are no deltas."""
    settings = [s for s in report.settings if s != report.baseline]
    columns = report.tasks + ([AVERAGE] if report.average_tasks else [])
    if not report.deltas or not settings:
        return False
    grid = np.array([[report.deltas.get((s, t), np.nan) for t in columns] for s in settings])
    limit = float(np.nanmax(np.abs(grid))) or 1.0
    figure, axes = plt.subplots(figsize=(1.1 * len(columns) + 2.5, 0.6 * len(settings) + 1.5))
    image = axes.imshow(grid, cmap="RdBu", vmin=-limit, vmax=limit, aspect="auto")
    labels = [average_label(report) if c == AVERAGE else c for c in columns]
    axes.set_xticks(range(len(columns)), labels, rotation=30, ha="right")
    axes.set_yticks(range(len(settings)), settings)
    for i, j in zip(*np.where(~np.isnan(grid)), strict=True):
        dark = abs(grid[i, j]) > 0.6 * limit  # white on the deep ends of the colour map
        axes.text(
            j,
            i,
            f"{grid[i, j]:+.1f}",
            ha="center",
            va="center",
            fontsize=9,
            color="white" if dark else "black",
        )
    axes.set_xlabel("target task")
    axes.set_ylabel("intermediate setting")
    axes.set_title(f"Delta against '{report.baseline}' ({report.split})")
    figure.colorbar(image, ax=axes, label="score difference")
    _save(figure, path)
    return True


def english_vs_multilingual(report: Report, path: Path) -> bool:
    """Per task: bars of the English-only and multilingual task scores, and the difference with
    its paired bootstrap 95% CI; False (and no file) without a comparison."""
    if not report.comparisons:
        return False
    tasks = [c.target for c in report.comparisons]
    x = np.arange(len(tasks))
    figure, (scores, diffs) = plt.subplots(1, 2, figsize=(1.4 * len(tasks) + 6, 4))
    for offset, setting, label in (
        (-0.2, report.english, "English-only"),
        (0.2, report.multilingual, "multilingual"),
    ):
        means = [
            c.english if setting == report.english else c.multilingual for c in report.comparisons
        ]
        stds = [report.summaries[setting, t].std or 0.0 for t in tasks]
        scores.bar(x + offset, means, 0.4, yerr=stds, capsize=3, label=f"{label} ({setting})")
    scores.set_xticks(x, tasks)
    scores.set_ylabel("task score (error bars: std over seeds)")
    scores.legend(loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=2)
    lows = [c.difference - c.low for c in report.comparisons]
    highs = [c.high - c.difference for c in report.comparisons]
    diffs.bar(x, [c.difference for c in report.comparisons], 0.5, yerr=[lows, highs], capsize=4)
    diffs.axhline(0.0, color="black", linewidth=0.8)
    diffs.set_xticks(x, tasks)
    diffs.set_ylabel("multilingual - English (paired bootstrap 95% CI)")
    figure.suptitle(f"English-only vs multilingual intermediate training ({report.split})")
    _save(figure, path)
    return True
