"""Catalogue registries: task specs (one record per dataset) and raw-file readers.

Other packages can add task specs through the entry-point group ``fairseq_stilts_tasks``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import catalogue

from fairseq_stilts.errors import StiltsError

task_specs = catalogue.create("fairseq_stilts", "tasks", entry_points=True)
readers = catalogue.create("fairseq_stilts", "readers")

FAMILIES = ("classification", "multiple_choice", "span_qa", "tagging", "retrieval", "mlm")
# Families without training data: a checkpoint's encoder is scored directly by a command of ours.
SCORED_ONLY = {"retrieval": "stilts-retrieve"}


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
    """Everything that makes a dataset a task: a record, not a class."""

    name: str
    family: str
    role: str
    description: str
    languages: tuple[str, ...]
    metric: str
    max_length: int
    input_fields: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    sources: tuple[Source, ...] = ()
    label_aliases: Mapping[str, str] = field(default_factory=dict)
    skip_labels: tuple[str, ...] = ()

    @property
    def field_names(self) -> tuple[str, ...]:
        """One name per text of an example: the input fields, except for multiple choice, whose
        examples hold the context and then one text per choice (``choice0`` ... ``choice<N-1>``,
        N = the number of labels)."""
        if self.family == "multiple_choice":
            return ("context", *(f"choice{i}" for i in range(len(self.labels))))
        return self.input_fields

    def require_trainable(self) -> None:
        """Refuse tasks that have no data to prepare, train or validate on (retrieval)."""
        if self.family in SCORED_ONLY:
            tool = SCORED_ONLY[self.family]
            raise StiltsError(
                f"task {self.name!r} is a {self.family} task: it has no training data and nothing "
                f"to prepare; score a checkpoint's encoder with `{tool} {self.name} RAW_DIR "
                "--path CHECKPOINT --model-dir PRETRAINED_MODEL_DIR`"
            )

    def canonical_label(self, raw: str) -> str:
        return self.label_aliases.get(raw, raw)


def register_spec(spec: TaskSpec | Callable[[], TaskSpec]) -> TaskSpec:
    """Add a spec to the registry under its name.

    Call it with a spec, or use it as a decorator on a function that returns one.
    """
    if not isinstance(spec, TaskSpec):
        spec = spec()
    if spec.family not in FAMILIES:
        raise StiltsError(f"spec {spec.name!r}: unknown family {spec.family!r}; known: {FAMILIES}")
    task_specs.register(spec.name, func=spec)
    return spec


def get_spec(name: str) -> TaskSpec:
    """Look a spec up by name; unknown names get the list of known ones."""
    import fairseq_stilts.specs  # noqa: F401  (registers the built-in specs)

    try:
        return task_specs.get(name)
    except catalogue.RegistryError:
        raise StiltsError(
            f"unknown task {name!r}; known tasks: {', '.join(sorted(all_specs()))}"
        ) from None


def all_specs() -> dict[str, TaskSpec]:
    import fairseq_stilts.specs  # noqa: F401

    return dict(task_specs.get_all())


def get_reader(name: str) -> Callable:
    import fairseq_stilts.data.readers  # noqa: F401  (registers the built-in readers)

    return readers.get(name)
