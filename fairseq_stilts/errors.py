"""Errors a user can act on: they name the file and line (or field) at fault."""

from __future__ import annotations

from pathlib import Path


class StiltsError(ValueError):
    """A problem with the user's input or configuration, reported without a traceback."""


class DataError(StiltsError):
    """A problem at one place of one input file."""

    def __init__(self, path: str | Path, message: str, line: int | None = None) -> None:
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {message}")
        self.path = str(path)
        self.line = line
