"""stilts-grid: run an X-STILTs experiment grid (intermediate setting x target x seed) from a plan.

Every run's commands are written to GRID/runs/<id>/commands.sh; runs execute through submitit, one
job per (setting, seed) chain (its intermediate training, then its targets), locally or on SLURM.
Finished runs (GRID/runs/<id>/done) are skipped; rerunning the same command continues a grid, and
an interrupted training resumes from its checkpoint_last.pt. Results go to GRID/results.jsonl
(or GRID/results.sqlite with `results_store: sqlite`). Each run is printed as it starts and as it
ends, with its duration.

One stilts-grid at a time works on a grid folder: it holds GRID/grid.lock (an OS lock, released
when the process ends, even by a crash), and a second one is refused with the holder's pid, host
and start time, or with --wait waits until the folder is free.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fairseq_stilts.cli.main import argument_parser, cli
from fairseq_stilts.grid import EXECUTORS


@cli
def main(argv: list[str] | None = None) -> None:
    parser = argument_parser("stilts-grid", __doc__)
    parser.add_argument("plan", type=Path, help="plan YAML")
    parser.add_argument("--out", type=Path, required=True, help="grid folder")
    parser.add_argument("--parallel", type=int, default=1, help="chains running at once")
    parser.add_argument(
        "--executor",
        choices=EXECUTORS,
        default="local",
        help="submitit executor: local processes, or SLURM jobs (the plan's resources)",
    )
    parser.add_argument("--dry-run", action="store_true", help="write the commands, run nothing")
    parser.add_argument(
        "--wait",
        action="store_true",
        help="if another stilts-grid works on the grid folder, wait for it to finish (default: "
        "refuse)",
    )
    args = parser.parse_args(argv)
    if args.parallel < 1:
        parser.error("--parallel must be at least 1")
    from fairseq_stilts.grid.lock import grid_lock
    from fairseq_stilts.grid.plan import parse_plan, read_plan
    from fairseq_stilts.grid.schedule import say

    plan = parse_plan(read_plan(args.plan))
    grid = args.out.absolute()
    with grid_lock(grid, wait=args.wait, report=say):
        run_grid(args, plan, grid)


def run_grid(args: argparse.Namespace, plan, grid: Path) -> None:
    """Everything stilts-grid does on the folder, under its lock (``plan``: a parsed Plan)."""
    from fairseq_stilts.grid.folder import claim, is_done, write_commands
    from fairseq_stilts.grid.runs import expand
    from fairseq_stilts.grid.schedule import make_executor, say, schedule

    claim(grid, args.plan, args.plan.read_text(encoding="utf-8"))
    chains = expand(plan, grid)
    for chain in chains:
        for run in chain:
            write_commands(grid, run)
    if args.dry_run:
        for run in (run for chain in chains for run in chain):
            state = "done" if is_done(grid, run.id) else "to run"
            say(f"{run.id}: {state} ({grid / 'runs' / run.id / 'commands.sh'})")
        return
    executor = make_executor(grid, args.executor, plan.resources)
    results = grid / plan.results_store
    outcomes = schedule(grid, chains, executor, results, args.parallel)
    counts = {
        s: sum(o.status == s for o in outcomes) for s in ("done", "skipped", "failed", "blocked")
    }
    say("grid: " + ", ".join(f"{n} {s}" for s, n in counts.items()) + f"; results: {results}")
    if counts["failed"] or counts["blocked"]:
        sys.exit(1)
