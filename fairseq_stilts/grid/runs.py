"""Expansion of a plan into runs: each a list of standard fairseq-train / stilts-eval /
stilts-retrieve command lines. Runs come in chains, one per (setting, seed): the intermediate
training (none for a setting without tasks), then every target, which start from its checkpoint."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from fairseq_stilts.grid.plan import (
    Plan,
    Setting,
    is_auxiliary,
    is_retrieval,
    prepared_languages,
)
from fairseq_stilts.registry import get_family, get_spec
from fairseq_stilts.runtime import USER_DIR

RESULTS = "results.json"  # what a target run's evaluation writes, in its run folder


@dataclass(frozen=True)
class Run:
    """One run of the grid; ``target`` is None for an intermediate training."""

    id: str
    setting: str
    seed: int
    target: str | None
    commands: tuple[tuple[str, ...], ...]
    needs: str | None  # the run whose checkpoint this one starts from
    intermediate_languages: tuple[str, ...]  # what the setting trains on; () without training


def run_dir(grid: Path, run_id: str) -> Path:
    return grid / "runs" / run_id


def expand(plan: Plan, grid: Path) -> list[list[Run]]:
    """The plan's chains of runs, one per (setting, seed), in plan order."""
    grid = Path(grid).absolute()
    chains = []
    for setting in plan.settings:
        for seed in plan.seeds:
            chain: list[Run] = []
            start = plan.model / "model.pt"
            base = f"{setting.name}/s{seed}"
            languages = intermediate_languages(setting)
            if setting.tasks:
                save = run_dir(grid, base) / "checkpoints"
                train = _intermediate_command(plan, setting, seed, save)
                chain.append(Run(base, setting.name, seed, None, (train,), None, languages))
                start = save / plan.checkpoint
            for target in plan.targets:
                run_id = f"{base}/{target}"
                commands = _target_commands(plan, target, seed, start, run_dir(grid, run_id))
                needs = chain[0].id if chain else None
                chain.append(Run(run_id, setting.name, seed, target, commands, needs, languages))
            chains.append(chain)
    return chains


def intermediate_languages(setting: Setting) -> tuple[str, ...]:
    """The setting's ``languages``, else those its supervised data folders were prepared with,
    English first (MLM text is left out: it is multilingual in every setting)."""
    if setting.languages:
        found = set(setting.languages)
    else:
        found = {
            lang
            for t in setting.tasks
            if not is_auxiliary(t)
            for lang in prepared_languages(t, setting.data[t])
        }
    return tuple(sorted(found, key=lambda lang: (lang != "en", lang)))


def criterion(task: str) -> str:
    """The criterion that trains ``task`` alone (its family's)."""
    return get_family(get_spec(task).family).criterion


def _train(data: Path, task: str, crit: str, init: Path, seed: int, save: Path) -> list[str]:
    return [
        "fairseq-train",
        str(data),
        "--user-dir",
        USER_DIR,
        "--task",
        task,
        "--criterion",
        crit,
        "--finetune-from-model",
        str(init),
        "--seed",
        str(seed),
        "--save-dir",
        str(save),
    ]


def _intermediate_command(plan: Plan, setting: Setting, seed: int, save: Path) -> tuple[str, ...]:
    init = plan.model / "model.pt"
    if len(setting.tasks) == 1:
        task = setting.tasks[0]
        command = _train(setting.data[task], task, criterion(task), init, seed, save)
        if setting.languages:
            command += ["--train-languages", ",".join(setting.languages)]
    else:
        command = _train(plan.data, "stilts_multitask", "stilts_multitask", init, seed, save)
        paths = ",".join(f"{t}={setting.data[t]}" for t in setting.tasks)
        command += ["--tasks", ",".join(setting.tasks), "--task-data", paths]
    return (*command, *shlex.split(plan.train), *shlex.split(setting.options))


def _target_commands(
    plan: Plan, target: str, seed: int, start: Path, folder: Path
) -> tuple[tuple[str, ...], ...]:
    data, out = plan.target_data[target], str(folder / RESULTS)
    if is_retrieval(target):
        return (
            (
                "stilts-retrieve",
                target,
                str(data),
                "--path",
                str(start),
                "--model-dir",
                str(plan.model),
                "--out",
                out,
            ),
        )
    save = folder / "checkpoints"
    options = (*shlex.split(plan.train), *shlex.split(plan.target_options.get(target, "")))
    train = (*_train(data, target, criterion(target), start, seed, save), *options)
    evaluate = (
        "stilts-eval",
        target,
        str(data),
        "--path",
        str(save / plan.checkpoint),
        "--out",
        out,
    )
    return train, evaluate
