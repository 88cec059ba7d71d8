"""The results store: one JSON object per line, appended and never rewritten.

Each evaluation of a grid run appends its rows (one per language and metric). A line that cannot
be read back (invalid JSON, a missing or malformed field) is reported with its line number and
skipped; the other rows are kept.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
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


class CorruptRowWarning(UserWarning):
    """A line of a results store that was skipped."""


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
        raise StiltsError(f"results row has unknown field(s) {', '.join(unknown)}; valid: {', '.join(FIELDS)}")  # fmt: skip
    for name in _TEXT:
        if not isinstance(data[name], str) or not data[name]:
            raise StiltsError(f"results row field {name!r} must be a non-empty string, got {data[name]!r}")  # fmt: skip
    languages = data["intermediate_languages"]
    if not isinstance(languages, list | tuple) or not all(isinstance(x, str) and x for x in languages):  # fmt: skip
        raise StiltsError(f"results row field 'intermediate_languages' must be a list of language codes, got {languages!r}")  # fmt: skip
    value = data["value"]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise StiltsError(f"results row field 'value' must be a finite number, got {value!r}")
    if isinstance(data["seed"], bool) or not isinstance(data["seed"], int):
        raise StiltsError(f"results row field 'seed' must be an integer, got {data['seed']!r}")
    sha = data["data_manifest_sha256"]
    if sha is not None and (not isinstance(sha, str) or not sha):
        raise StiltsError(f"results row field 'data_manifest_sha256' must be a string or null, got {sha!r}")  # fmt: skip
    return Row(**{**data, "intermediate_languages": tuple(languages), "value": float(value)})


def append_rows(path: str | Path, rows: Iterable[Row | Mapping[str, Any]]) -> None:
    """Append ``rows`` to the store at ``path`` (created if absent), all or none, then fsync.

    Every row is checked before anything is written. A last line left unterminated by an
    interrupted writer is closed first, so that it stays one corrupt line and the new rows are intact.
    """
    checked = [to_row(row) for row in rows]
    if not checked:
        return
    text = "".join(json.dumps(asdict(row), ensure_ascii=False) + "\n" for row in checked)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_file() and path.stat().st_size > 0 and not _ends_with_newline(path):
        text = "\n" + text
    with open(path, "ab") as handle:
        handle.write(text.encode("utf-8"))
        handle.flush()
        os.fsync(handle.fileno())


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"


def load_rows(path: str | Path) -> tuple[list[Row], list[str]]:
    """The readable rows of the store and one ``PATH:LINE: reason`` problem per skipped line."""
    path = Path(path)
    if not path.is_file():
        raise StiltsError(f"no results store at {path}")
    rows: list[Row] = []
    problems: list[str] = []
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                rows.append(to_row(json.loads(line)))
            except json.JSONDecodeError as err:
                problems.append(f"{path}:{number}: invalid JSON ({err.msg}); line skipped")
            except StiltsError as err:
                problems.append(f"{path}:{number}: {err}; line skipped")
    return rows, problems


def read_rows(path: str | Path) -> list[Row]:
    """The readable rows of the store; each skipped line is reported as a CorruptRowWarning."""
    rows, problems = load_rows(path)
    for problem in problems:
        warnings.warn(problem, CorruptRowWarning, stacklevel=2)
    return rows
