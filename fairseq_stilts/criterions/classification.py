"""Cross-entropy over a named classification head; accuracy from exact integer sums.

In eval mode the predicted label names go to the task's ``record_predictions`` (written with
``--predictions-dir``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from fairseq.criterions import FairseqCriterion, register_criterion
from fairseq.dataclass import FairseqDataclass
from fairseq.logging import metrics


@register_criterion("stilts_classification", dataclass=FairseqDataclass)
class ClassificationCriterion(FairseqCriterion):
    """Sentence(-pair) classification through the task's head (``task.head_name``)."""

    def forward(self, model, sample, reduce=True):
        logits, _ = model(
            **sample["net_input"], features_only=True, classification_head_name=self.task.head_name
        )
        return self.scored(model, sample, logits)

    def scored(self, model, sample, logits):
        """Loss, sample size and logging output of ``logits`` (batch x classes); in eval mode the
        predictions are also recorded."""
        if not model.training:
            self.task.record_predictions(sample["id"], self.predictions(logits))
        return self.cross_entropy(logits, sample)

    def predictions(self, logits) -> list:
        """The predicted label name of each example."""
        labels = self.task.label_dictionary
        return [labels[labels.nspecial + i] for i in logits.argmax(dim=-1).tolist()]

    @staticmethod
    def cross_entropy(logits, sample):
        """Summed cross-entropy of ``logits`` (batch x classes) and the logging output."""
        targets = sample["target"].view(-1)
        lprobs = F.log_softmax(logits, dim=-1, dtype=torch.float32)
        loss = F.nll_loss(lprobs, targets, reduction="sum")
        n = targets.numel()
        logging_output = {
            "loss": loss.data,
            "ntokens": sample["ntokens"],
            "nsentences": n,
            "sample_size": n,
            "ncorrect": (lprobs.argmax(dim=-1) == targets).sum().item(),
        }
        return loss, n, logging_output

    @staticmethod
    def reduce_metrics(logging_outputs) -> None:
        log_loss_and_sums(logging_outputs, ("ncorrect", "nsentences"))
        metrics.log_derived("accuracy", _accuracy)

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True


def log_loss_and_sums(logging_outputs, keys) -> None:
    """Log the loss (bits per sample) and exact sums ``_<key>`` that derived metrics read."""

    def total(key):
        return sum(log.get(key, 0) for log in logging_outputs)

    sample_size = total("sample_size")
    loss = total("loss") / max(sample_size, 1) / math.log(2)
    metrics.log_scalar("loss", loss, sample_size, round=3)
    for key in keys:
        metrics.log_scalar_sum(f"_{key}", total(key))


def _accuracy(meters) -> float:
    # Sums arrive as tensors after a data-parallel all-reduce, as ints otherwise.
    correct, total = float(meters["_ncorrect"].sum), float(meters["_nsentences"].sum)
    return round(100.0 * correct / max(total, 1.0), 4)
