"""Executing a chain of runs inside one job: skip what is done, run the commands of the rest,
store their results and mark them done. A failing run does not stop the chain's other targets,
except those that start from its checkpoint. Each run's ``started``, ``failed`` and ``done``
markers let the scheduler report it as it starts and ends."""

from __future__ import annotations

import fcntl
import json
import subprocess
import time
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

from fairseq_stilts.errors import StiltsError
from fairseq_stilts.grid.folder import (
    clear_attempt,
    done_marker,
    failed_marker,
    is_done,
    log_path,
    started_marker,
    write_marker,
)
from fairseq_stilts.grid.runs import RESULTS, Run, run_dir
from fairseq_stilts.results.store import append_rows
from fairseq_stilts.runtime import fairseq_executable


@dataclass(frozen=True)
class Outcome:
    """What became of one run: ``skipped`` (done before), ``done``, ``failed`` or ``blocked``
    (not run: the run it starts from failed)."""

    run: str
    status: str
    detail: str = ""


def run_chain(grid: Path, chain: list[Run], results: Path) -> list[Outcome]:
    """Execute ``chain`` in order, appending its rows to the store ``results`` (the submitit
    job function)."""
    outcomes: list[Outcome] = []
    failed: set[str] = set()
    for run in chain:
        if is_done(grid, run.id):
            outcomes.append(Outcome(run.id, "skipped"))
        elif run.needs in failed:
            failed.add(run.id)
            outcomes.append(Outcome(run.id, "blocked", f"{run.needs} failed"))
        else:
            start = time.monotonic()
            try:
                clear_attempt(grid, run.id)
                write_marker(started_marker(grid, run.id), at=time.time())
                execute(grid, run, results, start)
                outcomes.append(Outcome(run.id, "done"))
            except (OSError, ValueError, KeyError) as err:  # StiltsError is a ValueError
                failed.add(run.id)
                detail = f"{err}; log: {log_path(grid, run.id)}"
                outcomes.append(Outcome(run.id, "failed", detail))
                seconds = round(time.monotonic() - start, 1)
                with suppress(OSError, ValueError):  # the outcome reports it in any case
                    write_marker(failed_marker(grid, run.id), detail=detail, seconds=seconds)
    return outcomes


def execute(grid: Path, run: Run, results: Path, start: float | None = None) -> None:
    """Run the commands of ``run``, store its results, then write its done marker (with the
    seconds since ``start``, a ``time.monotonic()``, by default now)."""
    start = time.monotonic() if start is None else start
    log = log_path(grid, run.id)
    log.parent.mkdir(parents=True, exist_ok=True)
    for command in run.commands:
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(f"$ {' '.join(command)}\n")
            handle.flush()
            code = subprocess.run(
                [fairseq_executable(command[0]), *command[1:]],
                stdout=handle,
                stderr=subprocess.STDOUT,
            ).returncode
        if code != 0:
            raise StiltsError(f"{command[0]} exited with {code}")
    if run.target is not None:
        store(grid, run, results)
    write_marker(done_marker(grid, run.id), seconds=round(time.monotonic() - start, 1))


def store(grid: Path, run: Run, results: Path) -> None:
    """Append the rows of the run's results JSON to the store ``results``."""
    evaluated = json.loads((run_dir(grid, run.id) / RESULTS).read_text(encoding="utf-8"))
    rows = [
        {
            "run": run.id,
            "setting": run.setting,
            "intermediate_languages": list(run.intermediate_languages),
            "target": run.target,
            "language": r["language"],
            "split": r["split"],
            "metric": r["metric"],
            "value": r["value"],
            "seed": run.seed,
            "checkpoint": r["checkpoint"],
            "data_manifest_sha256": r.get("data_manifest_sha256"),
        }
        for r in evaluated
    ]
    with open(results.with_name(results.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel chains append one at a time
        append_rows(results, rows)
