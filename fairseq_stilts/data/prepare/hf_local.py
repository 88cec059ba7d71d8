"""Read a local Hugging Face dataset (a ``save_to_disk`` folder or parquet files); no hub access.

Errors name the dataset folder and split (``PATH[split]``) and, as the line, the row's number
counted from 1. Column layouts are those of the Hub's copies: see :data:`COLUMN_CANDIDATES`,
:data:`CHOICE_LAYOUTS` and :func:`read_hf_tagged`. Rows without a gold label (``-1``, empty or
null: how the Hub's test splits come) are marked :data:`UNLABELLED`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fairseq_stilts.data.prepare.readers import (
    Example,
    TaggedSentence,
    as_text,
    choice_example,
    hellaswag_parts,
)
from fairseq_stilts.errors import DataError, StiltsError

# Column names used by the Hub's copies of GLUE, SNLI, ANLI, XNLI and PAWS-X.
COLUMN_CANDIDATES = {
    "sentence1": ("sentence1", "premise", "question1"),
    "sentence2": ("sentence2", "hypothesis", "question2"),
    "sentence": ("sentence",),
}
SPLIT_NAMES = {"train": "train", "validation": "dev", "dev": "dev", "test": "test"}
UNLABELLED = "-1"  # the Hub's datasets mark examples without a gold label with -1
# Tag columns of the Hub's xtreme configs: ``udpos.<Language>`` (pos_tags), ``PAN-X.<lang>``
# (ner_tags); CCGbank is not on the Hub, so a CCG dataset is assumed to hold ``tags`` (strings).
TAG_COLUMNS = ("pos_tags", "ner_tags", "tags")

Row = dict


@dataclass(frozen=True)
class Split:
    """The rows of one split, with the ClassLabel names of each column that has them."""

    name: str
    origin: str
    rows: list[Row]
    columns: list[str]
    class_names: dict[str, list[str]]


def load_splits(path: Path) -> list[Split]:
    """The train, dev and test splits of a local dataset folder (at least one)."""
    if not path.exists():
        raise DataError(path, "local Hugging Face dataset not found")
    splits = _load_splits(path)
    if not splits:
        raise DataError(path, f"no split named any of {sorted(SPLIT_NAMES)}")
    return splits


def read_hf_local(path: Path, fields: tuple[str, ...]) -> dict[str, list[Example]]:
    """Examples of each split ("train", "dev", "test") of a local classification dataset."""
    out = {}
    for split in load_splits(path):
        columns = {}
        for name in fields:
            found = [c for c in COLUMN_CANDIDATES.get(name, (name,)) if c in split.columns]
            if not found:
                raise DataError(
                    path,
                    f"split {split.name!r} has no column for field {name!r}; "
                    f"columns: {split.columns}",
                )
            columns[name] = found[0]
        if "label" not in split.columns:
            raise DataError(
                path, f"split {split.name!r} has no 'label' column; columns: {split.columns}"
            )
        label_names = split.class_names.get("label")
        examples = []
        for number, row in enumerate(split.rows, start=1):
            label = row["label"]
            if label_names is not None and isinstance(label, int) and label >= 0:
                label = label_names[label]
            texts = tuple(as_text(row[columns[name]]) for name in fields)
            examples.append(Example(texts, str(label), split.origin, number))
        out[SPLIT_NAMES[split.name]] = examples
    return out


# Multiple choice: per raw-file reader of a spec, a function of (row, number of choices, where,
# row number) returning (context, choices, label) as the reader's record would give them.
ChoiceRow = Callable[[Row, int, str, int], tuple[str, list, object]]


def _column(row: Row, name: str, where: str, number: int):
    if name not in row:
        raise DataError(where, f"no column {name!r}; columns: {sorted(row)}", number)
    return row[name]


def _hellaswag_row(row: Row, n: int, where: str, number: int) -> tuple[str, list, object]:
    """``Rowan/hellaswag``: the JSONL files' fields (``ctx``, ``endings``, ``label``)."""
    return hellaswag_parts(row, where, number)


def _commonsenseqa_row(row: Row, n: int, where: str, number: int) -> tuple[str, list, object]:
    """``tau/commonsense_qa``: ``question``, ``choices`` ({``label``: [A..E], ``text``: [...]}),
    ``answerKey`` (one of the choice labels)."""
    question = _column(row, "question", where, number)
    choices = _column(row, "choices", where, number)
    if not (
        isinstance(choices, dict)
        and isinstance(choices.get("label"), list)
        and isinstance(choices.get("text"), list)
        and len(choices["label"]) == len(choices["text"])
    ):
        raise DataError(
            where, "column 'choices' must hold equally long lists 'label' and 'text'", number
        )
    answer = _column(row, "answerKey", where, number)
    if _unlabelled(answer):
        return question, choices["text"], answer
    keys = [str(k) for k in choices["label"]]
    if len(keys) == n and str(answer) not in keys:
        raise DataError(
            where, f"answerKey {answer!r} is not one of the choice labels {keys}", number
        )
    gold = keys.index(str(answer)) if str(answer) in keys else -1
    return question, choices["text"], gold


def _cosmosqa_row(row: Row, n: int, where: str, number: int) -> tuple[str, list, object]:
    """``cosmos_qa``: ``context`` + " " + ``question``, ``answer0``..``answer3``, ``label``."""
    answers = [f"answer{i}" for i in range(n)]
    extra = [k for k in row if k.startswith("answer") and k not in answers]
    if extra:
        raise DataError(
            where,
            f"found {n + len(extra)} choices; every example of this task has {n}",
            number,
        )
    context = as_text(_column(row, "context", where, number))
    question = as_text(_column(row, "question", where, number))
    choices = [_column(row, k, where, number) for k in answers]
    return f"{context} {question}".strip(), choices, _column(row, "label", where, number)


CHOICE_LAYOUTS: dict[str, ChoiceRow] = {
    "hellaswag_jsonl": _hellaswag_row,
    "commonsenseqa_jsonl": _commonsenseqa_row,
    "cosmosqa": _cosmosqa_row,
}


def read_hf_choices(path: Path, reader: str, fields: tuple[str, ...]) -> dict[str, list[Example]]:
    """Examples of each split of a local multiple-choice dataset, for a spec whose raw files are
    read by ``reader``; ``fields`` is the spec's field names (context, then one per choice)."""
    if reader not in CHOICE_LAYOUTS:
        raise StiltsError(
            f"--hf: no Hugging Face column layout for multiple-choice reader {reader!r} "
            f"(known: {', '.join(CHOICE_LAYOUTS)})"
        )
    read_row = CHOICE_LAYOUTS[reader]
    out = {}
    for split in load_splits(path):
        examples = []
        for number, row in enumerate(split.rows, start=1):
            context, choices, label = read_row(row, len(fields) - 1, split.origin, number)
            if _unlabelled(label):
                texts = (as_text(context), *(as_text(c) for c in choices))
                examples.append(Example(texts, UNLABELLED, split.origin, number))
            else:
                examples.append(
                    choice_example(context, choices, label, fields, split.origin, number)
                )
        out[SPLIT_NAMES[split.name]] = examples
    return out


def read_hf_tagged(path: Path) -> dict[str, list[TaggedSentence]]:
    """Sentences of each split of a local tagging dataset: ``tokens`` (strings) and the first of
    :data:`TAG_COLUMNS` present, strings or ClassLabel ids (mapped through the label names)."""
    out = {}
    for split in load_splits(path):
        tag_columns = [c for c in TAG_COLUMNS if c in split.columns]
        if "tokens" not in split.columns or not tag_columns:
            raise DataError(
                split.origin,
                f"expected a 'tokens' column and one of {list(TAG_COLUMNS)}; "
                f"columns: {split.columns}",
            )
        tag_column = tag_columns[0]
        names = split.class_names.get(tag_column)
        sentences = []
        for number, row in enumerate(split.rows, start=1):
            tokens, tags = row["tokens"] or [], row[tag_column] or []
            if len(tokens) != len(tags):
                raise DataError(
                    split.origin, f"{len(tokens)} tokens but {len(tags)} {tag_column}", number
                )
            if not tokens:
                raise DataError(split.origin, "sentence without tokens", number)
            if names is not None:
                tags = [names[t] if isinstance(t, int) and 0 <= t < len(names) else t for t in tags]
            tokens = tuple(as_text(t).strip() for t in tokens)
            tags = tuple(as_text(t).strip() for t in tags)
            if not all(tokens):
                raise DataError(split.origin, "empty token", number)
            if not all(tags):
                raise DataError(split.origin, "empty tag", number)
            sentences.append(TaggedSentence(tokens, tags, split.origin, (number,) * len(tokens)))
        out[SPLIT_NAMES[split.name]] = sentences
    return out


def _unlabelled(label) -> bool:
    return label is None or str(label).strip() in ("", UNLABELLED)


def _load_splits(path: Path) -> list[Split]:
    import datasets

    parquet = sorted(path.glob("*.parquet"))
    if parquet:
        import pyarrow.parquet as pq

        out = []
        for name in SPLIT_NAMES:
            files = [f for f in parquet if f.name.split("-")[0].split(".")[0] == name]
            if files:
                rows = [r for f in files for r in _parquet_rows(f)]
                # datasets keeps its features (ClassLabel names) in the schema's metadata
                features = datasets.Features.from_arrow_schema(pq.read_schema(files[0]))
                out.append(_split(path, name, rows, list(features), features))
        return out
    try:
        loaded = datasets.load_from_disk(str(path))
    except FileNotFoundError as err:
        raise DataError(path, f"not a save_to_disk folder nor parquet files ({err})") from None
    if isinstance(loaded, datasets.Dataset):
        loaded = {"train": loaded}
    return [
        _split(path, name, ds.to_list(), list(ds.column_names), ds.features)
        for name, ds in loaded.items()
        if name in SPLIT_NAMES
    ]


def _parquet_rows(path: Path) -> list[Row]:
    import pyarrow
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path).to_pylist()
    except (pyarrow.ArrowException, OSError) as err:
        raise DataError(path, f"not a readable parquet file ({err})") from None


def _split(path: Path, name: str, rows: list[Row], columns: list[str], features) -> Split:
    """A split, with the names of each ClassLabel column or list-of-ClassLabel column."""
    class_names = {}
    for column, feature in features.items():
        names = getattr(feature, "names", None) or getattr(
            getattr(feature, "feature", None), "names", None
        )
        if names:
            class_names[column] = list(names)
    return Split(name, f"{path}[{name}]", rows, columns, class_names)
