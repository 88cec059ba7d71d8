"""``manifest.json``: the one contract between stilts-prepare and the tasks that read its folders.

Written and read only here. ``format`` is bumped whenever the layout of a prepared folder
changes; a folder of another format is refused with a message to prepare it again.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from fairseq_stilts.data.prepare.subsets import Part, train_language_counts
from fairseq_stilts.errors import StiltsError
from fairseq_stilts.registry import TaskSpec
from fairseq_stilts.runtime import DICT_FILE, SPM_FILE, __version__, file_sha256

MANIFEST = "manifest.json"
FORMAT = 2  # 1: the untyped manifests of fairseq-stilts 0.1.0 before the Manifest record


@dataclass(frozen=True)
class SubsetInfo:
    """One fairseq subset: its examples, those skipped while reading, its stored rows where
    an example takes several (tagging: sentence pieces; span QA: windows), and whether it has
    gold labels (a test set without them is predicted, never scored)."""

    count: int
    skipped: int = 0
    rows: int | None = None
    labelled: bool = True


@dataclass(frozen=True)
class SourceInfo:
    """One raw file (or dataset split) that went into the folder; ``skipped`` counts what was
    left out (examples without a gold label, blank lines of masked-LM text)."""

    path: str
    split: str
    lang: str
    count: int
    sha256: str | None
    skipped: int = 0


@dataclass(frozen=True)
class Manifest:
    """What a prepared data folder holds.

    ``languages`` lists the languages of each raw split (train, dev, test); ``train_languages``
    the training examples per language, in the order of the ``train`` subset. The last group of
    fields is what some families record about how they cut the data: ``max_seq_length``
    (tagging, span QA: the longest row), ``doc_stride``, ``max_query_length``, ``no_answer``
    (span QA: windows and unanswerable training questions), ``valid_every`` (masked-LM: every
    N-th sentence held out).
    """

    task: str
    family: str
    subsets: dict[str, SubsetInfo]
    languages: dict[str, list[str]]
    sources: list[SourceInfo]
    dictionary_sha256: str
    sentencepiece_sha256: str
    input_fields: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    train_languages: dict[str, int] | None = None
    max_seq_length: int = 0
    doc_stride: int = 0
    max_query_length: int = 0
    no_answer: bool = False
    valid_every: int = 0
    created_by: str = f"fairseq-stilts {__version__}"
    format: int = FORMAT

    def languages_of(self, split: str) -> list[str]:
        """Languages of ``split`` as stilts-eval names it: ``valid`` (dev) or ``test``."""
        return self.languages["dev" if split == "valid" else split]

    def to_json(self) -> dict:
        """The manifest as ``manifest.json`` holds it (a subset's ``rows`` only where set)."""
        raw = dataclasses.asdict(self)
        for info in raw["subsets"].values():
            if info["rows"] is None:
                del info["rows"]
        return raw

    def write(self, folder: Path) -> None:
        text = json.dumps(self.to_json(), indent=2, ensure_ascii=False)
        (Path(folder) / MANIFEST).write_text(text + "\n", encoding="utf-8")


def build_manifest(
    spec: TaskSpec,
    subsets: dict[str, list[Part]],
    model_dir: Path,
    rows: dict[str, int] | None = None,
    **family_fields,
) -> Manifest:
    """The manifest of a folder holding ``subsets``, encoded with the model folder
    ``model_dir``; ``rows`` gives each subset's stored rows where an example takes several,
    ``family_fields`` the family's own fields (see :class:`Manifest`)."""
    sources = {
        p.origin: SourceInfo(
            path=p.origin,
            split=p.split,
            lang=p.lang,
            count=len(p.examples),
            sha256=file_sha256(p.origin) if Path(p.origin).is_file() else None,
            skipped=p.skipped,
        )
        for members in subsets.values()
        for p in members
    }
    family_fields.setdefault("input_fields", list(spec.field_names))
    family_fields.setdefault("labels", list(spec.labels))
    return Manifest(
        task=spec.name,
        family=spec.family,
        subsets={
            name: SubsetInfo(
                count=sum(len(p.examples) for p in members),
                skipped=sum(p.skipped for p in members),
                rows=(rows or {}).get(name),
                labelled=_labelled(name, members),
            )
            for name, members in subsets.items()
        },
        languages={
            split: sorted({p.lang for ps in subsets.values() for p in ps if p.split == split})
            for split in ("train", "dev", "test")
        },
        train_languages=train_language_counts(subsets["train"]),
        sources=[sources[path] for path in sorted(sources)],
        dictionary_sha256=file_sha256(Path(model_dir) / DICT_FILE),
        sentencepiece_sha256=file_sha256(Path(model_dir) / SPM_FILE),
        **family_fields,
    )


def _labelled(subset: str, members: list[Part]) -> bool:
    """Whether the subset has gold labels: all of its files, or none of them."""
    without = [p.origin for p in members if not p.labelled]
    if without and len(without) < len(members):
        with_labels = [p.origin for p in members if p.labelled]
        raise StiltsError(
            f"subset {subset!r} mixes files without gold labels ({', '.join(without)}) and "
            f"with them ({', '.join(with_labels)})"
        )
    return not without


def read_manifest(data: str | Path, task: str) -> Manifest:
    """The manifest of a data folder made by stilts-prepare for ``task``."""
    path = Path(data) / MANIFEST
    if not path.is_file():
        raise StiltsError(f"{path}: not found; make the data folder with stilts-prepare {task}")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise StiltsError(f"{path}: not a manifest written by stilts-prepare ({err})") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        found = raw.get("format", 1) if isinstance(raw, dict) else "?"
        raise StiltsError(
            f"{path}: the folder was prepared by another version of stilts-prepare (format "
            f"{found}; this version reads {FORMAT}): prepare it again with stilts-prepare {task}"
        )
    if raw.get("task") != task:
        raise StiltsError(f"{path}: data was prepared for task {raw.get('task')!r}, not {task!r}")
    known = {f.name for f in dataclasses.fields(Manifest)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise StiltsError(f"{path}: unknown field(s) {unknown}")
    raw["subsets"] = {name: SubsetInfo(**info) for name, info in raw["subsets"].items()}
    raw["sources"] = [SourceInfo(**info) for info in raw["sources"]]
    return Manifest(**raw)
