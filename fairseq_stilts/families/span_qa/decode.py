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


def max_context_window(windows: Sequence[WindowScores], n_tokens: int) -> np.ndarray:
    """For each context token, the index of the window where it has the most context."""
    best = np.full(n_tokens, -1, dtype=np.int64)
    best_score = np.full(n_tokens, -np.inf)
    for w, window in enumerate(windows):
        positions = np.arange(window.doc_start, window.doc_start + window.doc_len)
        left = positions - window.doc_start
        right = window.doc_start + window.doc_len - 1 - positions
        score = np.minimum(left, right) + 0.01 * window.doc_len
        better = score > best_score[positions]
        best[positions[better]] = w
        best_score[positions[better]] = score[better]
    return best


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
    owner = max_context_window(windows, len(token_starts))
    best_score, best_span = -np.inf, None
    null_score = np.inf
    for w, window in enumerate(windows):
        null_score = min(null_score, float(window.start[0] + window.end[0]))
        lo, hi = window.context_offset, window.context_offset + window.doc_len
        start, end = window.start[lo:hi], window.end[lo:hi]
        starts = np.argsort(-start, kind="stable")[:n_best]
        starts = starts[owner[window.doc_start + starts] == w]
        ends = np.argsort(-end, kind="stable")[:n_best]
        if not len(starts):
            continue
        length = ends[None, :] - starts[:, None]
        scores = start[starts][:, None] + end[ends][None, :]
        scores = np.where((length >= 0) & (length < max_answer_length), scores, -np.inf)
        i, j = np.unravel_index(np.argmax(scores), scores.shape)
        if scores[i, j] > best_score:
            best_score = float(scores[i, j])
            best_span = (window.doc_start + starts[i], window.doc_start + ends[j])
    if best_span is None or (allow_null and null_score - best_score > null_threshold):
        return ""
    first, last = best_span
    return context[token_starts[first] : token_ends[last]].strip()
