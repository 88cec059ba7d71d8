"""stilts-score: score an XTREME submission folder locally, as the XTREME leaderboard does.

PREDICTIONS and GOLD have XTREME's layout: a subfolder per task (udpos panx xnli pawsx xquad
mlqa tydiqa bucc2018 tatoeba) holding test-<lang>.tsv, or test-<lang>.json for QA (predictions:
question id -> answer text; gold: SQuAD-format JSON). Prints each task's official metric per
language, the task scores, the category scores and the XTREME score, which needs all nine tasks
(otherwise the missing ones are named). UD-POS and PAN-X F1 are the installed seqeval 1.x's.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from fairseq_stilts.cli.main import argument_parser, cli

if TYPE_CHECKING:
    from fairseq_stilts.results.submission import SubmissionScores


@cli
def main(argv: list[str] | None = None) -> None:
    parser = argument_parser("stilts-score", __doc__, plugin=False)
    parser.add_argument(
        "predictions",
        type=Path,
        metavar="PREDICTIONS",
        help="submission folder (one subfolder per task)",
    )
    parser.add_argument("gold", type=Path, metavar="GOLD", help="gold folder in the same layout")
    parser.add_argument(
        "--out", type=Path, metavar="FILE.json", help="also write the numbers to this JSON file"
    )
    parser.add_argument(
        "--partial",
        action="store_true",
        help="score each task over the languages it has files for (not the leaderboard's "
        "number; the languages left out are listed)",
    )
    args = parser.parse_args(argv)
    from fairseq_stilts.results.submission import score_submission
    from fairseq_stilts.writes import write_atomic

    result = score_submission(args.predictions, args.gold, args.partial)
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    notes = [seqeval_note()] if {"udpos", "panx"} & set(result.tasks) else []
    print("\n".join(table(result, notes)))
    if args.out is not None:
        write_atomic(args.out, json.dumps({**result.as_json(), "notes": notes}, indent=1) + "\n")
        print(f"wrote {args.out}")


def seqeval_note() -> str:
    """Which seqeval the UD-POS and PAN-X numbers follow."""
    from importlib.metadata import version

    return (
        f"udpos and panx F1 follow seqeval 1.x (installed: {version('seqeval')}), default mode; "
        "XTREME's 2020 numbers used seqeval 0.0.x, whose UD-POS F1 is about 0.2 lower "
        "(PAN-X's is the same under both)"
    )


def table(result: SubmissionScores, notes: list[str]) -> list[str]:
    """The printed report: task x language, task, category and XTREME scores, then the notes."""
    from fairseq_stilts.registry import get_spec
    from fairseq_stilts.results.categories import CATEGORIES, XTREME_TASKS

    lines = []
    for task, scores in result.tasks.items():
        spec = get_spec(task)
        columns = (*spec.metrics, "score") if len(spec.metrics) > 1 else spec.metrics
        lines.append(f"{task} ({spec.xtreme_name}/)")
        lines.append(_row("lang", columns))
        for lang, values in scores.languages.items():
            lines.append(_row(lang, [f"{values[c]:.2f}" for c in columns]))
        lines += [_row("mean", [*[""] * (len(columns) - 1), f"{scores.score:.2f}"]), ""]
    lines.append("task scores")
    for task in XTREME_TASKS:
        if task in result.tasks:
            lines.append(f"  {task:<8} {result.tasks[task].score:6.2f}")
        else:
            lines.append(f"  {task:<8} {'-':>6}  ({result.missing[task]})")
    lines.append("category scores")
    for category, tasks in CATEGORIES.items():
        score = result.categories.get(category)
        shown = f"{score:6.2f}" if score is not None else f"{'-':>6}  (needs {', '.join(tasks)})"
        lines.append(f"  {category:<24} {shown}")
    if result.overall is not None:
        partial = " (partial: not every language, not the leaderboard's number)"
        lines.append(f"XTREME score {result.overall:.2f}{partial if result.partial else ''}")
    else:
        lines.append(f"XTREME score: not computed; missing: {', '.join(result.missing)}")
    return lines + [f"note: {note}" for note in notes]


def _row(first: str, cells: Sequence[str]) -> str:
    return f"  {first:<5}" + "".join(f" {cell:>14}" for cell in cells)
