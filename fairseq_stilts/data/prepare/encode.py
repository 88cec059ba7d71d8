"""Encode many texts with the model's sentencepiece: its own batch encoding, on threads."""

from __future__ import annotations

import itertools

import numpy as np

from fairseq_stilts.data.prepare.encoder import PieceEncoder
from fairseq_stilts.progress import progress

CHUNK = 20000  # texts per call to sentencepiece (and per step of the progress bar)


def encode_all(
    texts: list[tuple[str, ...]], encoder: PieceEncoder, workers: int, quiet: bool = False
) -> list[np.ndarray]:
    """Ids (pieces + ``</s>``) of every text of every tuple, flattened in order, as
    :meth:`PieceEncoder.encode` gives them; ``workers`` threads encode. A progress bar shows on
    a terminal unless ``quiet``."""
    flat = [text for row in texts for text in row]
    out: list[np.ndarray] = []
    with progress(desc="encoding", unit="texts", total=len(flat), quiet=quiet) as bar:
        for start in range(0, len(flat), CHUNK):
            chunk = flat[start : start + CHUNK]
            out.extend(_encode_chunk(encoder, chunk, max(1, workers)))
            bar.update(len(chunk))
    return out


def _encode_chunk(encoder: PieceEncoder, texts: list[str], threads: int) -> list[np.ndarray]:
    """One batch call to sentencepiece, one lookup over all its ids, ``</s>`` after each text:
    the rows are views of one array."""
    pieces = encoder.processor.encode(texts, num_threads=threads)
    lengths = np.fromiter(map(len, pieces), dtype=np.int64, count=len(pieces))
    ids = np.fromiter(itertools.chain.from_iterable(pieces), np.int64, int(lengths.sum()))
    ends = np.cumsum(lengths + 1)  # each row's end, its </s> included
    rows = np.full(int(ends[-1]) if len(ends) else 0, encoder.dictionary.eos(), dtype=np.int64)
    is_piece = np.ones(len(rows), dtype=bool)
    is_piece[ends - 1] = False
    rows[is_piece] = encoder.lookup[ids]
    starts = ends - lengths - 1
    return [rows[start:end] for start, end in zip(starts.tolist(), ends.tolist(), strict=True)]
