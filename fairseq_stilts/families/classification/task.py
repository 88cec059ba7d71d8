"""Sentence and sentence-pair classification (MNLI, ANLI+, QQP, SST-2, XNLI, PAWS-X).

Reads folders made by ``stilts-prepare`` (:mod:`fairseq_stilts.data.prepare.texts`): each example
is ``<s> A </s> </s> B </s>`` (as XLM-R was trained), truncated to --max-seq-length, scored by the
task's sentence head. Batching, languages, heads, predictions: :mod:`fairseq_stilts.families.stilts_task`.
"""

from fairseq.data import (
    IdDataset,
    NestedDictionaryDataset,
    NumelDataset,
    NumSamplesDataset,
)

from fairseq_stilts.families.classification import criterion  # noqa: F401  (registers the family's criterion)
from fairseq_stilts.families.inputs import (
    load_inputs,
    load_targets,
    net_input,
    sequence,
)
from fairseq_stilts.families.stilts_task import StiltsTask


class ClassificationTask(StiltsTask):
    """The classification family."""

    labelled = True

    def load_dataset(self, split: str, combine: bool = False, **kwargs):
        inputs = load_inputs(self, split)
        tokens = sequence(self, split, inputs[0], *inputs[1:])
        dataset = NestedDictionaryDataset(
            {
                "id": IdDataset(),
                "net_input": net_input(self, tokens),
                "target": load_targets(self, split),
                "nsentences": NumSamplesDataset(),
                "ntokens": NumelDataset(tokens, reduce=True),
            },
            sizes=[tokens.sizes],
        )
        return self.set_dataset(split, dataset, tokens.sizes)
