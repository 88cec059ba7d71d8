"""Span QA inputs: contexts as tokens with character offsets, cut into overlapping windows.

A window is ``<s> question </s> </s> context[doc_start : doc_start + doc_len] </s>``. Windows
start every ``stride`` context tokens (the step between window starts, as in BERT's and
XTREME's ``doc_stride``) until one reaches the end of the context.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from fairseq_stilts.data.prepare.encoder import PieceEncoder

# One stored window (``windows.<subset>.npy``, a structured array): its question's index in the
# subset, the window's context tokens (first, count) and where they start in the row, and the
# answer's first/last positions in the row (0, ``<s>``, when the answer is not inside).
WINDOW_FIELDS = np.dtype(
    [
        (name, np.int64)
        for name in (
            "question",
            "doc_start",
            "doc_len",
            "context_offset",
            "start_position",
            "end_position",
        )
    ]
)


# Code point -> str.isspace(); the last entry (False) stands for every code point above U+3000,
# the highest white space character.
_IS_SPACE = np.array([chr(c).isspace() for c in range(0x3001)] + [False])


@dataclass(frozen=True)
class TokenizedText:
    """Dictionary ids of a text and each token's character span ``[start, end)`` in it.

    Spans exclude the whitespace a sentencepiece piece absorbs (``▁`` stands for it), so a span
    covers exactly the characters the token spells.
    """

    ids: np.ndarray
    starts: np.ndarray
    ends: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)


def tokenize_with_offsets(encoder: PieceEncoder, text: str) -> TokenizedText:
    """Encode ``text`` (no ``</s>``) with each token's character offsets, as sentencepiece maps
    its pieces back onto the text."""
    mapping = encoder.processor.EncodeAsOffsetMapping(text)
    count = len(mapping["ids"])
    offsets = np.fromiter(itertools.chain.from_iterable(mapping["offsets"]), np.int64, 2 * count)
    starts, ends = offsets[0::2], offsets[1::2]
    # a span starts at its first non-space character (at its end if it has none)
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    position = np.where(
        _IS_SPACE[np.minimum(codes, len(_IS_SPACE) - 1)], len(text), np.arange(len(text))
    )
    next_visible = np.append(np.minimum.accumulate(position[::-1])[::-1], len(text))
    ids = encoder.lookup[np.fromiter(mapping["ids"], np.int64, count)]
    return TokenizedText(ids, np.minimum(next_visible[starts], ends), ends)


def answer_token_span(context: TokenizedText, char_start: int, char_end: int) -> tuple[int, int]:
    """First and last context token overlapping the characters ``[char_start, char_end)``."""
    first = int(np.searchsorted(context.ends, char_start, side="right"))
    last = int(np.searchsorted(context.starts, char_end, side="left")) - 1
    return first, max(first, last)


@dataclass(frozen=True)
class Window:
    tokens: np.ndarray
    doc_start: int  # first context token in the window
    doc_len: int  # context tokens in the window
    context_offset: int  # position of the first context token in ``tokens``

    def answer_positions(self, first: int, last: int) -> tuple[int, int]:
        """Positions of an answer's first/last context token, or (0, 0) (``<s>``) if not inside."""
        if first < self.doc_start or last >= self.doc_start + self.doc_len:
            return 0, 0
        return (
            first - self.doc_start + self.context_offset,
            last - self.doc_start + self.context_offset,
        )


def windows(
    question: np.ndarray,
    context: np.ndarray,
    bos: int,
    eos: int,
    max_length: int,
    stride: int,
    max_query_length: int,
) -> list[Window]:
    """Windows of at most ``max_length`` tokens over ``context``, each with the question."""
    question = question[:max_query_length]
    budget = max_length - len(question) - 4  # <s> q </s> </s> ... </s>
    if budget < 1:
        raise ValueError(f"max length {max_length} leaves no room for the context")
    if stride < 1:
        raise ValueError(f"stride must be positive, got {stride}")
    head = np.concatenate([[bos], question, [eos, eos]]).astype(np.int64)
    out, start = [], 0
    while True:
        length = min(len(context) - start, budget)
        tokens = np.concatenate([head, context[start : start + length], [eos]])
        out.append(Window(tokens, start, length, len(head)))
        if start + length >= len(context):
            return out
        start += min(length, stride)
