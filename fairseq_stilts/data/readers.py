"""Readers turn one raw file into examples; each error names the file and line.

A reader yields :class:`Example` records holding the raw strings of the spec's fields; checking
labels and texts against the spec is left to :mod:`fairseq_stilts.data.examples`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from fairseq_stilts.errors import DataError
from fairseq_stilts.registry import readers


@dataclass(frozen=True)
class Example:
    """One labelled input: texts in the spec's field order, the raw label, where it came from."""

    texts: tuple[str, ...]
    label: str
    path: str
    line: int


def read_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield (line number, text) of a UTF-8 file, without line endings."""
    if not path.is_file():
        raise DataError(path, "file not found")
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise DataError(
                    path,
                    f"not valid UTF-8 (byte {raw[err.start]:#04x} at column {err.start + 1})",
                    number,
                ) from None
            yield number, text.rstrip("\r\n")


@readers.register("tsv")
def read_tsv(
    path: Path, columns: Mapping[str, str | int], fields: tuple[str, ...], header: bool
) -> Iterator[Example]:
    """Tab-separated rows, columns chosen by header name (GLUE) or by index (XTREME)."""
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
    for number, text in lines:
        if not text.strip():
            continue
        row = text.split("\t")
        if len(row) != width:
            raise DataError(
                path, f"expected {width} tab-separated columns, found {len(row)}", number
            )
        yield Example(tuple(row[index[f]] for f in fields), row[index["label"]], str(path), number)


@readers.register("jsonl")
def read_jsonl(
    path: Path, columns: Mapping[str, str | int], fields: tuple[str, ...], header: bool
) -> Iterator[Example]:
    """One JSON object per line (SNLI, ANLI, ...), fields chosen by key."""
    for number, text in read_lines(path):
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as err:
            raise DataError(path, f"invalid JSON: {err.msg}", number) from None
        if not isinstance(record, dict):
            raise DataError(path, f"expected a JSON object, found {type(record).__name__}", number)
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
