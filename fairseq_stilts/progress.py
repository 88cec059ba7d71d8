"""Progress bars for long steps: on a terminal only (never in a log file or a pipe), and never
with ``--quiet``."""

from __future__ import annotations

from collections.abc import Iterable

from tqdm import tqdm


def progress(
    items: Iterable | None = None,
    *,
    desc: str,
    unit: str,
    quiet: bool = False,
    total: int | None = None,
    leave: bool = True,
) -> tqdm:
    """A tqdm bar over ``items`` (or one to ``update`` up to ``total``)."""
    return tqdm(
        items,
        desc=desc,
        unit=f" {unit}",
        total=total,
        leave=leave,
        disable=True if quiet else None,  # None: only when writing to a terminal
    )
