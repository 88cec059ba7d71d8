"""stilts-submission: XTREME's submission folder, from the data stilts-prepare xtreme made and one
checkpoint per target.

Each trained target's checkpoint predicts every test language with ``fairseq-validate`` (as
stilts-eval does); BUCC and Tatoeba are embedded from the download's files with the checkpoint
given for them (usually the phase-2 encoder): BUCC's test pairs mined at the threshold tuned on
dev, Tatoeba's retrieved line of the other language per English line. The folder holds ``<task>/test-<lang>.tsv``
(``.json`` for question answering) under XTREME's task names and is checked before it is written:
every official language of every task, and as many predictions as the test set has examples
(BUCC: any number of pairs). It is written atomically, with a zip of it beside it. With ``--grid``
and ``--setting`` the checkpoints come from a stilts-grid folder: per target, of the setting's
seeds, the run with the best English dev score.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from fairseq_stilts.cli.main import argument_parser, cli
from fairseq_stilts.errors import StiltsError


def _task_path(value: str) -> tuple[str, Path]:
    task, sep, path = value.partition("=")
    if not sep or not task or not path:
        raise argparse.ArgumentTypeError(f"expected TASK=CHECKPOINT, got {value!r}")
    return task, Path(path)


def predict_targets(
    data: Path,
    checkpoints: dict[str, Path],
    model_dir: Path,
    batch_size: int = 32,
    cpu: bool = False,
    extra: list[str] | None = None,
    quiet: bool = False,
    allow_missing: bool = False,
) -> dict[str, dict[str, str]]:
    """XTREME task name -> file name -> text, for each target given a checkpoint; first an
    error for what the submission would miss, unless ``allow_missing``."""
    from fairseq_stilts.cli.evaluate import evaluate
    from fairseq_stilts.cli.retrieve import retrieve
    from fairseq_stilts.registry import get_family, get_spec
    from fairseq_stilts.results.categories import XTREME_TASKS
    from fairseq_stilts.xtreme.prepare import read_summary
    from fairseq_stilts.xtreme.submission import check_planned

    _, summaries = read_summary(data)
    found = {s.task: s for s in summaries if not s.absent}
    unknown = [task for task in checkpoints if task not in XTREME_TASKS]
    if unknown:
        raise StiltsError(f"--checkpoint: {unknown} are not XTREME targets ({XTREME_TASKS})")
    absent = [task for task in checkpoints if task not in found]
    if absent:
        raise StiltsError(f"--checkpoint: {data} has no data for {absent}")
    unreadable = [str(path) for path in checkpoints.values() if not Path(path).is_file()]
    if unreadable:
        raise StiltsError(f"--checkpoint: no such file {', '.join(unreadable)}")
    check_planned(data, list(checkpoints), allow_missing)
    files: dict[str, dict[str, str]] = {}
    for task, checkpoint in checkpoints.items():
        spec = get_spec(task)
        if not quiet:
            print(f"{task}: predicting with {checkpoint}", flush=True)
        if get_family(spec.family).scored_by:
            languages = list(found[task].test)
            folder = Path(found[task].folder)
            result = retrieve(
                task, folder, checkpoint, model_dir, languages, batch_size=batch_size, cpu=cpu
            )
            files[spec.xtreme_name] = {
                f"test-{lang}.tsv": text for lang, text in result.predictions.items()
            }
            continue
        with tempfile.TemporaryDirectory(prefix="stilts-submission.") as tmp:
            predictions = Path(tmp) / "predictions"
            evaluate(
                task,
                Path(found[task].folder),
                checkpoint,
                batch_size=batch_size,
                cpu=cpu,
                predictions=predictions,
                extra=extra,
                log=Path(tmp) / "validate.log",
                progress=not quiet,
            )
            files[spec.xtreme_name] = {
                path.name: path.read_text(encoding="utf-8") for path in predictions.iterdir()
            }
    return files


def grid_checkpoints(
    data: Path,
    grid: Path,
    setting: str,
    seed: int | None = None,
    batch_size: int = 32,
    cpu: bool = False,
    extra: list[str] | None = None,
) -> dict[str, Path]:
    """Target -> checkpoint from the finished runs of ``setting`` in ``grid``: of several seeds
    the one with the best English dev score on ``data`` (the task's official metrics), for a
    retrieval target the first seed's (Tatoeba has no dev set)."""
    from fairseq_stilts.cli.evaluate import evaluate
    from fairseq_stilts.grid.candidates import best_candidate, grid_candidates
    from fairseq_stilts.registry import get_family, get_spec
    from fairseq_stilts.results.scores import official_metrics
    from fairseq_stilts.xtreme.prepare import read_summary

    _, summaries = read_summary(data)
    folders = {s.task: Path(s.folder) for s in summaries if not s.absent}
    chosen = {}
    for task, candidates in grid_candidates(grid, setting, seed).items():
        if task not in folders:
            raise StiltsError(f"--grid: the grid has {task} runs but {data} has no data for it")
        if get_family(get_spec(task).family).scored_by:
            candidate, scores = candidates[0], {}
        else:

            def dev(checkpoint: Path, task: str = task) -> float:
                with tempfile.TemporaryDirectory(prefix="stilts-submission.") as tmp:
                    rows = evaluate(
                        task,
                        folders[task],
                        checkpoint,
                        split="valid",
                        languages=["en"],
                        batch_size=batch_size,
                        cpu=cpu,
                        extra=extra,
                        log=Path(tmp) / "validate.log",
                    )
                return statistics.fmean(
                    row["value"] for row in rows if row["metric"] in official_metrics(task)
                )

            candidate, scores = best_candidate(candidates, dev)
        chosen[task] = candidate.checkpoint
        why = ", ".join(f"seed {s}: {v:.2f}" for s, v in scores.items())
        if len(candidates) > 1 and not scores:
            why = "the first seed: no dev set chooses among retrieval runs"
        print(f"{task}: seed {candidate.seed} of {setting}" + (f" ({why})" if why else ""))
    return chosen


@cli
def main(argv: list[str] | None = None) -> None:
    parser = argument_parser("stilts-submission", __doc__)
    parser.epilog = "Other options (--fp16, --max-tokens, ...) go to fairseq-validate as they are."
    parser.add_argument("data", type=Path, help="folder made by stilts-prepare xtreme")
    parser.add_argument(
        "--checkpoint",
        type=_task_path,
        action="append",
        default=[],
        metavar="TASK=CHECKPOINT",
        help="a target and its checkpoint (phase 3; bucc and tatoeba: any encoder, usually "
        "phase 2); repeat per target (with --grid: instead of the grid's)",
    )
    parser.add_argument(
        "--grid",
        type=Path,
        help="a stilts-grid folder: each target's checkpoint from its finished runs of --setting, "
        "of several seeds the one with the best English dev score (run from the folder "
        "stilts-grid ran in)",
    )
    parser.add_argument("--setting", help="with --grid: the intermediate setting to submit")
    parser.add_argument("--seed", type=int, help="with --grid: only this seed's runs")
    parser.add_argument(
        "--model-dir",
        type=Path,
        required=True,
        help="pretrained model folder (dict.txt, sentencepiece.bpe.model)",
    )
    parser.add_argument("--out", type=Path, required=True, help="submission folder to write")
    parser.add_argument(
        "--allow-missing",
        action="store_true",
        help="write the folder although tasks or languages are missing (they are listed)",
    )
    parser.add_argument("--batch-size", type=int, default=32, help="examples per batch")
    parser.add_argument("--cpu", action="store_true", help="do not use a GPU even if there is one")
    parser.add_argument("--quiet", action="store_true", help="no progress or fairseq-validate log")
    args, extra = parser.parse_known_args(argv)
    checkpoints = dict(args.checkpoint)
    if len(checkpoints) != len(args.checkpoint):
        raise StiltsError("--checkpoint: a task is given twice")
    if (args.grid is None) != (args.setting is None) or (args.seed is not None and not args.grid):
        raise StiltsError("--grid and --setting go together (and --seed with them)")
    if args.grid:
        chosen = grid_checkpoints(
            args.data, args.grid, args.setting, args.seed, args.batch_size, args.cpu, extra
        )
        checkpoints = chosen | checkpoints
    if not checkpoints:
        raise StiltsError("give --checkpoint TASK=CHECKPOINT per target, or --grid and --setting")
    from fairseq_stilts.xtreme.submission import check_complete, write_submission

    files = predict_targets(
        args.data,
        checkpoints,
        args.model_dir,
        args.batch_size,
        args.cpu,
        extra,
        args.quiet,
        args.allow_missing,
    )
    for note in check_complete(files, args.data, args.allow_missing):
        print(f"note: {note}")
    archive = write_submission(args.out, files)
    print(f"submission: {args.out} ({archive})")
