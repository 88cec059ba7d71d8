"""From start/end scores over a question's windows to an answer text in the original context.

For each window, the ``n_best`` highest start and end scores over its context tokens give the
candidate spans; a span must end at or after its start, be at most ``max_answer_length`` tokens
long, and start at a token for which this window gives the most context (the token's distance
to the nearer window edge, as in BERT's decoding, so overlapping windows do not compete for the
same token). The best span by start + end score wins; its text is the context's characters from
its first token's start to its last token's end. With ``allow_null`` (SQuAD v2.0), the answer is
empty when the best ``<s>`` score (start + end at position 0, over the windows) beats the best
span by more than ``null_threshold``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class WindowScores:
    start: np.ndarray  # scores of every position of the window
    end: np.ndarray
    doc_start: int
    doc_len: int
    context_offset: int


def decode_answer(
    windows: Sequence[WindowScores],
    context: str,
    token_starts: np.ndarray,
    token_ends: np.ndarray,
    n_best: int = 20,
    max_answer_length: int = 30,
    allow_null: bool = False,
    null_threshold: float = 0.0,
) -> str:
    """The answer text for one question (empty when no span is valid or null wins)."""
    question = QuestionScores(windows, context, token_starts, token_ends)
    return decode_answers([question], n_best, max_answer_length, allow_null, null_threshold)[0]


@dataclass(frozen=True)
class QuestionScores:
    """One question's windows with their scores, and its context with each token's characters."""

    windows: Sequence[WindowScores]
    context: str
    token_starts: np.ndarray
    token_ends: np.ndarray


def decode_answers(
    questions: Sequence[QuestionScores],
    n_best: int = 20,
    max_answer_length: int = 30,
    allow_null: bool = False,
    null_threshold: float = 0.0,
) -> list[str]:
    """The answer text of each question; all their windows are scored together, as rows of
    one padded array, so a batch costs a few array operations rather than a few per window."""
    windows = [w for q in questions for w in q.windows]
    if n_best < 1 or not any(w.doc_len for w in windows):  # no candidate span at all
        return ["" for _ in questions]
    scores = _context_scores(windows)  # starts' rows, then ends' rows
    count = len(windows)
    top = _top(scores, n_best)
    best = np.take_along_axis(scores, top, axis=1)
    doc_start = np.array([w.doc_start for w in windows])
    doc_len = np.array([w.doc_len for w in windows])
    sizes = np.array([len(q.windows) for q in questions])
    starts, ends = top[:count], top[count:]
    owned = _owns(starts + doc_start[:, None], doc_start, doc_len, sizes)
    start_score = np.where(owned & (starts < doc_len[:, None]), best[:count], -np.inf)
    end_score = np.where(ends < doc_len[:, None], best[count:], -np.inf)
    length = ends[:, None, :] - starts[:, :, None]
    spans = start_score[:, :, None] + end_score[:, None, :]
    spans = np.where((length >= 0) & (length < max_answer_length), spans, -np.inf)
    spans = spans.reshape(count, -1)
    pick = spans.argmax(axis=1)  # the first of equals in (start rank, end rank) order
    rows = np.arange(count)
    score = spans[rows, pick].tolist()
    first = (doc_start + starts[rows, pick // starts.shape[1]]).tolist()
    last = (doc_start + ends[rows, pick % starts.shape[1]]).tolist()
    null = [float(w.start[0] + w.end[0]) for w in windows]
    answers, offset = [], 0
    for question in questions:
        best_score, span, null_score = -np.inf, None, np.inf
        for w in range(offset, offset + len(question.windows)):
            null_score = min(null_score, null[w])
            if score[w] > best_score:  # the first window of equals
                best_score, span = score[w], (first[w], last[w])
        offset += len(question.windows)
        if span is None or (allow_null and null_score - best_score > null_threshold):
            answers.append("")
        else:
            chars = slice(question.token_starts[span[0]], question.token_ends[span[1]])
            answers.append(question.context[chars].strip())
    return answers


def _context_scores(windows: Sequence[WindowScores]) -> np.ndarray:
    """The start scores of each window's context tokens as rows padded with -inf, then the end
    scores likewise (a NaN score becomes -inf too: no span with it can win, as before)."""
    width = max(w.doc_len for w in windows)
    dtype = np.result_type(*(w.start.dtype for w in windows), *(w.end.dtype for w in windows))
    scores = np.full((2 * len(windows), width), -np.inf, dtype=dtype)
    for row, w in enumerate(windows):
        context = slice(w.context_offset, w.context_offset + w.doc_len)
        scores[row, : w.doc_len] = w.start[context]
        scores[len(windows) + row, : w.doc_len] = w.end[context]
    scores[np.isnan(scores)] = -np.inf
    return scores


def _top(scores: np.ndarray, n: int) -> np.ndarray:
    """Per row, the positions of the ``n`` best scores, best first and the earlier of equals
    first (what a stable sort of the negated scores gives), without sorting whole rows."""
    n = min(n, scores.shape[1])
    negated = -scores
    kth = np.partition(negated, n - 1, axis=1)[:, n - 1 : n]
    chosen = negated <= kth
    if chosen.sum() > chosen.shape[0] * n:  # an equal of the n-th best is left out somewhere
        equal = negated == kth
        room = n - (negated < kth).sum(axis=1, keepdims=True)
        chosen = (negated < kth) | (equal & (np.cumsum(equal, axis=1) <= room))
    positions = np.nonzero(chosen)[1].reshape(len(scores), n)  # n per row, in position order
    order = np.argsort(np.take_along_axis(negated, positions, axis=1), axis=1, kind="stable")
    return np.take_along_axis(positions, order, axis=1)


def _owns(
    tokens: np.ndarray, doc_start: np.ndarray, doc_len: np.ndarray, sizes: np.ndarray
) -> np.ndarray:
    """Whether each window gives its candidate context ``tokens`` (windows x candidates) the
    most context among its question's windows: the larger distance to the nearer window edge,
    plus 0.01 per window token (BERT's rule); of equals, the question's first window."""
    first = np.repeat(np.cumsum(sizes) - sizes, sizes)
    ranks = np.arange(sizes.max())
    siblings = first[:, None] + ranks  # each window's question's windows, padded
    present = ranks < np.repeat(sizes, sizes)[:, None]
    siblings = np.where(present, siblings, first[:, None])
    lo, length = doc_start[siblings][:, None, :], doc_len[siblings][:, None, :]
    offset = tokens[:, :, None] - lo
    score = np.minimum(offset, length - 1 - offset) + 0.01 * length
    inside = (offset >= 0) & (offset < length) & present[:, None, :]
    owner = np.where(inside, score, -np.inf).argmax(axis=2)
    return siblings[np.arange(len(tokens))[:, None], owner] == np.arange(len(tokens))[:, None]
