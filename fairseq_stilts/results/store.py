"""The results store: rows appended and never rewritten, as JSON lines or SQLite by suffix.

Each evaluation of a grid run appends its rows (one per language and metric). The path's suffix
picks the format: ``.jsonl`` (jsonl_store) or ``.sqlite``, ``.sqlite3``, ``.db`` (sqlite_store).
A row that cannot be read back (a missing or malformed field) is reported with its line number
or rowid and skipped; the other rows are kept.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from types import ModuleType
from typing import Any

from fairseq_stilts.errors import StiltsError


@dataclass(frozen=True)
class Row:
    """One metric value of one language, from one evaluation of one grid run."""

    run: str
    setting: str  # intermediate setting: "none", "mnli", "mnli-multilingual", "multitask", ...
    intermediate_languages: tuple[str, ...]
    target: str
    language: str
    split: str
    metric: str
    value: float
    seed: int
    checkpoint: str
    data_manifest_sha256: str | None  # None where nothing was prepared (retrieval reads raw files)


FIELDS = tuple(f.name for f in fields(Row))
_TEXT = ("run", "setting", "target", "language", "split", "metric", "checkpoint")
JSONL_SUFFIXES = (".jsonl",)
SQLITE_SUFFIXES = (".sqlite", ".sqlite3", ".db")


class CorruptRowWarning(UserWarning):
    """A row (line or SQLite row) of a results store that was skipped."""


def to_row(data: Row | Mapping[str, Any]) -> Row:
    """Check one row's fields and return it as a Row; a StiltsError names the bad field."""
    if isinstance(data, Row):
        data = asdict(data)
    if not isinstance(data, Mapping):
        raise StiltsError(f"a results row must be a JSON object, not {type(data).__name__}")
    missing = [name for name in FIELDS if name not in data]
    if missing:
        raise StiltsError(f"results row lacks field(s) {', '.join(missing)}")
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise StiltsError(
            f"results row has unknown field(s) {', '.join(unknown)}; valid: {', '.join(FIELDS)}"
        )
    for name in _TEXT:
        if not isinstance(data[name], str) or not data[name]:
            raise StiltsError(
                f"results row field {name!r} must be a non-empty string, got {data[name]!r}"
            )
    languages = data["intermediate_languages"]
    if not isinstance(languages, list | tuple) or not all(
        isinstance(x, str) and x for x in languages
    ):
        raise StiltsError(
            f"results row field 'intermediate_languages' must be a list of language codes, got {languages!r}"
        )
    value = data["value"]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise StiltsError(f"results row field 'value' must be a finite number, got {value!r}")
    if isinstance(data["seed"], bool) or not isinstance(data["seed"], int):
        raise StiltsError(f"results row field 'seed' must be an integer, got {data['seed']!r}")
    sha = data["data_manifest_sha256"]
    if sha is not None and (not isinstance(sha, str) or not sha):
        raise StiltsError(
            f"results row field 'data_manifest_sha256' must be a string or null, got {sha!r}"
        )
    return Row(**{**data, "intermediate_languages": tuple(languages), "value": float(value)})


def _format(path: Path) -> ModuleType:
    """The module that reads and writes the store at ``path``, chosen by its suffix."""
    # imported here: both import Row and to_row from this module
    from fairseq_stilts.results import jsonl_store, sqlite_store

    if path.suffix in JSONL_SUFFIXES:
        return jsonl_store
    if path.suffix in SQLITE_SUFFIXES:
        return sqlite_store
    valid = ", ".join(JSONL_SUFFIXES + SQLITE_SUFFIXES)
    raise StiltsError(
        f"results store {path}: unknown suffix {path.suffix or '(none)'!r}; valid: {valid}"
    )


def append_rows(path: str | Path, rows: Iterable[Row | Mapping[str, Any]]) -> None:
    """Append ``rows`` to the store at ``path`` (created if absent), all or none, durably.

    Every row is checked before anything is written.
    """
    path = Path(path)
    store = _format(path)
    checked = [to_row(row) for row in rows]
    if checked:
        store.append(path, checked)


def load_rows(path: str | Path) -> tuple[list[Row], list[str]]:
    """The readable rows of the store and one problem (``PATH:LINE: reason`` for JSON lines,
    ``PATH: row ROWID: reason`` for SQLite) per skipped row."""
    path = Path(path)
    store = _format(path)
    if not path.is_file():
        raise StiltsError(f"no results store at {path}")
    return store.load(path)


def read_rows(path: str | Path) -> list[Row]:
    """The readable rows of the store; each skipped row is reported as a CorruptRowWarning."""
    rows, problems = load_rows(path)
    for problem in problems:
        warnings.warn(problem, CorruptRowWarning, stacklevel=2)
    return rows
