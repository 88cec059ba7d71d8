"""Precision, recall and F1 of a set of predicted pairs against gold pairs, without torch.

BUCC 2018's score of a submission file, as XTREME's leaderboard script (``bucc_f1``) computes it:
a pair predicted twice counts once, and all three numbers are 0 when no predicted pair is in the
gold set (the rule :func:`fairseq_stilts.metrics.retrieval.pair_scores` applies to mined pairs).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import TypeVar

Pair = TypeVar("Pair")


def pair_set_scores(predicted: Collection[Pair], gold: Collection[Pair]) -> dict[str, float]:
    """Precision, recall and F1 (x100) of ``predicted`` against ``gold``, with the counts
    ``n_extracted``, ``n_gold`` and ``n_correct`` (distinct pairs)."""
    predicted, gold = set(predicted), set(gold)
    correct = len(predicted & gold)
    precision = correct / len(predicted) if correct else 0.0
    recall = correct / len(gold) if correct else 0.0
    f1 = 2 * precision * recall / (precision + recall) if correct else 0.0
    return {
        "precision": 100.0 * precision,
        "recall": 100.0 * recall,
        "f1": 100.0 * f1,
        "n_extracted": len(predicted),
        "n_gold": len(gold),
        "n_correct": correct,
    }


def pair_counts_by_source(
    predicted: Collection[tuple[str, str]],
    gold: Collection[tuple[str, str]],
    sources: Iterable[str],
) -> list[dict[str, int]]:
    """Per source sentence (``sources``, then any other source of a pair), its distinct predicted,
    gold and correct pairs: summed, the counts behind :func:`pair_set_scores`."""
    predicted, gold = set(predicted), set(gold)
    order = list(dict.fromkeys([*sources, *(s for s, _ in predicted | gold)]))
    counts = {s: {"pairs_predicted": 0, "pairs_gold": 0, "pairs_correct": 0} for s in order}
    for source, _ in predicted:
        counts[source]["pairs_predicted"] += 1
    for pair in gold:
        counts[pair[0]]["pairs_gold"] += 1
        counts[pair[0]]["pairs_correct"] += pair in predicted
    return [counts[s] for s in order]
