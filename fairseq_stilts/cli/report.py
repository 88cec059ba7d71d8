"""stilts-report: the X-STILTs report of a results store (one row per metric value).

The store is JSON lines (.jsonl) or SQLite (.sqlite, .sqlite3, .db), chosen by its suffix.
Writes report.md, the tables as CSV and the figures (PNG and SVG, in figures/) into --out,
prints the Markdown and the paths. Intervals come from a bootstrap over test examples and seeds;
the per-example counts are read from the grid folder the store is in (each run's
runs/<run>/results.examples.npz, which stilts-eval and stilts-retrieve write). Unreadable store
rows are reported with their line numbers (JSON lines) or rowids (SQLite) and skipped.
"""

from __future__ import annotations

import sys
from pathlib import Path

from fairseq_stilts.cli.main import argument_parser, cli


def grid_counts(store: Path, rows: list) -> tuple[dict, list[str]]:
    """(setting, seed, target, language) -> per-example counts of the runs of ``rows``, from
    the grid folder of ``store``; and a note for each counts file that could not be read."""
    from fairseq_stilts.errors import StiltsError
    from fairseq_stilts.grid.runs import RESULTS, run_dir
    from fairseq_stilts.results.example_counts import counts_path, read_counts

    counts, problems = {}, []
    values: dict[tuple[str, str], dict[str, float]] = {}
    for row in rows:
        values.setdefault((row.run, row.language), {})[row.metric] = row.value
    runs = {(row.run, row.setting, row.seed, row.target) for row in rows}
    for run, setting, seed, target in sorted(runs):
        path = counts_path(run_dir(store.parent, run) / RESULTS)
        if not path.is_file():
            continue
        try:
            found = read_counts(path)
        except StiltsError as err:
            problems.append(str(err))
            continue
        for lang, language_counts in found.items():
            differs = _differs(language_counts, values.get((run, lang), {}))
            if differs:
                problems.append(f"{path}: the counts of {lang!r} give {differs}: not used")
            else:
                counts[setting, seed, target, lang] = language_counts
    return counts, problems


def _differs(counts: dict, stored: dict[str, float]) -> str:
    """What the summed ``counts`` give that differs from the ``stored`` metric values (or what
    they lack); empty when they agree with every stored metric they can compute."""
    from fairseq_stilts.metrics.sums import SUM_METRICS, metric_from_sums

    sums = {name: float(v.sum()) for name, v in counts.items()}
    for metric, value in stored.items():
        if metric not in SUM_METRICS:
            continue
        if not set(SUM_METRICS[metric].sums) <= set(sums):
            return f"no {metric}"
        computed = metric_from_sums(metric, sums)
        if abs(computed - value) > 1e-3:
            return f"{metric} {computed}, not the stored {value}"
    return ""


@cli
def main(argv: list[str] | None = None) -> None:
    parser = argument_parser("stilts-report", __doc__)
    parser.add_argument(
        "results",
        type=Path,
        help="results store: JSON lines (.jsonl) or SQLite (.sqlite, .sqlite3, .db)",
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for the report files")
    parser.add_argument("--baseline", default="none", help="setting without intermediate training")
    parser.add_argument("--english", help="the English-only intermediate setting")
    parser.add_argument("--multilingual", help="the multilingual intermediate setting")
    parser.add_argument("--split", default="test", help="evaluation split to report")
    parser.add_argument("--resamples", type=int, default=1_000, help="bootstrap resamples")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap random seed")
    args = parser.parse_args(argv)
    if args.resamples < 1:
        parser.error("--resamples must be at least 1")
    if args.seed < 0:
        parser.error("--seed must be 0 or more")
    from fairseq_stilts.results.plots import draw_figures
    from fairseq_stilts.results.render import markdown, write_tables
    from fairseq_stilts.results.report import build_report
    from fairseq_stilts.results.scores import latest
    from fairseq_stilts.results.store import load_rows

    rows, problems = load_rows(args.results)
    for problem in problems:
        print(f"warning: {problem}", file=sys.stderr)
    counts, unreadable = grid_counts(args.results, latest(rows, args.split))
    for problem in unreadable:
        print(f"warning: {problem}", file=sys.stderr)
    report = build_report(
        rows,
        args.split,
        args.baseline,
        args.english,
        args.multilingual,
        args.resamples,
        args.seed,
        counts,
    )
    report.notes += problems + unreadable
    figures, figure_paths = draw_figures(report, args.out)
    paths = write_tables(report, args.out, figures) + figure_paths
    print(markdown(report, figures))
    for path in paths:
        print(f"wrote {path}")
