"""Output folders of stilts-convert: written atomically, with ordinary file modes.

:func:`fairseq_stilts.writes.folder_written_atomically` builds the folder under a
``tempfile.mkdtemp`` name, which is created with mode 0o700, and some writers (torch,
safetensors) leave their files at 0o600. A converted model is meant to be shared: before the
rename every folder gets 0o755 and every file 0o644, less the process umask, as ``mkdir`` and
``open`` would have given them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fairseq_stilts.writes import folder_written_atomically

FOLDER_MODE = 0o755
FILE_MODE = 0o644


def process_umask() -> int:
    """The process umask (read by setting it and putting it back: there is no getter)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def set_normal_modes(folder: Path) -> None:
    """Give ``folder``, the folders in it and its files the modes ``mkdir`` and ``open`` give."""
    mask = process_umask()
    folder = Path(folder)
    for root, dirs, files in os.walk(folder):
        for name in files:
            path = Path(root, name)
            if not path.is_symlink():
                path.chmod(FILE_MODE & ~mask)
        for name in dirs:
            path = Path(root, name)
            if not path.is_symlink():
                path.chmod(FOLDER_MODE & ~mask)
    folder.chmod(FOLDER_MODE & ~mask)


@contextmanager
def converted_folder(out: Path) -> Iterator[Path]:
    """:func:`folder_written_atomically` whose result has normal modes (folders 0o755, files
    0o644, less the umask); nothing of it is visible at ``out`` before it is complete."""
    with folder_written_atomically(out) as tmp:
        yield tmp
        set_normal_modes(tmp)
