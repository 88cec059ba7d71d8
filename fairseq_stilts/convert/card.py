"""What ``stilts-convert to-hf`` tells about an export: label names from the data folder, the
metrics of a results JSON, and the model card (``README.md``) that says both.

The data folder is the one stilts-prepare made: its ``label/dict.txt`` lists the labels after
fairseq's specials, in the order of the head's outputs; its ``manifest.json`` names the task.
The results JSON is the file stilts-eval writes: a list of rows with ``task``, ``language``,
``split``, ``metric``, ``value`` (and ``checkpoint``, ``data_manifest_sha256``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from fairseq.data import Dictionary

from fairseq_stilts.data.prepare.manifest import MANIFEST, Manifest, read_manifest
from fairseq_stilts.errors import StiltsError
from fairseq_stilts.runtime import file_sha256

LABEL_DICT = Path("label") / "dict.txt"
RESULT_FIELDS = ("task", "language", "split", "metric", "value")
MODEL_CARD = "README.md"


@dataclass(frozen=True)
class DataFolder:
    """A data folder made by stilts-prepare: its manifest, the manifest's sha256, its labels
    (``None`` where it has no ``label/dict.txt``, as span QA and masked-LM folders)."""

    path: Path
    manifest: Manifest
    manifest_sha256: str
    labels: list[str] | None

    @property
    def labels_path(self) -> Path:
        return self.path / LABEL_DICT


def read_data_folder(data: str | Path, head: str) -> DataFolder:
    """The data folder ``data``; its manifest is read for the task it names (for ``head``
    where it names none readable, so that the manifest's own error is reported)."""
    data = Path(data)
    try:
        raw = json.loads((data / MANIFEST).read_text(encoding="utf-8"))
        task = raw["task"] if isinstance(raw.get("task"), str) else head
    except (OSError, UnicodeDecodeError, ValueError, AttributeError, KeyError):
        task = head
    manifest = read_manifest(data, task)
    labels = None
    if (data / LABEL_DICT).is_file():
        try:
            dictionary = Dictionary.load(str(data / LABEL_DICT))
        except (ValueError, RuntimeError, UnicodeDecodeError) as err:
            raise StiltsError(f"{data / LABEL_DICT}: not a fairseq dictionary ({err})") from None
        labels = dictionary.symbols[dictionary.nspecial :]
    return DataFolder(data, manifest, file_sha256(data / MANIFEST), labels)


def read_results(path: str | Path) -> list[dict]:
    """The rows of a results JSON written by stilts-eval, checked."""
    path = Path(path)
    if not path.is_file():
        raise StiltsError(f"{path}: results file not found (the JSON stilts-eval writes)")
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise StiltsError(f"{path}: not a results JSON written by stilts-eval ({err})") from None
    if not isinstance(rows, list) or not rows:
        raise StiltsError(
            f"{path}: expected a non-empty list of result rows, as stilts-eval writes"
        )
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise StiltsError(f"{path}: row {i} is not an object")
        missing = [f for f in RESULT_FIELDS if f not in row]
        if missing:
            raise StiltsError(f"{path}: row {i} has no {', '.join(missing)}")
        value = row["value"]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            raise StiltsError(f"{path}: row {i}: value {value!r} is not a number")
    return rows


@dataclass(frozen=True)
class Export:
    """What the model card says about one export."""

    checkpoint: Path
    model_class: str
    head: str  # a task head's name, or "lm"
    head_text: str  # what the head computes, in a few words
    arch: str
    shape: str  # layers, hidden size, attention heads, vocabulary
    model_dir: Path
    finetuned_from: str | None
    num_outputs: int | None  # a classification head's outputs (labels), else None
    labels: list[str] | None  # their names, from ``data``
    data: DataFolder | None = None
    results: list[dict] = field(default_factory=list)
    results_path: Path | None = None
    versions: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


PIPELINE_TAGS = {
    "XLMRobertaForSequenceClassification": "text-classification",
    "XLMRobertaForTokenClassification": "token-classification",
    "XLMRobertaForQuestionAnswering": "question-answering",
    "XLMRobertaForMaskedLM": "fill-mask",
}


def _results_table(rows: list[dict]) -> list[str]:
    lines = ["| task | language | split | metric | value |", "|---|---|---|---|---|"]
    groups: dict[tuple, list[float]] = {}
    for row in rows:
        key = (str(row["task"]), str(row["split"]), str(row["metric"]))
        groups.setdefault(key, []).append(float(row["value"]))
        lines.append(
            f"| {row['task']} | {row['language']} | {row['split']} | {row['metric']} "
            f"| {float(row['value']):.2f} |"
        )
    for (task, split, metric), values in groups.items():
        if len(values) > 1:
            lines.append(
                f"| {task} | mean of {len(values)} | {split} | {metric} "
                f"| {sum(values) / len(values):.2f} |"
            )
    return lines


def model_card(export: Export) -> str:
    """``README.md`` of the exported folder: model, head, labels, data, results, conversion."""
    e = export
    tag = PIPELINE_TAGS.get(e.model_class)
    lines = ["---", "library_name: transformers"]
    lines += [f"pipeline_tag: {tag}"] if tag else []
    lines += ["tags:", "- xlm-roberta", "- fairseq-stilts", "---", ""]
    lines += [f"# {e.head if e.head != 'lm' else 'XLM-R'} ({e.model_class})", ""]
    lines += [
        f"An XLM-R model trained with fairseq and fairseq-stilts, exported for Hugging Face "
        f"`transformers` as `{e.model_class}`.",
        "",
        "## Model",
        "",
        f"- base model: XLM-R, fairseq architecture `{e.arch}` ({e.shape}); tokenizer: "
        f"`sentencepiece.bpe.model` of `{e.model_dir}`",
    ]
    if e.finetuned_from:
        lines.append(f"- fine-tuned from: `{e.finetuned_from}`")
    lines.append(f"- head: `{e.head}`: {e.head_text}")
    lines.append(f"- checkpoint: `{e.checkpoint}`")
    if e.num_outputs is not None:
        lines += ["", "## Labels", ""]
        if e.labels is not None:
            lines.append(
                f"From `{e.data.labels_path}` (config.json `id2label` / `label2id`):"
                if e.data is not None
                else "config.json `id2label` / `label2id`:"
            )
            lines += ["", "| id | label |", "|---|---|"]
            lines += [f"| {i} | {name} |" for i, name in enumerate(e.labels)]
        else:
            lines.append(
                f"No data folder was given (`--data`): config.json names the {e.num_outputs} "
                f"outputs `LABEL_0` .. `LABEL_{e.num_outputs - 1}`. Output *i* is the *i*-th "
                "label of `label/dict.txt` in the data folder the head was trained on."
            )
    if e.data is not None:
        m = e.data.manifest
        lines += [
            "",
            "## Data",
            "",
            f"- task: `{m.task}` (family `{m.family}`), prepared by {m.created_by}",
            f"- data folder: `{e.data.path}`, `manifest.json` sha256 `{e.data.manifest_sha256}`",
        ]
        for split in ("train", "dev", "test"):
            if m.languages.get(split):
                lines.append(f"- {split} languages: {', '.join(m.languages[split])}")
    if e.results:
        lines += ["", "## Results", ""]
        lines.append(f"From `{e.results_path}` (written by `stilts-eval`):")
        lines += ["", *_results_table(e.results)]
        checkpoints = sorted({str(r["checkpoint"]) for r in e.results if "checkpoint" in r})
        if checkpoints:
            lines += ["", f"Measured on checkpoint {', '.join(f'`{c}`' for c in checkpoints)}."]
        shas = sorted(
            {str(r["data_manifest_sha256"]) for r in e.results if "data_manifest_sha256" in r}
        )
        if shas:
            lines.append(
                f"Data manifest sha256 of the evaluation: {', '.join(f'`{s}`' for s in shas)}."
            )
    versions = ", ".join(f"{name} {version}" for name, version in e.versions.items())
    lines += [
        "",
        "## Conversion",
        "",
        f"Converted with `stilts-convert to-hf` ({versions}). The token-type embedding is zeros "
        "(fairseq has none); dropout is only active in training.",
    ]
    lines += ["", *(f"- {note}" for note in e.notes)] if e.notes else []
    return "\n".join(lines) + "\n"
