"""The results store: rows appended and never rewritten, as JSON lines or SQLite by suffix.

Each evaluation of a grid run appends its rows (one per language and metric). The path's suffix
picks the format: ``.jsonl`` (jsonl_store) or ``.sqlite``, ``.sqlite3``, ``.db`` (sqlite_store).
A row that cannot be read back (a missing or malformed field) is reported with its line number
or rowid and skipped; the other rows are kept.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from fairseq_stilts.errors import StiltsError
from fairseq_stilts.results import jsonl_store, sqlite_store
from fairseq_stilts.results.row import Row, to_row

JSONL_SUFFIXES = (".jsonl",)
SQLITE_SUFFIXES = (".sqlite", ".sqlite3", ".db")


class CorruptRowWarning(UserWarning):
    """A row (line or SQLite row) of a results store that was skipped."""


def _format(path: Path) -> ModuleType:
    """The module that reads and writes the store at ``path``, chosen by its suffix."""
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
