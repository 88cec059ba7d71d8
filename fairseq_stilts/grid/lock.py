"""The grid folder's lock: one stilts-grid at a time on a folder.

``GRID/grid.lock`` is locked with ``fcntl.flock`` for as long as a stilts-grid works on the
folder. The kernel drops the lock when its process ends, however it ends (a crash, SIGKILL), so a
lock file left behind never blocks the next run; a held lock is told apart from a left-over file
by trying to lock it, never by reading it. The file holds its holder's pid, host, start time and
command line, for the message that refuses a second stilts-grid.
"""

from __future__ import annotations

import fcntl
import json
import os
import shlex
import socket
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from fairseq_stilts.errors import StiltsError

LOCK_FILE = "grid.lock"


class GridBusy(StiltsError):
    """Another process holds the grid folder's lock."""


def holder_details() -> dict:
    """What a holder writes into the lock file: who it is, where, since when."""
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "started": datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else "",
    }


def describe_holder(path: Path) -> str:
    """``pid 4242 on node7, started 2026-01-05T09:12:44+01:00 (stilts-grid plan.yaml --out g)``,
    read from the lock file (a holder that has not written its details yet says so)."""
    for _ in range(20):  # the holder writes its details right after it takes the lock
        try:
            details = json.loads(path.read_text(encoding="utf-8") or "null")
        except (OSError, ValueError):
            details = None
        if isinstance(details, dict) and "pid" in details:
            command = f" ({details['command']})" if details.get("command") else ""
            return (
                f"pid {details['pid']} on {details.get('host', '?')}, started "
                f"{details.get('started', '?')}{command}"
            )
        time.sleep(0.05)
    return "a process that has not written its details to the lock file"


@contextmanager
def grid_lock(
    grid: Path,
    wait: bool = False,
    report: Callable[[str], None] | None = None,
    poll_s: float = 1.0,
) -> Iterator[Path]:
    """Hold ``GRID/grid.lock`` within the block. If another process holds it: a
    :class:`GridBusy` naming the holder, or with ``wait`` a line to ``report`` and a wait until
    it is free. Yields the lock file's path."""
    grid.mkdir(parents=True, exist_ok=True)
    path = grid / LOCK_FILE
    handle = open(path, "a+", encoding="utf-8")  # "a+": never truncate a holder's details
    try:
        if not _try_lock(handle, path):
            holder = describe_holder(path)
            if not wait:
                raise GridBusy(
                    f"{grid} is in use by another stilts-grid: {holder}; lock {path}. Wait for it "
                    "to finish (or stop it), or pass --wait to start when it has"
                )
            if report is not None:
                report(f"grid: {grid} is in use by {holder}; waiting for it to finish (--wait)")
            while not _try_lock(handle, path):
                time.sleep(poll_s)
            if report is not None:
                report(f"grid: {grid} is free; starting")
        handle.seek(0)
        handle.truncate()
        handle.write(json.dumps(holder_details()) + "\n")
        handle.flush()
        try:
            yield path
        finally:
            handle.seek(0)
            handle.truncate()  # released: no details that could be mistaken for a holder
            handle.flush()
    finally:
        handle.close()  # closing the file releases the lock


def _try_lock(handle, path: Path) -> bool:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    except OSError as err:  # a file system without flock (Lustre mounted without -o flock)
        raise StiltsError(
            f"{path}: cannot lock the grid folder ({err.strerror}); its file system does not "
            "support file locks, which stilts-grid needs (also for the results store)"
        ) from None
