"""The grid folder: a copy of its plan, its lock (``grid.lock``), and per run ``runs/<id>/`` with
``commands.sh``, ``log.txt``, its checkpoints and results, and its markers: ``started`` when its
job starts it, ``failed`` (the error) if it fails, ``done`` once its results are stored (the last
two hold its duration, as JSON)."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import yaml

from fairseq_stilts.errors import StiltsError
from fairseq_stilts.grid.runs import Run, run_dir
from fairseq_stilts.writes import write_atomic

PLAN_COPY = "plan.yaml"
# Keys that may change between invocations on one grid folder (they do not change any result).
MUTABLE_KEYS = ("resources",)


def claim(grid: Path, plan_path: Path, plan_text: str) -> None:
    """Make ``grid`` the folder of this plan (storing a copy), or check that it already is."""
    copy = grid / PLAN_COPY
    if copy.is_file():
        if _fixed(yaml.safe_load(copy.read_text(encoding="utf-8"))) != _fixed(
            yaml.safe_load(plan_text)
        ):
            raise StiltsError(
                f"{grid} holds a grid made from a different plan ({copy}, not {plan_path}); to "
                f"continue that grid run `stilts-grid {copy} --out {grid}`, or give the new plan "
                "a new --out folder"
            )
        return
    grid.mkdir(parents=True, exist_ok=True)
    write_atomic(copy, plan_text)


def _fixed(plan: dict) -> dict:
    return {k: v for k, v in plan.items() if k not in MUTABLE_KEYS}


def write_commands(grid: Path, run: Run) -> Path:
    """Write the run's command lines as ``runs/<id>/commands.sh``, for a user to copy."""
    lines = ["#!/usr/bin/env bash", f"# grid run {run.id}", "set -euo pipefail"]
    lines += [shlex.join(command) for command in run.commands]
    path = run_dir(grid, run.id) / "commands.sh"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, "\n".join(lines) + "\n")
    return path


def done_marker(grid: Path, run_id: str) -> Path:
    return run_dir(grid, run_id) / "done"


def is_done(grid: Path, run_id: str) -> bool:
    return done_marker(grid, run_id).is_file()


def started_marker(grid: Path, run_id: str) -> Path:
    return run_dir(grid, run_id) / "started"


def failed_marker(grid: Path, run_id: str) -> Path:
    return run_dir(grid, run_id) / "failed"


def write_marker(path: Path, **fields) -> None:
    """A marker holding ``fields`` as JSON (written whole: a reader never sees half of it)."""
    write_atomic(path, json.dumps(fields) + "\n")


def read_marker(path: Path) -> dict | None:
    """A marker's fields; {} for a marker without them (done markers of older grids); None if
    there is no marker."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    try:
        fields = json.loads(text)
    except ValueError:
        return {}
    return fields if isinstance(fields, dict) else {}


def clear_attempt(grid: Path, run_id: str) -> None:
    """Forget a previous attempt at a run that is not done (its started / failed markers)."""
    for marker in (started_marker(grid, run_id), failed_marker(grid, run_id)):
        marker.unlink(missing_ok=True)


def log_path(grid: Path, run_id: str) -> Path:
    return run_dir(grid, run_id) / "log.txt"
