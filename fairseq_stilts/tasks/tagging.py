"""Tagging (UDPOS, PANX, CCG supertags): one label per word, on its first sub-token.

Reads folders made by ``stilts-prepare``: ``input0`` holds each sentence piece's word pieces and
``</s>``, ``label`` one label-dictionary id per position (the tag on each word's first piece, the
label dictionary's pad on other pieces and on ``</s>``). Sentences longer than the prepared
``max_seq_length`` were split at word boundaries by stilts-prepare (``sentence_ids.<subset>.npy``
gives each stored row's sentence and piece index), so nothing is truncated here. The task's head
is a per-token head (:class:`~fairseq_stilts.models.stilts_xlmr.TaggingHead`) named after the task;
batching, head hand-off and --required-batch-size-multiple 1 are the classification family's.
"""

from pathlib import Path

import numpy as np
from fairseq.data import (
    IdDataset,
    NestedDictionaryDataset,
    NumelDataset,
    NumSamplesDataset,
    PrependTokenDataset,
    RightPadDataset,
    data_utils,
)

from fairseq_stilts.errors import StiltsError
from fairseq_stilts.tasks.classification import ClassificationTask

CRITERIA = ("stilts_tagging",)


class TaggingTask(ClassificationTask):
    """The tagging family; subclasses set ``spec_name``."""

    criteria = CRITERIA

    def load_dataset(self, split: str, combine: bool = False, **kwargs):
        (words,) = self._load_inputs(split)
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
        dataset = NestedDictionaryDataset(
            {
                "id": IdDataset(),
                "net_input": self._net_input(tokens),
                "target": RightPadDataset(PrependTokenDataset(labels, pad), pad_idx=pad),
                "nsentences": NumSamplesDataset(),
                "ntokens": NumelDataset(tokens, reduce=True),
            },
            sizes=[tokens.sizes],
        )
        return self._set_dataset(split, dataset, tokens.sizes)

    def max_positions(self) -> int:
        return (
            self.cfg.max_seq_length or self.manifest.get("max_seq_length") or self.spec.max_length
        )

    def _register_head(self, model) -> None:
        model.register_tagging_head(self.head_name, num_classes=self.head_classes)
