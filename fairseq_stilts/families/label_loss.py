"""What the criteria share: cross-entropy over labels, and logging that reduces exactly.

Criteria log integer (or [0, 1]) sums under ``_<key>`` (``log_loss_and_sums``), from which the
metrics are derived: exact across batches and data-parallel ranks.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from fairseq.criterions import FairseqCriterion
from fairseq.logging import metrics


class LabelCrossEntropyCriterion(FairseqCriterion):
    """Cross-entropy over the scores of each example's labels (or choices) and accuracy; in
    eval mode the predictions go to the task's ``record_predictions``. Subclasses compute the
    scores (``forward``) and name the predictions."""

    def scored(self, model, sample, logits):
        """Loss, sample size and logging output of ``logits`` (batch x classes); in eval mode the
        predictions are also recorded."""
        if not model.training:
            self.task.record_predictions(sample["id"], self.predictions(logits))
        return self.cross_entropy(logits, sample)

    def predictions(self, logits) -> list:
        raise NotImplementedError

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


def logged_sum(meters, key: str) -> float:
    """The sum logged under ``_<key>``: a tensor after a data-parallel all-reduce, a number
    otherwise."""
    return float(meters[f"_{key}"].sum)


def _accuracy(meters) -> float:
    correct, total = logged_sum(meters, "ncorrect"), logged_sum(meters, "nsentences")
    return round(100.0 * correct / max(total, 1.0), 4)
