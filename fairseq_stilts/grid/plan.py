"""A grid plan (YAML): the pretrained model, intermediate settings, targets, seeds and options."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from fairseq_stilts.data.prepare.manifest import read_manifest
from fairseq_stilts.errors import StiltsError
from fairseq_stilts.registry import all_specs, get_family, get_spec

PLAN_KEYS = (
    "model",
    "data",
    "settings",
    "targets",
    "seeds",
    "train",
    "target_options",
    "retrieval_raw",
    "checkpoint",
    "resources",
    "results_store",
)
REQUIRED = ("model", "data", "settings", "targets", "seeds")
SETTING_KEYS = ("name", "tasks", "data", "options", "languages")
RESULTS_STORES = {"jsonl": "results.jsonl", "sqlite": "results.sqlite"}


@dataclass(frozen=True)
class Setting:
    """One intermediate setting: no tasks means no intermediate training. ``languages`` are
    the training languages of a single-task setting (``--train-languages``); empty means the
    data folder's ``train`` as prepared."""

    name: str
    tasks: tuple[str, ...]
    data: dict[str, Path]  # task -> its data folder
    options: str = ""
    languages: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    model: Path
    data: Path
    settings: tuple[Setting, ...]
    targets: tuple[str, ...]
    seeds: tuple[int, ...]
    target_data: dict[str, Path]  # trainable target -> data folder; retrieval target -> raw folder
    train: str = ""
    target_options: dict[str, str] = field(default_factory=dict)  # target -> its extra flags
    checkpoint: str = "checkpoint_last.pt"
    resources: dict[str, Any] = field(default_factory=dict)
    results_store: str = RESULTS_STORES["jsonl"]  # file name in the grid folder


def intermediate_tasks() -> list[str]:
    """Tasks a setting can train on (every family with a criterion)."""
    return sorted(n for n, s in all_specs().items() if get_family(s.family).trainable)


def target_tasks() -> list[str]:
    return sorted(n for n, s in all_specs().items() if s.role == "target")


def is_retrieval(task: str) -> bool:
    """Scored without training, by a command of its own (its family's ``scored_by``)."""
    return get_family(get_spec(task).family).scored_by is not None


def is_auxiliary(task: str) -> bool:
    """Trained beside an intermediate task (masked-LM), not a setting's supervised task."""
    return get_spec(task).role == "auxiliary"


def read_plan(path: str | Path) -> dict:
    """The plan file's content as loaded by YAML (a mapping)."""
    path = Path(path)
    if not path.is_file():
        raise StiltsError(f"{path}: plan not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise StiltsError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(raw, dict):
        raise StiltsError(f"{path}: a plan is a mapping with keys {', '.join(PLAN_KEYS)}")
    return raw


def parse_plan(raw: dict) -> Plan:
    _known_keys("plan", raw, PLAN_KEYS)
    missing = [key for key in REQUIRED if key not in raw]
    if missing:
        raise StiltsError(f"plan lacks key(s) {', '.join(missing)}")
    model = _folder("model", raw["model"])
    if not (model / "model.pt").is_file():
        raise StiltsError(f"model: {model} has no model.pt")
    data = _folder("data", raw["data"])
    settings = [_setting(i, s, data) for i, s in enumerate(_list("settings", raw["settings"]))]
    _unique("settings", [s.name for s in settings])
    targets = [str(t) for t in _list("targets", raw["targets"])]
    _unique("targets", targets)
    seeds = _list("seeds", raw["seeds"])
    if not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise StiltsError(f"seeds: a list of integers, got {seeds!r}")
    _unique("seeds", seeds)
    retrieval_raw = raw.get("retrieval_raw") or {}
    if not isinstance(retrieval_raw, dict):
        raise StiltsError("retrieval_raw: a mapping of retrieval task -> raw folder")
    target_data = {}
    for target in targets:
        if target not in target_tasks():
            raise StiltsError(
                f"targets: unknown target {target!r}; valid: {', '.join(target_tasks())}"
            )
        if is_retrieval(target):
            if target not in retrieval_raw:
                raise StiltsError(
                    f"retrieval_raw.{target}: raw folder of target {target!r} not given"
                )
            target_data[target] = _folder(f"retrieval_raw.{target}", retrieval_raw[target])
        else:
            key = f"targets: {target} (data folder)"
            target_data[target] = _prepared(key, target, _folder(key, data / target))
    target_options = raw.get("target_options") or {}
    if not isinstance(target_options, dict):
        raise StiltsError("target_options: a mapping of target -> extra fairseq-train flags")
    for target, options in target_options.items():
        _text(f"target_options.{target}", options)
    stray = sorted(str(t) for t in set(target_options) - set(targets))
    if stray:
        raise StiltsError(f"target_options: {stray} not among the targets {targets}")
    retrieval = sorted(t for t in target_options if is_retrieval(t))
    if retrieval:
        raise StiltsError(
            f"target_options: {retrieval} are scored with stilts-retrieve, not trained"
        )
    resources = raw.get("resources") or {}
    if not isinstance(resources, dict):
        raise StiltsError(
            "resources: a mapping of submitit parameters (timeout_min, slurm_partition, ...)"
        )
    store = str(raw.get("results_store") or "jsonl")
    if store not in RESULTS_STORES:
        raise StiltsError(
            f"results_store: unknown format {store!r}; valid: {', '.join(RESULTS_STORES)}"
        )
    return Plan(
        model=model,
        data=data,
        settings=tuple(settings),
        targets=tuple(targets),
        seeds=tuple(seeds),
        target_data=target_data,
        train=_text("train", raw.get("train")),
        target_options={str(t): o or "" for t, o in target_options.items()},
        checkpoint=str(raw.get("checkpoint") or "checkpoint_last.pt"),
        resources=resources,
        results_store=RESULTS_STORES[store],
    )


def _setting(index: int, raw: Any, data: Path) -> Setting:
    if not isinstance(raw, dict) or "name" not in raw:
        raise StiltsError(
            f"settings[{index}]: a mapping with keys {', '.join(SETTING_KEYS)} (name required)"
        )
    name = str(raw["name"])
    where = f"settings[{index}] ({name})"
    if not name or "/" in name or name.startswith("."):
        raise StiltsError(f"{where}: name must be non-empty, without '/' and not start with '.'")
    _known_keys(where, raw, SETTING_KEYS)
    tasks = [str(t) for t in raw.get("tasks") or []]
    _unique(f"{where}.tasks", tasks)
    valid = intermediate_tasks()
    unknown = [t for t in tasks if t not in valid]
    if unknown:
        raise StiltsError(f"{where}.tasks: unknown task(s) {unknown}; valid: {', '.join(valid)}")
    overrides = raw.get("data") or {}
    if not isinstance(overrides, dict):
        raise StiltsError(f"{where}.data: a mapping of task -> data folder")
    stray = sorted(set(overrides) - set(tasks))
    if stray:
        raise StiltsError(f"{where}.data: {stray} not among the setting's tasks {tasks}")
    folders = {
        t: _folder(
            f"{where}.data.{t}" if t in overrides else f"{where}.tasks: {t} (data folder)",
            overrides.get(t, data / t),
        )
        for t in tasks
    }
    for task, folder in folders.items():
        _prepared(f"{where}.tasks: {task}", task, folder)
    languages = _languages(where, raw.get("languages"), tasks, folders)
    return Setting(
        name, tuple(tasks), folders, _text(f"{where}.options", raw.get("options")), languages
    )


def _languages(where: str, raw: Any, tasks: list[str], folders: dict[str, Path]) -> tuple[str, ...]:
    """The setting's training languages, each checked against its data folder's manifest."""
    if raw is None:
        return ()
    key = f"{where}.languages"
    languages = [str(lang) for lang in _list(key, raw)]
    _unique(key, languages)
    if len(tasks) != 1 or is_auxiliary(tasks[0]):
        raise StiltsError(
            f"{key}: training languages apply to a setting of one supervised task (got tasks "
            f"{tasks}); for multi-task, prepare each task's data folder with the languages to train on"
        )
    recorded = read_manifest(folders[tasks[0]], tasks[0]).train_languages
    if not recorded:
        raise StiltsError(
            f"{key}: {folders[tasks[0]]}/manifest.json records no training languages; prepare "
            f"the folder again with this version of stilts-prepare to choose them"
        )
    available = list(recorded)
    unknown = [lang for lang in languages if lang not in available]
    if unknown:
        raise StiltsError(
            f"{key}: {unknown} not in the training data of {folders[tasks[0]]}; valid: "
            f"{', '.join(available)} (stilts-prepare --train-languages adds languages)"
        )
    return tuple(languages)


def prepared_languages(task: str, folder: Path) -> list[str]:
    """The training languages of a prepared data folder (English where none are recorded)."""
    return list(read_manifest(folder, task).train_languages or ["en"])


def _prepared(key: str, task: str, folder: Path) -> Path:
    """``folder`` if stilts-prepare made it for ``task``; a StiltsError naming ``key`` if not."""
    try:
        read_manifest(folder, task)
    except StiltsError as err:
        raise StiltsError(f"{key}: {err}") from None
    return folder


def _text(key: str, value: Any) -> str:
    """Command-line flags given as one string (or nothing)."""
    if value is not None and not isinstance(value, str):
        raise StiltsError(f"{key}: flags as one string, got {value!r}")
    return value or ""


def _known_keys(where: str, raw: dict, valid: tuple[str, ...]) -> None:
    unknown = sorted(str(k) for k in set(raw) - set(valid))
    if unknown:
        raise StiltsError(
            f"{where}: unknown key(s) {', '.join(unknown)}; valid: {', '.join(valid)}"
        )


def _list(key: str, value: Any) -> list:
    if not isinstance(value, list) or not value:
        raise StiltsError(f"{key}: a non-empty list, got {value!r}")
    return value


def _unique(key: str, values: list) -> None:
    repeated = sorted({str(v) for v in values if values.count(v) > 1})
    if repeated:
        raise StiltsError(f"{key}: named more than once: {', '.join(repeated)}")


def _folder(key: str, value: Any) -> Path:
    path = Path(str(value)).absolute()
    if not path.is_dir():
        raise StiltsError(f"{key}: folder {path} not found")
    return path
