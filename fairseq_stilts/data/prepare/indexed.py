"""Write fairseq's memory-mapped indexed datasets (the ``.bin``/``.idx`` pairs fairseq reads)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from fairseq.data import indexed_dataset

CHUNK = 65536  # rows joined per write: few writes, bounded extra memory


def write_indexed(prefix: Path, items: list[np.ndarray], vocab_size: int) -> None:
    """One row per item; ``vocab_size`` bounds the values and so picks the stored integer type.

    The bytes are those of fairseq's ``MMapIndexedDatasetBuilder``, written in a few large
    writes of joined rows, then the index of their sizes through fairseq's own index writer.
    """
    prefix.parent.mkdir(parents=True, exist_ok=True)
    dtype = indexed_dataset.best_fitting_int_dtype(vocab_size)
    with open(f"{prefix}.bin", "wb") as data:
        for start in range(0, len(items), CHUNK):
            rows = [np.asarray(ids, dtype=np.int64) for ids in items[start : start + CHUNK]]
            data.write(np.concatenate(rows).astype(dtype).tobytes())
    with indexed_dataset.MMapIndexedDataset.Index.writer(f"{prefix}.idx", dtype) as index:
        index.write([len(ids) for ids in items])
