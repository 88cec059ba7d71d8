"""The checkpoints a grid offers a submission: per target, the finished runs of one setting, and
the choice among its seeds by English dev score (never by test)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fairseq_stilts.errors import StiltsError
from fairseq_stilts.grid.folder import PLAN_COPY, is_done
from fairseq_stilts.grid.plan import parse_plan, read_plan
from fairseq_stilts.grid.runs import expand


@dataclass(frozen=True)
class Candidate:
    """A finished target run: its seed and the checkpoint its evaluation used (phase 3; for a
    retrieval target the setting's intermediate checkpoint)."""

    seed: int
    checkpoint: Path


def grid_candidates(
    grid: Path, setting: str, seed: int | None = None
) -> dict[str, list[Candidate]]:
    """Target -> the finished runs of ``setting`` in ``grid`` (only ``seed``'s if given), in the
    plan's seed order. The plan's paths are read as ``stilts-grid`` read them (from the current
    folder)."""
    plan = parse_plan(read_plan(Path(grid) / PLAN_COPY))
    names = [s.name for s in plan.settings]
    if setting not in names:
        raise StiltsError(f"--setting {setting!r}: {grid} has the settings {', '.join(names)}")
    if seed is not None and seed not in plan.seeds:
        raise StiltsError(f"--seed {seed}: {grid} has the seeds {list(plan.seeds)}")
    found: dict[str, list[Candidate]] = {}
    for chain in expand(plan, grid):
        for run in chain:
            if run.setting != setting or run.target is None or seed not in (None, run.seed):
                continue
            if is_done(grid, run.id):
                command = run.commands[-1]  # stilts-eval or stilts-retrieve, each with --path
                checkpoint = Path(command[command.index("--path") + 1])
                found.setdefault(run.target, []).append(Candidate(run.seed, checkpoint))
    if not found:
        raise StiltsError(f"{grid}: no finished target run of setting {setting!r}")
    return found


def best_candidate(
    candidates: list[Candidate], dev_score: Callable[[Path], float]
) -> tuple[Candidate, dict[int, float]]:
    """The candidate with the highest ``dev_score`` (the lowest seed on ties) and seed -> score;
    a single candidate is taken without scoring it."""
    if len(candidates) == 1:
        return candidates[0], {}
    scores = {c.seed: dev_score(c.checkpoint) for c in candidates}
    return max(candidates, key=lambda c: scores[c.seed]), scores
