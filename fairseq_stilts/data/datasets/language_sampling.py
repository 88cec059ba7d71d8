"""Training languages sampled with an exponent alpha, as XLM-R did: p_l ~ n_l^alpha.

With alpha > 0 each epoch draws as many examples as the chosen languages hold in all (N);
language l gets round(p_l * N) of them (largest remainders, so they sum to N). Within a language
the draw is stratified: each of its n examples appears floor(k / n) or ceil(k / n) times for k
draws, so a downsampled language repeats none and an upsampled one repeats all about equally.
The draw depends on (seed, epoch) only: every rank of a data-parallel run, and a resumed run,
see the same epoch. alpha = 0 samples nothing: every chosen example once (concatenation).
"""

from __future__ import annotations

import logging

import numpy as np
from fairseq.data import BaseWrapperDataset, FairseqDataset

from fairseq_stilts.errors import StiltsError

logger = logging.getLogger(__name__)


def language_probabilities(counts: list[int], alpha: float) -> np.ndarray:
    """p_l = n_l^alpha / sum_k n_k^alpha."""
    if alpha < 0:
        raise StiltsError(f"--language-sampling-alpha must be >= 0, got {alpha}")
    weights = np.asarray(counts, dtype=np.float64) ** alpha
    return weights / weights.sum()


def epoch_counts(counts: list[int], alpha: float) -> np.ndarray:
    """Examples per language in one epoch of sum(counts): round(p_l * N) by largest remainder."""
    target = language_probabilities(counts, alpha) * sum(counts)
    whole = np.floor(target).astype(np.int64)
    short = sum(counts) - int(whole.sum())
    whole[np.argsort(whole - target, kind="stable")[:short]] += 1  # largest remainders first
    return whole


class LanguageSampledDataset(BaseWrapperDataset):
    """One epoch's sample of the languages of ``dataset`` (see the module docstring).

    ``ranges`` maps each chosen language to the (start, count) of its examples in ``dataset``,
    whose example sizes are ``sizes``. Batches hold examples of similar length, regrouped every
    epoch as in :class:`~fairseq_stilts.data.datasets.length_grouped.LengthGroupedDataset`. ``sizes`` is
    one array rewritten in place by :meth:`set_epoch`, so wrappers built on this dataset with it
    (``NestedDictionaryDataset(..., sizes=[sampled.sizes])``) see each epoch's sizes.
    """

    def __init__(
        self,
        dataset: FairseqDataset,
        sizes: np.ndarray,
        ranges: dict[str, tuple[int, int]],
        alpha: float,
        seed: int,
        epoch: int = 1,
    ) -> None:
        super().__init__(dataset)
        self.languages = list(ranges)
        self.starts = np.array([start for start, _ in ranges.values()], dtype=np.int64)
        self.counts = [n for _, n in ranges.values()]
        self.epoch_counts = epoch_counts(self.counts, alpha) if alpha else np.array(self.counts)
        self.alpha = alpha
        self.seed = seed
        self._source_sizes = np.asarray(sizes)
        self.indices = np.zeros(sum(self.counts), dtype=np.int64)  # into ``dataset``
        self._sizes = np.zeros(len(self.indices), dtype=self._source_sizes.dtype)
        self.epoch = None
        self.set_epoch(epoch)

    def set_epoch(self, epoch: int) -> None:
        super().set_epoch(epoch)
        if epoch == self.epoch:
            return
        rng = np.random.default_rng([self.seed, epoch])
        parts = []
        for start, n, k in zip(self.starts, self.counts, self.epoch_counts, strict=True):
            if not self.alpha or not n:
                parts.append(start + np.arange(n))
                continue
            rounds, rest = divmod(int(k), n)
            draws = [rng.permutation(n) for _ in range(rounds)]
            parts.append(start + np.concatenate([*draws, rng.choice(n, rest, replace=False)]))
        self.indices[:] = np.concatenate(parts)
        self._sizes[:] = self._source_sizes[self.indices]
        if self.epoch is None or self.alpha:
            mix = ", ".join(
                f"{lang} {k}" for lang, k in zip(self.languages, self.epoch_counts, strict=True)
            )
            logger.info(f"epoch {epoch}: examples per language: {mix}")
        self.epoch = epoch

    def language_of(self, index: int | np.ndarray) -> np.ndarray:
        """Position in :attr:`languages` of the language of the sample(s) at ``index``."""
        return np.searchsorted(self.starts, self.indices[index], side="right") - 1

    def __getitem__(self, index: int):
        return self.dataset[self.indices[index]]

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def sizes(self) -> np.ndarray:
        return self._sizes

    def size(self, index: int) -> int:
        return self._sizes[index]

    def num_tokens(self, index: int) -> int:
        return self._sizes[index]

    def num_tokens_vec(self, indices: np.ndarray) -> np.ndarray:
        return self._sizes[indices]

    def ordered_indices(self) -> np.ndarray:
        # fairseq seeds numpy with seed + epoch before asking; the last lexsort key is the primary.
        return np.lexsort((np.random.permutation(len(self)), self._sizes))

    # The wrapped dataset's own would look up its sizes at our indices.
    batch_by_size = FairseqDataset.batch_by_size
    filter_indices_by_size = FairseqDataset.filter_indices_by_size

    @property
    def supports_prefetch(self) -> bool:
        return False

    @property
    def can_reuse_epoch_itr_across_epochs(self) -> bool:
        return False
