"""The JSON-lines results store: one JSON object per line, appended and never rewritten.

A line that cannot be read back (invalid JSON, a missing or malformed field) is reported with
its line number and skipped; the other rows are kept.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

from fairseq_stilts.errors import StiltsError
from fairseq_stilts.results.row import Row, to_row


def append(path: Path, rows: Sequence[Row]) -> None:
    """Append the checked ``rows`` in one write, then fsync.

    A last line left unterminated by an interrupted writer is closed first, so that it stays one
    corrupt line and the new rows are intact.
    """
    text = "".join(json.dumps(asdict(row), ensure_ascii=False) + "\n" for row in rows)
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


def load(path: Path) -> tuple[list[Row], list[str]]:
    """The readable rows of an existing store and one ``PATH:LINE: reason`` per skipped line."""
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
