"""Multiple choice (HellaSwag, Cosmos QA, CommonsenseQA): one score per choice.

Reads folders made by ``stilts-prepare``: ``input0`` is the context, ``input1..inputN`` the N
choices, ``label`` the gold choice's index. Each choice becomes ``<s> context </s> </s> choice </s>``
(truncated to --max-seq-length) and goes through the task's head, which has ONE output; the
criterion ``stilts_multiple_choice`` takes a softmax across the N scores. Batching (grouped by the
longest choice of each example), heads and predictions: :mod:`fairseq_stilts.families.stilts_task`.
"""

import numpy as np
from fairseq.data import (
    BaseWrapperDataset,
    IdDataset,
    NestedDictionaryDataset,
    NumSamplesDataset,
)

from fairseq_stilts.families.inputs import (
    load_inputs,
    load_targets,
    net_input,
    sequence,
)
from fairseq_stilts.families.multiple_choice import criterion  # noqa: F401  (registers the family's criterion)
from fairseq_stilts.families.stilts_task import StiltsTask


class MultipleChoiceTask(StiltsTask):
    """The multiple-choice family."""

    labelled = True

    @property
    def num_choices(self) -> int:
        return len(self.label_dictionary) - self.label_dictionary.nspecial

    @property
    def head_classes(self) -> int:
        return 1  # one score per (context, choice) sequence

    def load_dataset(self, split: str, combine: bool = False, **kwargs):
        context, *choices = load_inputs(self, split)
        sequences = [sequence(self, split, context, choice) for choice in choices]
        items = {"id": IdDataset()}
        for i, tokens in enumerate(sequences, start=1):
            items[f"net_input{i}"] = net_input(self, tokens)
        items["target"] = load_targets(self, split)
        items["nsentences"] = NumSamplesDataset()
        items["ntokens"] = _TotalTokens(sequences)
        sizes = np.maximum.reduce([np.asarray(tokens.sizes) for tokens in sequences])
        dataset = NestedDictionaryDataset(items, sizes=[sizes])
        return self.set_dataset(split, dataset, sizes)


class _TotalTokens(BaseWrapperDataset):
    """``ntokens`` of a batch: the tokens of every choice of every example."""

    def __init__(self, sequences) -> None:
        super().__init__(sequences[0])
        self.sequences = sequences

    def __getitem__(self, index):
        return sum(tokens[index].numel() for tokens in self.sequences)

    def collater(self, samples):
        return sum(samples)
