"""Atomic writes: readers never see a half-written file or folder."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fairseq_stilts.errors import StiltsError


def write_atomic(path: str | Path, text: str | bytes) -> None:
    """Write ``text`` (or bytes) to a temporary file beside ``path`` and rename it into place."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as err:
        raise write_error(path, err) from None
    try:
        binary = isinstance(text, bytes)
        with os.fdopen(fd, "wb" if binary else "w", encoding=None if binary else "utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException as err:
        os.unlink(tmp)
        if isinstance(err, OSError):
            raise write_error(path, err) from None
        raise


def replace_folder(tmp: Path, out: Path) -> None:
    """Move the finished folder ``tmp`` to ``out``; an old ``out`` is removed only after the rename."""
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old.{os.getpid()}")
        out.rename(old)
    tmp.rename(out)
    if old is not None:
        shutil.rmtree(old)


@contextmanager
def folder_written_atomically(out: Path) -> Iterator[Path]:
    """Yield a hidden temporary folder beside ``out``; when the block ends normally it becomes
    ``out`` (replacing an old one), when it raises it is removed: never a half-written ``out``."""
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    except OSError as err:
        raise write_error(out, err) from None
    try:
        yield tmp
        replace_folder(tmp, out)
    except BaseException as err:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(err, OSError):
            raise write_error(out, err) from None
        raise


def write_folder(out: Path, files: dict[str, str]) -> None:
    """Write ``files`` (relative name -> text) as the folder ``out``, all at once: they are
    written into a hidden temporary folder beside it, which is then renamed (replacing an old
    ``out``)."""
    with folder_written_atomically(out) as tmp:
        for name, text in files.items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp / name).write_text(text, encoding="utf-8")


def write_error(path: Path, err: OSError) -> StiltsError:
    """A failed write (a full disk, no permission) as a user error naming the file."""
    if err.filename:
        return StiltsError(f"{err.filename}: {err.strerror or err}")
    return StiltsError(f"{path}: cannot write: {err.strerror or err}")
