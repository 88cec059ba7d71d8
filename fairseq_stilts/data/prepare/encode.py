"""Encode many texts with the model's sentencepiece, in a worker pool when it pays."""

from __future__ import annotations

from multiprocessing import Pool
from pathlib import Path

import numpy as np
from tqdm import tqdm

from fairseq_stilts.data.prepare.encoder import PieceEncoder
from fairseq_stilts.progress import progress


def encode_all(
    texts: list[tuple[str, ...]], encoder: PieceEncoder, workers: int, quiet: bool = False
) -> list[np.ndarray]:
    """Ids (pieces + ``</s>``) of every text of every tuple, flattened in order. A progress bar
    shows on a terminal unless ``quiet``."""
    flat = [text for row in texts for text in row]
    bar = progress(desc="encoding", unit="texts", total=len(flat), quiet=quiet)
    with bar:
        if workers <= 1 or len(flat) < 1000:
            return [_tick(bar, encoder.encode(t)) for t in flat]
        with Pool(workers, initializer=_init_worker, initargs=(encoder.model_dir,)) as pool:
            return [_tick(bar, ids) for ids in pool.imap(_encode, flat, chunksize=256)]


def _tick(bar: tqdm, ids: np.ndarray) -> np.ndarray:
    bar.update()
    return ids


_worker_encoder: PieceEncoder | None = None


def _init_worker(model_dir: Path) -> None:
    global _worker_encoder
    _worker_encoder = PieceEncoder(model_dir)


def _encode(text: str) -> np.ndarray:
    return _worker_encoder.encode(text)
