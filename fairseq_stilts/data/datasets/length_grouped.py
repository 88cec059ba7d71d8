"""Batches of similar length, composed anew each epoch."""

import numpy as np
from fairseq.data import BaseWrapperDataset


class LengthGroupedDataset(BaseWrapperDataset):
    """Orders examples by length, breaking ties at random.

    fairseq cuts consecutive examples of this order into batches and shuffles the batches. It
    seeds numpy with ``seed + epoch`` before asking for the order, and because the batches may
    not be reused across epochs, every epoch regroups the examples: random, yet reproducible.
    """

    def __init__(self, dataset, sizes: np.ndarray) -> None:
        super().__init__(dataset)
        self._sizes = np.asarray(sizes)

    def ordered_indices(self) -> np.ndarray:
        # np.lexsort: the last key is the primary one.
        return np.lexsort((np.random.permutation(len(self)), self._sizes))

    @property
    def can_reuse_epoch_itr_across_epochs(self) -> bool:
        return False
