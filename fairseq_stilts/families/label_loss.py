"""What the criteria share: cross-entropy over labels, and logging that reduces exactly.

Criteria log integer (or [0, 1]) sums under ``_<key>`` (``log_loss_and_sums``), from which the
metrics are derived: exact across batches and data-parallel ranks.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from fairseq.criterions import FairseqCriterion
from fairseq.logging import metrics

from fairseq_stilts.metrics.sums import SUM_METRICS, metric_from_sums


class LabelCrossEntropyCriterion(FairseqCriterion):
    """Cross-entropy over the scores of each example's labels (or choices) and accuracy; in
    eval mode the predictions go to the task's ``record_predictions``. Subclasses compute the
    scores (``forward``) and name the predictions."""

    def scored(self, model, sample, logits):
        """Summed cross-entropy of ``logits`` (batch x classes), the sample size and the logging
        output; in eval mode the predictions and each example's counts are also recorded."""
        targets = sample["target"].view(-1)
        lprobs = F.log_softmax(logits, dim=-1, dtype=torch.float32)
        loss = F.nll_loss(lprobs, targets, reduction="sum")
        hits = lprobs.argmax(dim=-1) == targets
        n = targets.numel()
        if not model.training:
            counts = [{"ncorrect": int(hit), "nsentences": 1} for hit in hits.tolist()]
            self.task.record_predictions(sample["id"], self.predictions(logits), counts)
        logging_output = {
            "loss": loss.data,
            "ntokens": sample["ntokens"],
            "nsentences": n,
            "sample_size": n,
            "ncorrect": hits.sum().item(),
        }
        return loss, n, logging_output

    def predictions(self, logits) -> list:
        raise NotImplementedError

    @staticmethod
    def reduce_metrics(logging_outputs) -> None:
        log_loss_and_sums(logging_outputs, ("ncorrect", "nsentences"))
        metrics.log_derived("accuracy", derived("accuracy"))

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


def derived(metric: str) -> Callable[[dict], float]:
    """The function of the meters that ``log_derived`` takes for ``metric`` (metrics/sums.py)."""
    names = SUM_METRICS[metric].sums
    return lambda meters: metric_from_sums(metric, {n: logged_sum(meters, n) for n in names})
