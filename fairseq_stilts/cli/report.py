"""stilts-report: the X-STILTs report of a results store (one row per metric value).

The store is JSON lines (.jsonl) or SQLite (.sqlite, .sqlite3, .db), chosen by its suffix.
Writes report.md, the tables as CSV and two PNG plots (delta against the baseline by
intermediate setting x target task; English-only vs multilingual with paired bootstrap
intervals) into --out, prints the Markdown and the paths. Unreadable store rows are reported
with their line numbers (JSON lines) or rowids (SQLite) and skipped.
"""

from __future__ import annotations

import sys
from pathlib import Path

from fairseq_stilts.cli.main import argument_parser, cli


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
    parser.add_argument("--resamples", type=int, default=10_000, help="bootstrap resamples")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap random seed")
    args = parser.parse_args(argv)
    from fairseq_stilts.results.plots import delta_heatmap, english_vs_multilingual
    from fairseq_stilts.results.render import markdown, write_tables
    from fairseq_stilts.results.report import build_report
    from fairseq_stilts.results.store import load_rows

    rows, problems = load_rows(args.results)
    for problem in problems:
        print(f"warning: {problem}", file=sys.stderr)
    report = build_report(
        rows, args.split, args.baseline, args.english, args.multilingual, args.resamples, args.seed
    )
    report.notes += problems
    paths = write_tables(report, args.out)
    for name, plot in (
        ("delta_heatmap.png", delta_heatmap),
        ("english_vs_multilingual.png", english_vs_multilingual),
    ):
        if plot(report, args.out / name):
            paths.append(args.out / name)
    print(markdown(report))
    for path in paths:
        print(f"wrote {path}")
