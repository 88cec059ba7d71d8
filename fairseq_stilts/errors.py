"""Errors a user can act on: they name the file and line (or field) at fault."""

from __future__ import annotations

import atexit
import os
import sys
from pathlib import Path
from typing import NoReturn


class StiltsError(ValueError):
    """A problem with the user's input or configuration, reported without a traceback."""


def report_user_errors() -> None:
    """Print a StiltsError that ends the program as one line, ``error: ...``, without a traceback;
    also an OSError about a file (a full disk, a missing or unreadable file).

    Installed on import, so that the stock fairseq executables report bad input the way the
    stilts-* commands do, also where fairseq re-raises it inside an exception of its own. Other
    exceptions keep Python's usual report.
    """
    previous = sys.excepthook
    if getattr(previous, "stilts", False):
        return

    def hook(kind, value, traceback):
        cause = value
        while cause is not None and not isinstance(cause, StiltsError):
            cause = cause.__cause__ or cause.__context__  # fairseq wraps some errors in its own
        if cause is not None:
            _exit_with(f"error: {cause}")
        elif isinstance(value, OSError) and value.filename:
            _exit_with(f"error: {os_error_line(value)}")
        else:
            previous(kind, value, traceback)

    hook.stilts = True
    sys.excepthook = hook


def _exit_with(line: str) -> NoReturn:
    """Print ``line``, run the exit handlers, flush, and end with status 1 at once. An error in
    the middle of fairseq-train would otherwise end in interpreter shutdown with torch's
    threads alive, which aborts ("terminate called without an active exception", status 134)."""
    print(line, file=sys.stderr)
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(1)


def os_error_line(err: OSError) -> str:
    """``FILE: reason`` of an OSError (the reason alone where it names no file)."""
    return f"{err.filename}: {err.strerror or err}" if err.filename else str(err)


class DataError(StiltsError):
    """A problem at one place of one input file."""

    def __init__(self, path: str | Path, message: str, line: int | None = None) -> None:
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {message}")
        self.path = str(path)
        self.line = line


def read_json(path: str | Path):
    """A user's JSON file (a UTF-8 BOM is fine), or a DataError naming the file and line."""
    import json

    try:
        return json.loads(Path(path).read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError as err:
        raise DataError(path, f"not valid UTF-8 (byte offset {err.start})") from None
    except json.JSONDecodeError as err:
        raise DataError(path, f"invalid JSON: {err.msg}", err.lineno) from None
