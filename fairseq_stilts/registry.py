"""Catalogue registries of the two records everything else looks up: task specs (one per
dataset) and families (one per kind of task: how it is prepared, trained, scored and submitted).

Other packages add either through the entry-point groups ``fairseq_stilts_tasks`` and
``fairseq_stilts_families`` (see docs/extending.md). The built-in records are registered by
importing :mod:`fairseq_stilts.families`, which imports neither fairseq nor torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import catalogue

from fairseq_stilts.errors import StiltsError

task_specs = catalogue.create("fairseq_stilts", "tasks", entry_points=True)
families = catalogue.create("fairseq_stilts", "families", entry_points=True)
# Records looked up so far. A catalogue lookup scans every installed entry point (a quarter of a
# millisecond; data preparation looks families up per example), and the entry points do not
# change while a process runs; registering a name drops its entry.
_found: dict[tuple[str, str], Any] = {}


def _lookup(registry: catalogue.Registry, name: str) -> Any:
    key = (registry.namespace[-1], name)
    if key not in _found:
        _found[key] = registry.get(name)
    return _found[key]


# The kinds of task head a family can ask for (Family.head).
SENTENCE, TOKEN, SPAN = "sentence", "token", "span"


@dataclass(frozen=True)
class Source:
    """One raw file (or file pattern) of a task and how to read it.

    ``pattern`` is relative to the raw-data folder; ``{lang}`` stands for a language code.
    ``columns`` maps each spec field (and ``label``) to a column name, column index or JSON key.
    """

    split: str
    pattern: str
    reader: str
    columns: Mapping[str, str | int]
    lang: str = "en"
    header: bool = False


@dataclass(frozen=True)
class TaskSpec:
    """Everything that makes a dataset a task: a record, not a class.

    ``metrics`` are the official metrics, as the family's criterion logs them: a task's XTREME
    score is their mean (span QA: EM and F1), and the first one selects checkpoints (multi-task's
    ``combined``); none for a task without a score of its own (masked-LM). ``extra_metrics`` are
    reported beside them. ``scoring`` names the rules behind the numbers (docs/scoring.md).
    ``xtreme_name`` is a target's folder in XTREME's download and submission layouts.
    """

    name: str
    family: str
    role: str
    description: str
    languages: tuple[str, ...]
    metrics: tuple[str, ...]
    scoring: str
    max_length: int
    input_fields: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    sources: tuple[Source, ...] = ()
    label_aliases: Mapping[str, str] = field(default_factory=dict)
    skip_labels: tuple[str, ...] = ()
    extra_metrics: tuple[str, ...] = ()
    xtreme_name: str = ""

    @property
    def reported_metrics(self) -> tuple[str, ...]:
        """What stilts-eval reports: the official metrics, then the extra ones."""
        return (*self.metrics, *self.extra_metrics)

    @property
    def field_names(self) -> tuple[str, ...]:
        """One name per text of an example (the family decides: multiple choice has one per
        choice)."""
        return get_family(self.family).field_names(self)

    def sequence_length(self, requested: int = 0, prepared: int = 0) -> int:
        """The longest input the model sees: the user's ``--max-seq-length``, else what the data
        was prepared for, else the task's default. The one place that decides it."""
        return requested or prepared or self.max_length

    def require_trainable(self) -> None:
        """Refuse tasks that have no data to prepare, train or validate on (retrieval)."""
        tool = get_family(self.family).scored_by
        if tool:
            raise StiltsError(
                f"task {self.name!r} is a {self.family} task: it has no training data and nothing "
                f"to prepare; score a checkpoint's encoder with `{tool} {self.name} RAW_DIR "
                "--path CHECKPOINT --model-dir PRETRAINED_MODEL_DIR`"
            )

    def canonical_label(self, raw: str) -> str:
        return self.label_aliases.get(raw, raw)


def _input_fields(spec: TaskSpec) -> tuple[str, ...]:
    return spec.input_fields


def _one_prediction_per_line(predictions: list) -> str:
    return "".join(f"{p}\n" for p in predictions)


def _lines(spec: TaskSpec, text: str) -> int | None:
    return len(text.splitlines())


@dataclass(frozen=True)
class Family:
    """Everything that makes a kind of task work, in one record; the family's folder
    (``fairseq_stilts/families/<name>/``) defines the parts.

    - ``task``, ``config``: the fairseq task class each of the family's specs is bound to
      (``--task <spec>``) and its config dataclass, each given as the object or as
      ``"module:name"`` (imported only when fairseq needs it: listing or preparing tasks does not
      import fairseq);
    - ``criterion``: the fairseq criterion it trains with, ``criterion_overrides`` config values a
      multi-task run gives it;
    - ``prepare``: ``(spec, request) -> Manifest``, raw data to a data folder (None: nothing to
      prepare); ``hf_datasets`` / ``translated_train``: whether it reads local Hugging Face
      datasets / training data in other languages;
    - ``metrics``: what the criterion logs; ``head``: the kind of task head the model gets
      (``sentence``, ``token``, ``span``; None: none of its own);
    - ``submission_suffix``, ``submission_text``: one XTREME submission file from the predictions
      of a subset; ``submission_count``: ``(spec, text)``, the examples such a file predicts
      (None: not a count);
    - ``scored_by``: the command that scores the family's tasks without training, if any;
    - ``field_names``: the names of an example's texts.
    """

    name: str
    task: type | str
    config: type | str
    criterion: str | None
    prepare: Callable[..., Any] | None
    metrics: tuple[str, ...]
    head: str | None = None
    criterion_overrides: Mapping[str, Any] = field(default_factory=dict)
    hf_datasets: bool = False
    translated_train: bool = False
    submission_suffix: str = ".tsv"
    submission_text: Callable[[list], str] = _one_prediction_per_line
    submission_count: Callable[[TaskSpec, str], int | None] = _lines
    scored_by: str | None = None
    field_names: Callable[[TaskSpec], tuple[str, ...]] = _input_fields

    @property
    def task_class(self) -> type:
        return resolve(self.task)

    @property
    def config_class(self) -> type:
        return resolve(self.config)

    @property
    def trainable(self) -> bool:
        """Trains through fairseq-train (a criterion of its own)."""
        return self.criterion is not None


def resolve(ref: Any) -> Any:
    """An object given as itself or as ``"module:name"`` (imported now)."""
    if not isinstance(ref, str):
        return ref
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


def register_family(family: Family) -> Family:
    """Add a family record under its name."""
    families.register(family.name, func=family)
    _found.pop(("families", family.name), None)
    return family


def get_family(name: str) -> Family:
    try:
        return _lookup(families, name)
    except catalogue.RegistryError:
        known = ", ".join(sorted(families.get_all()))
        raise StiltsError(f"unknown family {name!r}; known: {known}") from None


def register_spec(spec: TaskSpec | Callable[[], TaskSpec]) -> TaskSpec:
    """Add a spec to the registry under its name (its family is looked up when it is used).

    Call it with a spec, or use it as a decorator on a function that returns one.
    """
    if not isinstance(spec, TaskSpec):
        spec = spec()
    task_specs.register(spec.name, func=spec)
    _found.pop(("tasks", spec.name), None)
    return spec


def get_spec(name: str) -> TaskSpec:
    """Look a spec up by name; unknown names get the list of known ones."""
    try:
        return _lookup(task_specs, name)
    except catalogue.RegistryError:
        raise StiltsError(
            f"unknown task {name!r}; known tasks: {', '.join(sorted(all_specs()))}"
        ) from None


def all_specs() -> dict[str, TaskSpec]:
    return dict(task_specs.get_all())
