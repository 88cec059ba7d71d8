"""Submitting chains to submitit (its local executor, or SLURM), at most N at a time, and
reporting progress as runs done / total."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import submitit

from fairseq_stilts.grid.execute import Outcome, run_chain
from fairseq_stilts.grid.folder import is_done
from fairseq_stilts.grid.runs import Run

EXECUTORS = ("local", "slurm")
DEFAULT_RESOURCES = {"timeout_min": 1440}  # submitit's local default (2 minutes) is too short


def make_executor(grid: Path, cluster: str, resources: dict[str, Any]) -> submitit.AutoExecutor:
    """A submitit executor writing its job files under ``grid/submitit``."""
    executor = submitit.AutoExecutor(folder=grid / "submitit" / "%j", cluster=cluster)
    executor.update_parameters(**{**DEFAULT_RESOURCES, **resources})
    return executor


def schedule(
    grid: Path,
    chains: list[list[Run]],
    executor: submitit.Executor,
    results: Path,
    parallel: int = 1,
    report: Callable[[str], None] = print,
    poll_s: float = 0.5,
) -> list[Outcome]:
    """Run every chain that has work left as one job, ``parallel`` jobs at a time, appending
    result rows to the store ``results``; report each
    change of the number of runs done and each run that failed. The outcomes of all runs."""
    runs = [run.id for chain in chains for run in chain]
    waiting = [chain for chain in chains if not all(is_done(grid, run.id) for run in chain)]
    outcomes = [
        Outcome(run.id, "skipped") for chain in chains if chain not in waiting for run in chain
    ]
    active: list[tuple[submitit.Job, list[Run]]] = []
    shown = sum(is_done(grid, run_id) for run_id in runs)
    report(f"grid: {shown}/{len(runs)} runs done")
    while waiting or active:
        while waiting and len(active) < parallel:
            chain = waiting.pop(0)
            active.append((executor.submit(run_chain, grid, chain, results), chain))
        time.sleep(poll_s)
        for job, chain in [item for item in active if item[0].done()]:
            active.remove((job, chain))
            finished = _outcomes(job, grid, chain)
            outcomes += finished
            for outcome in finished:
                if outcome.status in ("failed", "blocked"):
                    report(f"{outcome.status}: {outcome.run}: {outcome.detail}")
        done = sum(is_done(grid, run_id) for run_id in runs)
        if done != shown:
            report(f"grid: {done}/{len(runs)} runs done")
            shown = done
    return outcomes


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
