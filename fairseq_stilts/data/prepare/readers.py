"""Readers turn one raw file into examples; each error names the file and line.

A reader yields :class:`Example` records holding the raw strings of the spec's fields; checking
labels and texts against the spec is left to :mod:`fairseq_stilts.data.prepare.examples`.
"""

from __future__ import annotations

import codecs
import csv
import json
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import catalogue

from fairseq_stilts.errors import DataError

readers = catalogue.create("fairseq_stilts", "readers")


def get_reader(name: str) -> Callable:
    """The reader registered under ``name`` (a :class:`~fairseq_stilts.registry.Source`'s)."""
    return readers.get(name)


@dataclass(frozen=True)
class Example:
    """One input: texts in the spec's field order, the raw label (None: the file has no label
    column, as XTREME's test files), where it came from."""

    texts: tuple[str, ...]
    label: str | None
    path: str
    line: int


def require_file(path: Path) -> None:
    """Refuse a path that is not a readable file, saying what it is instead."""
    path = Path(path)
    if path.is_file():
        return
    if path.is_symlink():
        raise DataError(path, f"dangling symbolic link (its target {os.readlink(path)} is missing)")
    if path.is_dir():
        raise DataError(path, "is a folder, not a file")
    raise DataError(path, "file not found")


def read_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield (line number, text) of a UTF-8 file, without line endings (CRLF too) and without a
    leading byte-order mark; a NUL byte is an error. Read and decoded in blocks of whole lines."""
    require_file(path)
    number = 0
    with path.open("rb") as handle:
        rest = handle.read(max(BLOCK, 3)).removeprefix(codecs.BOM_UTF8)
        while True:
            more = handle.read(BLOCK)
            end = len(rest) if not more else rest.rfind(b"\n") + 1  # whole lines only
            for text in _decode(path, rest[:end], number):
                number += 1
                yield number, text.rstrip("\r")
            if not more:
                return
            rest = rest[end:] + more


BLOCK = 1 << 22  # bytes read at once


def _decode(path: Path, block: bytes, before: int) -> list[str]:
    """The lines of ``block`` (whole lines) after line ``before``; bad UTF-8 or a NUL byte is
    an error naming its line and column."""
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError as err:
        column = err.start - (block.rfind(b"\n", 0, err.start) + 1) + 1
        raise DataError(
            path,
            f"not valid UTF-8 (byte {block[err.start]:#04x} at column {column})",
            before + block.count(b"\n", 0, err.start) + 1,
        ) from None
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()  # the end of the last line, or of an empty block
    if "\x00" in text:
        index = next(i for i, line in enumerate(lines) if "\x00" in line)
        raise DataError(
            path, f"NUL byte at column {lines[index].index(chr(0)) + 1}", before + index + 1
        )
    return lines


def json_records(path: Path) -> Iterator[tuple[int, dict]]:
    """(line number, object) of each non-blank line of a JSONL file."""
    for number, text in read_lines(path):
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as err:
            raise DataError(path, f"invalid JSON: {err.msg}", number) from None
        if not isinstance(record, dict):
            raise DataError(path, f"expected a JSON object, found {type(record).__name__}", number)
        yield number, record


@readers.register("tsv")
def read_tsv(
    path: Path, columns: Mapping[str, str | int], fields: tuple[str, ...], header: bool
) -> Iterator[Example]:
    """Tab-separated rows, columns chosen by header name (GLUE) or by index (XTREME).

    Without a header, a file whose first row lacks just the last column, the label, is an
    unlabelled file (XTREME's test sets): every row of it must lack the label.
    """
    lines = read_lines(path)
    if header:
        _, head = next(lines, (1, None))
        if head is None:
            raise DataError(path, "empty file: expected a header row", 1)
        names = head.split("\t")
        missing = [c for c in columns.values() if c not in names]
        if missing:
            raise DataError(path, f"header lacks column(s) {missing}; it has {names}", 1)
        width = len(names)
        index = {key: names.index(col) for key, col in columns.items()}
    else:
        index = dict(columns)
        width = max(index.values()) + 1
    labelled: bool | None = None if not header and index["label"] == width - 1 else True
    for number, text in lines:
        if not text.strip():
            continue
        row = text.split("\t")
        if labelled is None:
            labelled = len(row) != width - 1
        expected = width if labelled else width - 1
        if len(row) != expected:
            kind = "" if labelled else " (an unlabelled file, as its first row)"
            raise DataError(
                path, f"expected {expected} tab-separated columns{kind}, found {len(row)}", number
            )
        label = row[index["label"]] if labelled else None
        yield Example(tuple(row[index[f]] for f in fields), label, str(path), number)


@readers.register("jsonl")
def read_jsonl(
    path: Path, columns: Mapping[str, str | int], fields: tuple[str, ...], header: bool
) -> Iterator[Example]:
    """One JSON object per line (SNLI, ANLI, ...), fields chosen by key."""
    for number, record in json_records(path):
        missing = [columns[k] for k in (*fields, "label") if columns[k] not in record]
        if missing:
            raise DataError(path, f"missing field(s) {missing}", number)
        yield Example(
            tuple(as_text(record[columns[f]]) for f in fields),
            str(record[columns["label"]]),
            str(path),
            number,
        )


def as_text(value) -> str:
    """A JSON or dataset value as text; null counts as empty."""
    return "" if value is None else str(value)


@readers.register("lines")
def read_sentence_lines(
    path: Path, columns: Mapping[str, str | int], fields: tuple[str, ...], header: bool
) -> Iterator[Example]:
    """One sentence per line (Tatoeba); every line counts, so an empty one is an error."""
    for number, text in read_lines(path):
        if not text.strip():
            raise DataError(path, "empty sentence (line i must translate line i)", number)
        yield Example((text,), "", str(path), number)


@readers.register("id_tsv")
def read_id_tsv(
    path: Path, columns: Mapping[str, str | int], fields: tuple[str, ...], header: bool
) -> Iterator[Example]:
    """BUCC rows: ``id<TAB>sentence`` or gold ``id_l<TAB>id_en``; texts follow ``columns``' order.

    Blank lines are skipped; a row without exactly the expected tab-separated columns, or with an
    empty one, is an error.
    """
    names = list(columns)
    width = max(columns.values()) + 1
    for number, text in read_lines(path):
        if not text.strip():
            continue
        row = text.split("\t")
        if len(row) != width:
            found = "no tab" if len(row) == 1 else f"{len(row)} tab-separated columns"
            raise DataError(path, f"expected {' <TAB> '.join(names)}, found {found}", number)
        cells = tuple(row[columns[name]].strip() for name in names)
        empty = [name for name, cell in zip(names, cells, strict=True) if not cell]
        if empty:
            raise DataError(path, f"empty {', '.join(empty)}", number)
        yield Example(cells, "", str(path), number)


# Multiple choice (HellaSwag, CommonsenseQA, Cosmos QA). ``fields`` is the spec's field names:
# the context, then one per choice, so every example must have ``len(fields) - 1`` choices.
# The label is the gold choice's index as text ("0".."N-1").


def _field(record: Mapping, key: str, path: Path | str, number: int):
    """``record[key]``, where ``key`` may be dotted (``question.stem``)."""
    value = record
    for part in key.split("."):
        if not isinstance(value, Mapping) or part not in value:
            raise DataError(path, f"missing field {key!r}", number)
        value = value[part]
    return value


def choice_example(
    context: str, choices: list, label, fields: tuple[str, ...], path: Path, number: int
) -> Example:
    expected = len(fields) - 1
    if len(choices) != expected:
        raise DataError(
            path,
            f"found {len(choices)} choices; every example of this task has {expected}",
            number,
        )
    if isinstance(label, str) and label.strip().lstrip("-").isdigit():
        label = int(label)
    if isinstance(label, bool) or not isinstance(label, int) or not 0 <= label < expected:
        raise DataError(
            path, f"label {label!r} out of range: expected an integer 0..{expected - 1}", number
        )
    return Example(
        (as_text(context), *(as_text(c) for c in choices)), str(label), str(path), number
    )


@readers.register("hellaswag_jsonl")
def read_hellaswag(
    path: Path, columns: Mapping[str, str | int], fields: tuple[str, ...], header: bool
) -> Iterator[Example]:
    """HellaSwag: ``ctx`` (or ``ctx_a`` + " " + ``ctx_b``), ``endings``, ``label`` (an index)."""
    for number, record in json_records(path):
        context, endings, label = hellaswag_parts(record, path, number)
        yield choice_example(context, endings, label, fields, path, number)


def hellaswag_parts(record: Mapping, where: Path | str, number: int) -> tuple[str, list, object]:
    """A HellaSwag record's context, endings and label; the JSONL files and the
    ``Rowan/hellaswag`` dataset lay them out alike."""
    if record.get("ctx") is not None:
        context = as_text(record["ctx"])
    else:
        parts = [as_text(_field(record, k, where, number)) for k in ("ctx_a", "ctx_b")]
        context = " ".join(p for p in parts if p)
    endings = _field(record, "endings", where, number)
    if not isinstance(endings, list):
        raise DataError(where, "field 'endings' must be a list", number)
    return context, endings, _field(record, "label", where, number)


@readers.register("commonsenseqa_jsonl")
def read_commonsenseqa(
    path: Path, columns: Mapping[str, str | int], fields: tuple[str, ...], header: bool
) -> Iterator[Example]:
    """CommonsenseQA: ``question.stem``, ``question.choices`` ({label, text}), ``answerKey``."""
    for number, record in json_records(path):
        stem = _field(record, "question.stem", path, number)
        choices = _field(record, "question.choices", path, number)
        if not isinstance(choices, list) or not all(
            isinstance(c, Mapping) and "label" in c and "text" in c for c in choices
        ):
            raise DataError(
                path, "field 'question.choices' must be a list of {label, text} objects", number
            )
        keys = [str(c["label"]) for c in choices]
        answer = str(_field(record, "answerKey", path, number))
        if len(keys) == len(fields) - 1 and answer not in keys:
            raise DataError(
                path, f"answerKey {answer!r} is not one of the choice labels {keys}", number
            )
        gold = keys.index(answer) if answer in keys else -1
        yield choice_example(stem, [c["text"] for c in choices], gold, fields, path, number)


@readers.register("cosmosqa")
def read_cosmosqa(
    path: Path, columns: Mapping[str, str | int], fields: tuple[str, ...], header: bool
) -> Iterator[Example]:
    """Cosmos QA, JSONL or CSV (by the file's suffix): ``context``, ``question``,
    ``answer0``..``answer<N-1>``, ``label``; the context read is context + " " + question."""
    answers = [f"answer{i}" for i in range(len(fields) - 1)]
    records = _csv_records(path) if path.suffix.lower() == ".csv" else json_records(path)
    for number, record in records:
        missing = [k for k in ("context", "question", *answers, "label") if k not in record]
        if missing:
            raise DataError(path, f"missing field(s) {missing}", number)
        extra = [k for k in record if k.startswith("answer") and k not in answers]
        if extra:
            raise DataError(
                path,
                f"found {len(answers) + len(extra)} choices; every example of this task has "
                f"{len(answers)}",
                number,
            )
        context = f"{as_text(record['context'])} {as_text(record['question'])}".strip()
        yield choice_example(
            context, [record[k] for k in answers], record["label"], fields, path, number
        )


def _csv_records(path: Path) -> Iterator[tuple[int, dict]]:
    """Rows of a CSV file with a header, as dicts; the line is where the row starts."""
    require_file(path)
    start = 1
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            names = next(reader, None)
            if names is None:
                raise DataError(path, "empty file: expected a header row", 1)
            start = reader.line_num + 1
            for row in reader:
                if row:
                    if len(row) != len(names):
                        raise DataError(
                            path, f"expected {len(names)} columns, found {len(row)}", start
                        )
                    yield start, dict(zip(names, row, strict=True))
                start = reader.line_num + 1
    except UnicodeDecodeError as err:
        raise DataError(path, f"not valid UTF-8 ({err.reason})") from None
    except csv.Error as err:
        raise DataError(path, f"invalid CSV: {err}", start) from None


# Tagging (UDPOS, PANX, CCG): one ``token<TAB>tag`` per line, a blank line between sentences.


@dataclass(frozen=True)
class TaggedSentence:
    """One sentence of a token-tag file: words, raw tags (None: a token-only file), and the line
    of every word."""

    tokens: tuple[str, ...]
    tags: tuple[str, ...] | None
    path: str
    lines: tuple[int, ...]

    @property
    def line(self) -> int:
        return self.lines[0]


@readers.register("token_tags")
def read_token_tags(
    path: Path,
    columns: Mapping[str, str | int],
    fields: tuple[str, ...],
    header: bool,
    lang: str | None = None,
) -> Iterator[TaggedSentence]:
    """Sentences of a token-tag column file.

    Every line holds ``token<TAB>tag``; a file whose first line holds a token alone is a
    token-only file (XTREME's test sets), where every line must. PANX tokens may carry a
    ``<lang>:`` prefix, removed when it is the file's language ``lang``.
    """
    prefix = f"{lang}:" if lang else None
    tokens: list[str] = []
    tags: list[str] = []
    lines: list[int] = []
    labelled: bool | None = None

    def sentence() -> TaggedSentence:
        return TaggedSentence(
            tuple(tokens), tuple(tags) if labelled else None, str(path), tuple(lines)
        )

    for number, text in read_lines(path):
        if not text.strip():
            if tokens:
                yield sentence()
                tokens, tags, lines = [], [], []
            continue
        row = text.split("\t")
        if labelled is None:
            labelled = len(row) != 1
        if len(row) != (2 if labelled else 1):
            found = "no tag (1 column)" if len(row) == 1 else f"{len(row)} columns"
            wanted = (
                "token<TAB>tag"
                if labelled
                else "a token alone (a token-only file, as its first line)"
            )
            raise DataError(path, f"expected {wanted}, found {found}", number)
        token, tag = row[0].strip(), (row[1].strip() if labelled else "-")
        if prefix and token.startswith(prefix) and len(token) > len(prefix):
            token = token[len(prefix) :]
        if not token:
            raise DataError(path, "empty token", number)
        if not tag:
            raise DataError(path, "empty tag", number)
        tokens.append(token)
        tags.append(tag)
        lines.append(number)
    if tokens:
        yield sentence()
