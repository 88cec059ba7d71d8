"""Every reported metric as a function of sums of per-example counts.

Criteria log these counts summed over a subset (``ncorrect`` and ``nsentences`` for accuracy,
seqeval chunk counts for F1, per-question EM and F1 for span QA) and derive the metric from the
sums; ``stilts-eval`` also keeps each example's own counts, so that the report can resample
examples and recompute the metric exactly as the task computes it. The formulas take numbers or
numpy arrays of sums (one per resample) alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np


def _percent(part, whole):
    return 100.0 * np.asarray(part, dtype=float) / np.maximum(whole, 1)


def micro_f1(predicted, gold, correct):
    """seqeval's (and BUCC's) micro F1 x100: 2PR/(P+R), which is 2c/(p+g); 0 when c is 0."""
    correct = np.asarray(correct, dtype=float)
    return np.where(correct > 0, 200.0 * correct / np.maximum(np.add(predicted, gold), 1), 0.0)


@dataclass(frozen=True)
class SumMetric:
    """A metric: the names of the sums it reads, in the order ``formula`` takes them."""

    sums: tuple[str, ...]
    formula: Callable[..., np.ndarray]

    def __call__(self, sums: Mapping[str, object]) -> np.ndarray:
        return self.formula(*(sums[name] for name in self.sums))


SUM_METRICS: dict[str, SumMetric] = {
    "accuracy": SumMetric(("ncorrect", "nsentences"), _percent),
    "token_accuracy": SumMetric(("token_correct", "token_total"), _percent),
    "seqeval_f1": SumMetric(("chunks_predicted", "chunks_gold", "chunks_correct"), micro_f1),
    "exact_match": SumMetric(("qa_exact", "qa_questions"), _percent),
    "f1": SumMetric(("qa_f1", "qa_questions"), _percent),
    "bucc_f1": SumMetric(("pairs_predicted", "pairs_gold", "pairs_correct"), micro_f1),
}
"""Metric name (as results rows name it) -> how it follows from its sums."""


def metric_from_sums(metric: str, sums: Mapping[str, object]) -> float:
    """``metric`` of one set of summed counts, as a float rounded as the criteria log it."""
    return round(float(SUM_METRICS[metric](sums)), 4)
