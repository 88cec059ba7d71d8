"""Submitting chains to submitit (its local executor, or SLURM), at most N at a time, and
reporting progress: each run as it starts and as it ends (read off its markers in the grid
folder, which the job writes wherever it runs), and runs done / total."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import submitit

from fairseq_stilts.grid import EXECUTORS  # noqa: F401  (re-exported)
from fairseq_stilts.grid.execute import Outcome, run_chain
from fairseq_stilts.grid.folder import (
    clear_attempt,
    done_marker,
    failed_marker,
    is_done,
    log_path,
    read_marker,
    started_marker,
)
from fairseq_stilts.grid.runs import Run

DEFAULT_RESOURCES = {"timeout_min": 1440}  # submitit's local default (2 minutes) is too short


def make_executor(grid: Path, cluster: str, resources: dict[str, Any]) -> submitit.AutoExecutor:
    """A submitit executor writing its job files under ``grid/submitit``."""
    executor = submitit.AutoExecutor(folder=grid / "submitit" / "%j", cluster=cluster)
    executor.update_parameters(**{**DEFAULT_RESOURCES, **resources})
    return executor


def say(line: str) -> None:
    """Print a progress line at once (also into a pipe: `stilts-grid ... | tee grid.log`)."""
    print(line, flush=True)


def schedule(
    grid: Path,
    chains: list[list[Run]],
    executor: submitit.Executor,
    results: Path,
    parallel: int = 1,
    report: Callable[[str], None] = say,
    poll_s: float = 0.5,
) -> list[Outcome]:
    """Run every chain that has work left as one job, ``parallel`` jobs at a time, appending
    result rows to the store ``results``; report each run as it starts and ends (failed and
    blocked ones with why), and each change of the number of runs done. The outcomes of all
    runs."""
    runs = [run.id for chain in chains for run in chain]
    waiting = [chain for chain in chains if not all(is_done(grid, run.id) for run in chain)]
    outcomes = [
        Outcome(run.id, "skipped") for chain in chains if chain not in waiting for run in chain
    ]
    to_run = {run.id for chain in waiting for run in chain if not is_done(grid, run.id)}
    for run_id in to_run:
        clear_attempt(grid, run_id)  # markers of an earlier, interrupted attempt
    progress = Progress(grid, report, to_run)
    active: list[tuple[submitit.Job, list[Run]]] = []
    shown = sum(is_done(grid, run_id) for run_id in runs)
    report(f"grid: {shown}/{len(runs)} runs done")
    while waiting or active:
        while waiting and len(active) < parallel:
            chain = waiting.pop(0)
            active.append((executor.submit(run_chain, grid, chain, results), chain))
        time.sleep(poll_s)
        for _job, chain in active:
            progress.watch(chain)
        for job, chain in [item for item in active if item[0].done()]:
            active.remove((job, chain))
            finished = _outcomes(job, grid, chain)
            outcomes += finished
            progress.watch(chain)  # what the job marked after the last look
            progress.finish(finished)
        done = sum(is_done(grid, run_id) for run_id in runs)
        if done != shown:
            report(f"grid: {done}/{len(runs)} runs done")
            shown = done
    return outcomes


class Progress:
    """Reports each run once as it starts and once as it ends, from its markers (written by the
    job) and, for what they do not show (a run blocked, a job that died), the job's outcomes."""

    def __init__(self, grid: Path, report: Callable[[str], None], to_run: set[str]):
        self.grid, self.report, self.to_run = grid, report, to_run
        self.started: dict[str, float] = {}  # run -> when this process saw it start
        self.ended: set[str] = set()

    def watch(self, chain: list[Run]) -> None:
        for run in chain:
            if run.id in self.ended or run.id not in self.to_run:  # done before: skipped
                continue
            if run.id not in self.started and started_marker(self.grid, run.id).is_file():
                self.started[run.id] = time.monotonic()
                self._say(f"started: {run.id} (log: {log_path(self.grid, run.id)})")
            if run.id not in self.started:
                continue
            done = read_marker(done_marker(self.grid, run.id))
            failed = read_marker(failed_marker(self.grid, run.id)) if done is None else None
            if done is not None:
                self._end(run.id, f"done: {run.id} in {self._took(run.id, done)}")
            elif failed is not None:
                detail = failed.get("detail") or f"log: {log_path(self.grid, run.id)}"
                self._end(
                    run.id, f"failed: {run.id}: {detail} (after {self._took(run.id, failed)})"
                )

    def finish(self, outcomes: list[Outcome]) -> None:
        """The ends that no marker showed: runs blocked, or failed with their job."""
        for outcome in outcomes:
            if outcome.run in self.ended or outcome.status == "skipped":
                continue
            if outcome.status == "done":
                self._end(outcome.run, f"done: {outcome.run}")
            elif outcome.run in self.started:
                took = self._took(outcome.run, {})
                self._end(
                    outcome.run, f"{outcome.status}: {outcome.run}: {outcome.detail} (after {took})"
                )
            else:
                self._end(outcome.run, f"{outcome.status}: {outcome.run}: {outcome.detail}")

    def _end(self, run_id: str, line: str) -> None:
        self.ended.add(run_id)
        self._say(line)

    def _took(self, run_id: str, marker: dict) -> str:
        """The run's duration as its job measured it, else as this process saw it."""
        seconds = marker.get("seconds")
        if not isinstance(seconds, (int, float)):
            seconds = time.monotonic() - self.started[run_id]
        return duration(seconds)

    def _say(self, line: str) -> None:
        self.report(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}")


def duration(seconds: float) -> str:
    """``42s``, ``6m05s``, ``3h07m``."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def _outcomes(job: submitit.Job, grid: Path, chain: list[Run]) -> list[Outcome]:
    """The job's outcomes; a job that died (timeout, preemption, crash) fails its runs."""
    try:
        return job.result()
    except Exception as err:  # submitit re-raises whatever ended the job
        last = (str(err).strip().splitlines() or [type(err).__name__])[-1]
        detail = f"job {job.job_id} ended: {last}; log: {job.paths.stderr}"
        return [
            Outcome(r.id, "done") if is_done(grid, r.id) else Outcome(r.id, "failed", detail)
            for r in chain
        ]
