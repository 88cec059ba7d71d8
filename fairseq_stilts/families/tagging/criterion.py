"""Tagging: cross-entropy on each word's first sub-token; token accuracy and seqeval F1 from
exact sums.

A batch holds whole sentences: a sentence longer than the prepared --max-seq-length is stored as
several consecutive rows (its pieces, see :class:`~fairseq_stilts.data.datasets.row_groups.RowGroupsDataset`),
which are joined again before scoring, so an entity crossing a split point counts once.

Logged sums (they reduce exactly across batches and ranks): ``token_correct`` / ``token_total``
(words), and seqeval chunk counts ``chunks_predicted`` / ``chunks_gold`` / ``chunks_correct``
computed per sentence with :func:`fairseq_stilts.metrics.tagging.sentence_chunk_counts`.
Derived: ``seqeval_f1`` (XTREME's metric for PANX and UDPOS) and ``token_accuracy`` (real POS
accuracy), both x100. In eval mode each sentence's predicted tag names are recorded
(``--predictions-dir``).

Known difference from XTREME's file-level number: seqeval 1.x gives the tag ``X`` an empty chunk
type, so when a whole file is scored an ``X`` chunk at a sentence edge merges with (or is closed
by) the neighbouring sentence; per-sentence sums can differ from XTREME's number for UPOS
sentences that start or end with ``X``.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import islice

import torch
import torch.nn.functional as F
from fairseq.criterions import FairseqCriterion, register_criterion
from fairseq.dataclass import FairseqDataclass
from fairseq.logging import metrics

from fairseq_stilts.families.label_loss import derived, log_loss_and_sums
from fairseq_stilts.families.tagging import FAMILY
from fairseq_stilts.metrics.tagging import sentence_chunk_counts, token_counts

SUMS = ("token_correct", "token_total", "chunks_predicted", "chunks_gold", "chunks_correct")


@dataclass
class TaggingCriterionConfig(FairseqDataclass):
    """No options: the head and tags come from the task."""


@register_criterion(FAMILY.criterion, dataclass=TaggingCriterionConfig)
class TaggingCriterion(FairseqCriterion):
    """Per-token cross-entropy through the task's tagging head (``task.head_name``)."""

    def forward(self, model, sample, reduce=True):
        logits, _ = model(
            **sample["net_input"], features_only=True, classification_head_name=self.task.head_name
        )  # batch x time x classes
        labels = self.task.label_dictionary
        target = sample["target"]
        mask = target.ne(labels.pad())
        gold = target[mask] - labels.nspecial
        lprobs = F.log_softmax(logits[mask], dim=-1, dtype=torch.float32)
        loss = F.nll_loss(lprobs, gold, reduction="sum")
        n = int(gold.numel())
        references, predictions = self.sentences(
            logits.argmax(dim=-1), target, mask, sample["group_sizes"]
        )
        counts = sentence_counts(references, predictions)
        if not model.training:
            self.task.record_predictions(sample["id"], predictions, counts)
        logging_output = {
            "loss": loss.data,
            "ntokens": sample["ntokens"],
            "nsentences": len(references),
            "sample_size": n,
            **{key: sum(c[key] for c in counts) for key in SUMS},
        }
        return loss, n, logging_output

    def sentences(self, predicted, target, mask, group_sizes) -> tuple[list, list]:
        """Gold and predicted tag names of each sentence: the words of its rows (consecutive, in
        piece order; ``group_sizes`` rows per sentence) joined."""
        labels = self.task.label_dictionary
        names = labels.symbols[labels.nspecial :]
        rows = zip(predicted.tolist(), target.tolist(), mask.tolist(), strict=True)
        references, predictions = [], []
        for size in group_sizes.tolist():
            reference, prediction = [], []
            for row_pred, row_gold, row_mask in islice(rows, size):
                reference += [labels[g] for g, m in zip(row_gold, row_mask, strict=True) if m]
                prediction += [names[p] for p, m in zip(row_pred, row_mask, strict=True) if m]
            references.append(reference)
            predictions.append(prediction)
        return references, predictions

    @staticmethod
    def reduce_metrics(logging_outputs) -> None:
        log_loss_and_sums(logging_outputs, SUMS)
        metrics.log_derived("token_accuracy", derived("token_accuracy"))
        metrics.log_derived("seqeval_f1", derived("seqeval_f1"))

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True


def sentence_counts(
    references: list[list[str]], predictions: list[list[str]]
) -> list[dict[str, int]]:
    """Each sentence's token and seqeval chunk counts (gold and predicted tag names)."""
    return [
        {
            "token_correct": tokens[0],
            "token_total": tokens[1],
            "chunks_predicted": chunks.predicted,
            "chunks_gold": chunks.gold,
            "chunks_correct": chunks.correct,
        }
        for chunks, tokens in zip(
            sentence_chunk_counts(references, predictions),
            map(token_counts, references, predictions),
            strict=True,
        )
    ]
