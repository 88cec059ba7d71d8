"""Examples that span several stored rows: a question's context windows, a long sentence's pieces."""

from __future__ import annotations

import numpy as np
import torch
from fairseq.data import FairseqDataset


class RowGroupsDataset(FairseqDataset):
    """Items are groups of consecutive rows of a row-level dataset; a batch never splits a group.

    The collater flattens the batch's groups into one batch of rows (the row dataset's own
    collater) and adds ``group_sizes`` (rows per item, in batch order), ``row_id`` (the rows'
    indices) and ``id`` (the items' indices). ``sizes`` is each group's longest row, which is
    what must fit the model; ``num_tokens`` is the group's padded token count, which is what a
    batch costs.
    """

    def __init__(self, rows: FairseqDataset, row_sizes: np.ndarray, group_sizes: np.ndarray):
        super().__init__()
        group_sizes = np.asarray(group_sizes, dtype=np.int64)
        if group_sizes.sum() != len(rows) or (group_sizes < 1).any():
            raise ValueError(f"{len(rows)} rows do not split into groups of {group_sizes}")
        self.rows = rows
        self.starts = np.concatenate([[0], np.cumsum(group_sizes)])
        self.group_sizes = group_sizes
        self.sizes = np.maximum.reduceat(np.asarray(row_sizes), self.starts[:-1])
        self.padded = self.sizes * group_sizes

    def __len__(self) -> int:
        return len(self.group_sizes)

    def __getitem__(self, index: int) -> dict:
        rows = range(self.starts[index], self.starts[index + 1])
        return {"id": index, "rows": [self.rows[row] for row in rows]}

    def collater(self, samples: list[dict]) -> dict:
        if not samples:
            return {}
        batch = self.rows.collater([row for sample in samples for row in sample["rows"]])
        batch["row_id"] = batch.pop("id")
        batch["id"] = torch.tensor([sample["id"] for sample in samples])
        batch["group_sizes"] = torch.tensor([len(sample["rows"]) for sample in samples])
        batch["nsentences"] = len(samples)
        return batch

    def num_tokens(self, index: int) -> int:
        return int(self.padded[index])

    def num_tokens_vec(self, indices: np.ndarray) -> np.ndarray:
        return self.padded[indices]

    def size(self, index: int) -> int:
        return int(self.sizes[index])

    def ordered_indices(self) -> np.ndarray:
        return np.argsort(self.padded, kind="mergesort")

    @property
    def supports_prefetch(self) -> bool:
        return False
