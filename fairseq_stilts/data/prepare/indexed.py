"""Write fairseq's memory-mapped indexed datasets (the ``.bin``/``.idx`` pairs fairseq reads)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from fairseq.data import indexed_dataset


def write_indexed(prefix: Path, items: list[np.ndarray], vocab_size: int) -> None:
    """One row per item; ``vocab_size`` bounds the values and so picks the stored integer type."""
    prefix.parent.mkdir(parents=True, exist_ok=True)
    builder = indexed_dataset.make_builder(f"{prefix}.bin", impl="mmap", vocab_size=vocab_size)
    for ids in items:
        builder.add_item(torch.from_numpy(np.asarray(ids, dtype=np.int64)))
    builder.finalize(f"{prefix}.idx")
