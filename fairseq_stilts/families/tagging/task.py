"""Tagging (UDPOS, PANX, CCG supertags): one label per word, on its first sub-token.

Reads folders made by ``stilts-prepare``: ``input0`` holds each sentence piece's word pieces and
``</s>``, ``label`` one label-dictionary id per position (the tag on each word's first piece, the
label dictionary's pad on other pieces and on ``</s>``). Sentences longer than the prepared
``max_seq_length`` were split at word boundaries by stilts-prepare (``sentence_ids.<subset>.npy``
gives each stored row's sentence and piece index), so nothing is truncated here. The task's items
are whole sentences (:class:`~fairseq_stilts.data.datasets.row_groups.RowGroupsDataset`: a batch holds all
pieces of its sentences, ``id`` is the sentence index), so that the criterion scores each sentence
joined again; fairseq's size filter sees a sentence's longest piece, batches are grouped by its
padded token count. The task's head is a per-token head
(:class:`~fairseq_stilts.models.stilts_xlmr.TaggingHead`) named after the task; head hand-off
and batching: :mod:`fairseq_stilts.families.stilts_task`.
"""

from pathlib import Path

import numpy as np
from fairseq.data import (
    IdDataset,
    NestedDictionaryDataset,
    NumelDataset,
    PrependTokenDataset,
    RightPadDataset,
    data_utils,
)

from fairseq_stilts.data.datasets.row_groups import RowGroupsDataset
from fairseq_stilts.errors import DataError, StiltsError
from fairseq_stilts.families.inputs import load_inputs, net_input
from fairseq_stilts.families.stilts_task import StiltsTask
from fairseq_stilts.families.tagging import criterion  # noqa: F401  (registers the family's criterion)


class TaggingTask(StiltsTask):
    """The tagging family."""

    labelled = True

    def load_dataset(self, split: str, combine: bool = False, **kwargs):
        (words,) = load_inputs(self, split)
        longest = int(np.max(words.sizes)) + 1 if len(words) else 0
        if longest > self.max_positions():
            raise StiltsError(
                f"{self.cfg.data}: subset {split!r} has inputs of {longest} tokens, more than "
                f"--max-seq-length {self.max_positions()}; prepare the data again with "
                f"stilts-prepare --max-seq-length {self.max_positions()} (it splits long sentences)"
            )
        tokens = PrependTokenDataset(words, self.dictionary.bos())
        labels = data_utils.load_indexed_dataset(
            str(Path(self.cfg.data, "label", split)), self.label_dictionary
        )
        pad = self.label_dictionary.pad()
        rows = NestedDictionaryDataset(
            {
                "id": IdDataset(),
                "net_input": net_input(self, tokens),
                "target": RightPadDataset(PrependTokenDataset(labels, pad), pad_idx=pad),
                "ntokens": NumelDataset(tokens, reduce=True),
            },
            sizes=[tokens.sizes],
        )
        sentences = RowGroupsDataset(
            rows, tokens.sizes, self._pieces_per_sentence(split, len(rows))
        )
        return self.set_dataset(split, sentences, sentences.padded)

    def _pieces_per_sentence(self, split: str, rows: int) -> np.ndarray:
        """Rows of each sentence, from ``sentence_ids.<split>.npy`` ((sentence, piece) per row)."""
        path = Path(self.cfg.data, f"sentence_ids.{split}.npy")
        if not path.is_file():
            raise DataError(path, "not found; prepare the data again with stilts-prepare")
        ids = np.load(path).reshape(-1, 2)
        sizes = np.bincount(ids[:, 0]) if len(ids) else np.zeros(0, dtype=np.int64)
        starts = np.repeat(np.cumsum(sizes) - sizes, sizes)
        consecutive = np.array_equal(ids[:, 1], np.arange(len(ids)) - starts) and (sizes > 0).all()
        if len(ids) != rows or not consecutive or np.any(np.diff(ids[:, 0]) < 0):
            raise DataError(
                path, f"does not list the {rows} rows of subset {split!r} sentence by sentence"
            )
        return sizes
