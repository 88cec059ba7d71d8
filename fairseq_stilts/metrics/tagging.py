"""Tagging metrics: seqeval entity F1 (PANX, and UDPOS as XTREME scores it) and token accuracy.

XTREME scores both PANX and UDPOS with ``seqeval.metrics.f1_score`` in its default (conlleval-
compatible) mode. On IOB2 NER tags that is ordinary entity-level micro F1. On raw UPOS tags it is
not a POS metric at all: seqeval reads the first character of every tag as a chunk prefix and the
rest as the chunk type, and merges runs of the same type. With the seqeval 1.x installed here
(checked on 1.2.2):

- ``NOUN`` is prefix ``N`` + type ``OUN``; two adjacent ``NOUN`` tokens form ONE chunk.
- ``CCONJ`` and ``SCONJ`` share the type ``CONJ``; prefixes ``S`` (SCONJ, SYM) and ``I`` (INTJ) are
  read as IOBES markers, so a ``SCONJ`` is a one-token chunk (and a ``CCONJ`` chunk right before
  it is never closed, so it is not counted).
- ``X`` has an empty type, which seqeval 1.x also gives to ``O``: an ``X`` chunk at a sentence's
  end never closes (it is lost, or runs into the next sentence when that starts with ``X``).
  seqeval 0.0.x, which XTREME used in 2020, kept whole tags as types and scores POS ~0.2 lower.
  NER (IOB2) scores are identical under both versions.

We call seqeval itself (its ``get_entities``) rather than re-implementing it, so these numbers
follow the installed version; ``token_accuracy`` is the real per-token POS accuracy.

Exact reduction across batches and ranks: :func:`sentence_chunk_counts` gives per-sentence
(predicted, gold, correct) chunk counts whose sums give seqeval's corpus F1 exactly, EXCEPT for
UPOS sentences that start or end with ``X`` (the seqeval 1.x quirk above makes those chunks depend
on the neighbouring sentence, i.e. on corpus order). :func:`seqeval_f1` scores a whole corpus in
the given order and is the XTREME-comparable number; pass sentences in file order.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

from seqeval.metrics.sequence_labeling import get_entities

from fairseq_stilts.metrics.sums import micro_f1

Sentence = Sequence[str]


@dataclass(frozen=True)
class ChunkCounts:
    """Summable seqeval statistics: predicted, gold and correctly predicted chunks."""

    predicted: int = 0
    gold: int = 0
    correct: int = 0

    def __add__(self, other: ChunkCounts) -> ChunkCounts:
        return ChunkCounts(
            self.predicted + other.predicted, self.gold + other.gold, self.correct + other.correct
        )

    @property
    def precision(self) -> float:
        """Percentage of predicted chunks that are correct (0 when nothing was predicted)."""
        return 100.0 * self.correct / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        """Percentage of gold chunks that were found (0 when there are none)."""
        return 100.0 * self.correct / self.gold if self.gold else 0.0

    @property
    def f1(self) -> float:
        """Micro F1 in percent, computed the way seqeval does (0 when nothing is correct)."""
        return f1_from_counts(self.predicted, self.gold, self.correct)


def f1_from_counts(predicted: int, gold: int, correct: int) -> float:
    """seqeval's micro F1 (x100) from summed counts: 2PR/(P+R), which is 2c/(p+g)."""
    return float(micro_f1(predicted, gold, correct))


def _check(references: Sequence[Sentence], predictions: Sequence[Sentence]) -> None:
    if len(references) != len(predictions):
        raise ValueError(
            f"{len(references)} reference sentences but {len(predictions)} predicted sentences"
        )
    for index, (reference, prediction) in enumerate(zip(references, predictions, strict=True)):
        if len(reference) != len(prediction):
            raise ValueError(
                f"sentence {index}: {len(reference)} reference tags but {len(prediction)} predicted"
            )
        if not all(reference) or not all(prediction):
            raise ValueError(f"sentence {index}: empty tag string")


def _entities(sentences: Sequence[Sentence]) -> set[tuple[str, int, int]]:
    # seqeval warns once per non-IOB tag ("NOUN seems not to be NE tag"): expected for UPOS.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*seems not to be NE tag")
        # A list of lists: seqeval appends an "O" after each sentence, as f1_score does.
        return set(get_entities([list(sentence) for sentence in sentences]))


def _counts(references: Sequence[Sentence], predictions: Sequence[Sentence]) -> ChunkCounts:
    gold, predicted = _entities(references), _entities(predictions)
    return ChunkCounts(len(predicted), len(gold), len(gold & predicted))


def corpus_chunk_counts(
    references: Sequence[Sentence], predictions: Sequence[Sentence]
) -> ChunkCounts:
    """Chunk counts over the whole corpus in the given order: exactly seqeval's statistics."""
    _check(references, predictions)
    return _counts(references, predictions)


def sentence_chunk_counts(
    references: Sequence[Sentence], predictions: Sequence[Sentence]
) -> list[ChunkCounts]:
    """Per-sentence chunk counts, for criteria that sum statistics across batches and ranks.

    The sums equal :func:`corpus_chunk_counts` for IOB2 tags and for UPOS sentences that neither
    start nor end with ``X`` (see the module docstring).
    """
    _check(references, predictions)
    return [_counts([ref], [pred]) for ref, pred in zip(references, predictions, strict=True)]


def seqeval_f1(references: Sequence[Sentence], predictions: Sequence[Sentence]) -> float:
    """``seqeval.metrics.f1_score`` (default mode, micro) x100 on the corpus in the given order."""
    return corpus_chunk_counts(references, predictions).f1


def token_counts(reference: Sentence, prediction: Sentence) -> tuple[int, int]:
    """(correct, total) tokens of one sentence."""
    _check([reference], [prediction])
    return sum(r == p for r, p in zip(reference, prediction, strict=True)), len(reference)


def token_accuracy(references: Sequence[Sentence], predictions: Sequence[Sentence]) -> float:
    """Share of tokens whose predicted tag equals the gold tag, x100 (0 for no tokens)."""
    _check(references, predictions)
    correct = total = 0
    for reference, prediction in zip(references, predictions, strict=True):
        c, t = token_counts(reference, prediction)
        correct, total = correct + c, total + t
    return 100.0 * correct / total if total else 0.0


def tagging_scores(
    references: Sequence[Sentence], predictions: Sequence[Sentence]
) -> dict[str, float]:
    """All tagging numbers, x100, on the corpus in the given order.

    ``seqeval_f1`` (with ``seqeval_precision`` / ``seqeval_recall``) is XTREME's metric for PANX
    and for UDPOS; on UPOS tags it is seqeval-version dependent and NOT POS accuracy, which is
    ``token_accuracy``.
    """
    counts = corpus_chunk_counts(references, predictions)
    return {
        "seqeval_f1": counts.f1,
        "seqeval_precision": counts.precision,
        "seqeval_recall": counts.recall,
        "token_accuracy": token_accuracy(references, predictions),
    }
