"""The SQLite results store: one ``results`` table, rows only ever inserted.

Each append is one transaction (all rows or none); concurrent writers wait for each other through
SQLite's busy timeout. A row that cannot be read back (a field edited to NULL or to the wrong
type, invalid JSON in ``intermediate_languages``) is reported with its rowid and skipped; the
other rows are kept.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import asdict
from pathlib import Path

from fairseq_stilts.errors import StiltsError
from fairseq_stilts.results.row import FIELDS, Row, to_row

TABLE = "results"
BUSY_TIMEOUT_S = 60.0  # a concurrent writer holds the lock for one short transaction
_HEADER = b"SQLite format 3\x00"
_TYPES = {"intermediate_languages": "TEXT", "value": "REAL", "seed": "INTEGER"}  # others TEXT
_COLUMNS = ", ".join(f"{name} {_TYPES.get(name, 'TEXT')}" for name in FIELDS)
_CREATE = f"CREATE TABLE IF NOT EXISTS {TABLE} (rowid INTEGER PRIMARY KEY, {_COLUMNS})"
_INSERT = f"INSERT INTO {TABLE} ({', '.join(FIELDS)}) VALUES ({', '.join('?' * len(FIELDS))})"
_SELECT = f"SELECT rowid, {', '.join(FIELDS)} FROM {TABLE} ORDER BY rowid"


@contextmanager
def _connect(path: Path, create: bool) -> Iterator[sqlite3.Connection]:
    """A connection in autocommit mode (transactions are explicit); SQLite errors name ``path``.

    Without ``create`` the file must exist. Both modes open it for writing, so that a reader can
    roll back the journal of a writer that died mid-transaction.
    """
    if path.is_file() and path.stat().st_size > 0:
        with open(path, "rb") as handle:
            if handle.read(len(_HEADER)) != _HEADER:
                raise StiltsError(f"results store {path} is not a SQLite database")
    target = f"{path.resolve().as_uri()}?mode={'rwc' if create else 'rw'}"
    try:
        connection = sqlite3.connect(target, timeout=BUSY_TIMEOUT_S, isolation_level=None, uri=True)
        with closing(connection):
            yield connection
    except sqlite3.Error as err:
        raise StiltsError(f"results store {path}: SQLite error: {err}") from err


def _check_columns(connection: sqlite3.Connection, path: Path) -> None:
    columns = {info[1] for info in connection.execute(f"PRAGMA table_info({TABLE})")}
    if not columns:
        raise StiltsError(f"results store {path} has no {TABLE!r} table")
    missing = [name for name in FIELDS if name not in columns]
    if missing:
        raise StiltsError(
            f"results store {path}: table {TABLE!r} lacks column(s) {', '.join(missing)}"
        )


def _values(row: Row) -> tuple[object, ...]:
    data = asdict(row)
    data["intermediate_languages"] = json.dumps(
        list(row.intermediate_languages), ensure_ascii=False
    )
    return tuple(data[name] for name in FIELDS)


def append(path: Path, rows: Sequence[Row]) -> None:
    """Insert the checked ``rows`` in one transaction: all of them or, on any error, none."""
    values = [_values(row) for row in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    with _connect(path, create=True) as connection:
        connection.execute("BEGIN IMMEDIATE")  # take the write lock now, waiting for other writers
        try:
            connection.execute(_CREATE)
            _check_columns(connection, path)
            connection.executemany(_INSERT, values)
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise


def load(path: Path) -> tuple[list[Row], list[str]]:
    """The readable rows of an existing store and one ``PATH: row ROWID: reason`` per skipped row."""
    rows: list[Row] = []
    problems: list[str] = []
    with _connect(path, create=False) as connection:
        _check_columns(connection, path)
        for rowid, *values in connection.execute(_SELECT):
            data = dict(zip(FIELDS, values, strict=True))
            try:
                if isinstance(data["intermediate_languages"], str):
                    data["intermediate_languages"] = json.loads(data["intermediate_languages"])
                rows.append(to_row(data))
            except json.JSONDecodeError as err:
                problems.append(
                    f"{path}: row {rowid}: invalid JSON in 'intermediate_languages' ({err.msg}); row skipped"
                )
            except StiltsError as err:
                problems.append(f"{path}: row {rowid}: {err}; row skipped")
    return rows, problems
