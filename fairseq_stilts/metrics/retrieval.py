"""Retrieval metrics: Tatoeba accuracy and BUCC 2018 bitext mining F1.

Embeddings are rows of a 2-D array (numpy or torch); similarity is cosine (rows are
L2-normalised here unless ``normalize=False``). Nearest-neighbour search is blocked over both
queries and candidates, so memory holds ``block_size x block_size`` similarities at a time and
never an N x N matrix; pass ``device="cuda"`` to run the products on a GPU.

BUCC follows XTREME's ``third_party/utils_retrieve.py`` (itself LASER's ``bucc.py``), including
its quirks:

- Identical sentences (compared after stripping surrounding white space) are merged into one row
  before mining (the row of their first occurrence; identical texts embed identically).
- After mining, a pair whose source or target text occurs more than once on its side is dropped
  (``duplicates="drop"``, the reference rule): those ids are never predicted, so their gold pairs
  count as misses. ``duplicates="expand"`` instead maps the merged text to all of its ids.
- k-NN both ways (k = min(k, rows on the other side)), ratio margin
  ``cos(x, y) / ((mean k-NN sim of x + mean k-NN sim of y) / 2)``; each source's best-margin target
  among its k neighbours and each target's best-margin source are candidates; their union is
  sorted by score (stable, forward candidates first on ties) and kept greedily one-to-one; pairs
  scoring at most ``min_score`` (the reference's 0) are not kept.
- The threshold maximising F1 on dev gold is the midpoint between a candidate's score and the
  next one's; where the best F1 is at the lowest-scored candidate (the reference crashes there)
  that candidate's score is used; where no candidate is correct, 0 (the reference's default).
  Reported F1 is always that of the pairs with ``score >= threshold``, also when the threshold
  falls inside a run of equal scores.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch

from fairseq_stilts.metrics.pairs import pair_set_scores

Array = np.ndarray | torch.Tensor


def _rows(embeddings: Array, normalize: bool, device: str | torch.device | None) -> torch.Tensor:
    tensor = torch.as_tensor(embeddings)
    if tensor.dim() != 2:
        raise ValueError(f"embeddings must be 2-D (rows x dims), got shape {tuple(tensor.shape)}")
    if not tensor.is_floating_point():
        tensor = tensor.to(torch.get_default_dtype())
    if device is not None:
        tensor = tensor.to(device)
    return torch.nn.functional.normalize(tensor, dim=1) if normalize else tensor


def knn(
    queries: Array,
    candidates: Array,
    k: int,
    *,
    block_size: int = 4096,
    normalize: bool = True,
    device: str | torch.device | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``min(k, len(candidates))`` most similar candidates of each query, most similar first.

    Returns (similarities, indices), each (queries x k). Both sides are processed in blocks of
    ``block_size`` rows. For k = 1 ties go to the lowest index; for k > 1 ties at the k-th place
    are broken arbitrarily (as faiss does).
    """
    if block_size < 1 or k < 1:
        raise ValueError(f"block_size and k must be positive, got {block_size} and {k}")
    x, y = _rows(queries, normalize, device), _rows(candidates, normalize, device)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"queries have {x.shape[1]} dims but candidates have {y.shape[1]}")
    if len(y) == 0:
        raise ValueError("no candidates to search")
    dtype = torch.promote_types(x.dtype, y.dtype)
    k, x, y = min(k, len(y)), x.to(dtype), y.to(dtype)
    sims, inds = [x.new_zeros((0, k)).cpu().numpy()], [np.zeros((0, k), dtype=np.int64)]
    for start in range(0, len(x), block_size):
        block = x[start : start + block_size]
        best_sim = best_ind = None
        for offset in range(0, len(y), block_size):
            # the block's own k best, then a merge of 2k columns with the best so far
            sim, where = _top(block @ y[offset : offset + block_size].T, k)
            ind = where + offset
            if best_sim is not None:  # earlier (lower) indices first, so k=1 ties keep them
                sim, ind = torch.cat([best_sim, sim], dim=1), torch.cat([best_ind, ind], dim=1)
                sim, where = _top(sim, k)
                ind = ind.gather(1, where)
            best_sim, best_ind = sim, ind
        sims.append(best_sim.cpu().numpy())
        inds.append(best_ind.cpu().numpy())
    return np.concatenate(sims), np.concatenate(inds)


def _top(sim: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The k largest values of each row and their columns; for k = 1 the first maximum."""
    if k == 1:
        return sim.max(dim=1, keepdim=True)
    return sim.topk(min(k, sim.shape[1]), dim=1)


# --- Tatoeba -----------------------------------------------------------------------------------


def tatoeba_predictions(
    queries: Array,
    candidates: Array,
    *,
    block_size: int = 4096,
    normalize: bool = True,
    device: str | torch.device | None = None,
) -> np.ndarray:
    """For each query line, the index of its nearest candidate line. XTREME's queries are the
    English sentences, its candidates the other language's."""
    _, inds = knn(queries, candidates, 1, block_size=block_size, normalize=normalize, device=device)
    return inds[:, 0]


def aligned_counts(predictions: Sequence[int] | np.ndarray) -> tuple[int, int]:
    """(correct, total): predicted indices equal to their own line's index."""
    predictions = np.asarray(predictions)
    return int((predictions == np.arange(len(predictions))).sum()), len(predictions)


def aligned_accuracy(predictions: Sequence[int] | np.ndarray) -> float:
    """Tatoeba accuracy x100 of predicted indices, line i's gold being i."""
    return _percent(*aligned_counts(predictions))


def _percent(correct: int, total: int) -> float:
    return 100.0 * correct / total if total else 0.0


# --- BUCC mining -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MinedPair:
    """A mined (source id, target id) pair and its margin score; source is the non-English side."""

    source_id: str
    target_id: str
    score: float


@dataclass(frozen=True)
class MarginCandidates:
    """Each source row's best-margin target row and each target row's best-margin source row."""

    forward_index: np.ndarray  # (sources,) target row chosen by each source
    forward_score: np.ndarray
    backward_index: np.ndarray  # (targets,) source row chosen by each target
    backward_score: np.ndarray


def margin_candidates(
    source: Array,
    target: Array,
    *,
    k: int = 4,
    block_size: int = 4096,
    normalize: bool = True,
    device: str | torch.device | None = None,
) -> MarginCandidates:
    """Ratio-margin forward and backward candidates among each row's k nearest neighbours."""
    options = {"block_size": block_size, "normalize": normalize, "device": device}
    fwd_sim, fwd_ind = knn(source, target, k, **options)
    bwd_sim, bwd_ind = knn(target, source, k, **options)
    fwd_sim, bwd_sim = fwd_sim.astype(np.float64), bwd_sim.astype(np.float64)
    fwd_mean, bwd_mean = fwd_sim.mean(axis=1), bwd_sim.mean(axis=1)
    fwd_margin = fwd_sim / ((fwd_mean[:, None] + bwd_mean[fwd_ind]) / 2)
    bwd_margin = bwd_sim / ((bwd_mean[:, None] + fwd_mean[bwd_ind]) / 2)
    fwd_best, bwd_best = fwd_margin.argmax(axis=1), bwd_margin.argmax(axis=1)
    rows_f, rows_b = np.arange(len(fwd_ind)), np.arange(len(bwd_ind))
    return MarginCandidates(
        forward_index=fwd_ind[rows_f, fwd_best],
        forward_score=fwd_margin[rows_f, fwd_best],
        backward_index=bwd_ind[rows_b, bwd_best],
        backward_score=bwd_margin[rows_b, bwd_best],
    )


def one_to_one(
    pairs: Sequence[tuple[int, int]], scores: Sequence[float], min_score: float = 0.0
) -> list[tuple[int, int, float]]:
    """Keep pairs greedily by descending score (stable) while neither side has been used yet.

    Returns (source, target, score) triples, highest score first; scores ``<= min_score`` are cut.
    """
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    used_source, used_target, kept = set(), set(), []
    for position in order:
        source, target = pairs[position]
        if source in used_source or target in used_target:
            continue
        used_source.add(source)
        used_target.add(target)
        if scores[position] > min_score:
            kept.append((int(source), int(target), float(scores[position])))
    return kept


def _unify(side: Mapping[str, str]) -> tuple[list[int], list[list[str]]]:
    """Rows of first occurrences of each distinct (stripped) text, and the ids of each."""
    first_row: dict[str, int] = {}
    ids: dict[str, list[str]] = {}
    for row, (sentence_id, text) in enumerate(side.items()):
        key = text.strip()
        first_row.setdefault(key, row)
        ids.setdefault(key, []).append(sentence_id)
    return list(first_row.values()), list(ids.values())


def mine_pairs(
    source: Mapping[str, str],
    source_embeddings: Array,
    target: Mapping[str, str],
    target_embeddings: Array,
    *,
    k: int = 4,
    duplicates: Literal["drop", "expand"] = "drop",
    min_score: float = 0.0,
    block_size: int = 4096,
    normalize: bool = True,
    device: str | torch.device | None = None,
) -> list[MinedPair]:
    """BUCC mining: id -> sentence maps plus embeddings whose rows follow the maps' order.

    Returns the kept pairs as ids, highest score first (see the module docstring for the rules).
    """
    if duplicates not in ("drop", "expand"):
        raise ValueError(f"duplicates must be 'drop' or 'expand', got {duplicates!r}")
    for name, side, emb in (
        ("source", source, source_embeddings),
        ("target", target, target_embeddings),
    ):
        if len(side) != len(emb):
            raise ValueError(f"{len(side)} {name} sentences but {len(emb)} {name} embeddings")
    src_rows, src_ids = _unify(source)
    trg_rows, trg_ids = _unify(target)
    if not src_rows or not trg_rows:
        return []
    x = torch.as_tensor(source_embeddings)[torch.as_tensor(src_rows)]
    y = torch.as_tensor(target_embeddings)[torch.as_tensor(trg_rows)]
    found = margin_candidates(x, y, k=k, block_size=block_size, normalize=normalize, device=device)
    pairs = [(i, int(j)) for i, j in enumerate(found.forward_index)]
    pairs += [(int(i), j) for j, i in enumerate(found.backward_index)]
    scores = np.concatenate([found.forward_score, found.backward_score])
    mined = []
    for i, j, score in one_to_one(pairs, scores.tolist(), min_score):
        if duplicates == "drop" and (len(src_ids[i]) > 1 or len(trg_ids[j]) > 1):
            continue
        mined.extend(MinedPair(s, t, score) for s in src_ids[i] for t in trg_ids[j])
    return mined


# --- BUCC threshold and scores -----------------------------------------------------------------


def _best_scores(candidates: Iterable[MinedPair]) -> list[tuple[tuple[str, str], float]]:
    """One entry per id pair (its highest score), sorted by score descending, stably."""
    best: dict[tuple[str, str], float] = {}
    for pair in candidates:
        key = (pair.source_id, pair.target_id)
        best[key] = max(pair.score, best.get(key, pair.score))
    return sorted(best.items(), key=lambda item: -item[1])


def optimize_threshold(candidates: Iterable[MinedPair], gold: Collection[tuple[str, str]]) -> float:
    """The score threshold maximising F1 against ``gold`` (source id, target id) pairs.

    Walking candidates from the highest score, the first strictly best F1 sets the threshold to
    the midpoint between that candidate's score and the next one's (its own score if it is last).
    """
    items, gold = _best_scores(candidates), set(gold)
    threshold, best_f1, correct = 0.0, 0.0, 0
    for position, (pair, score) in enumerate(items):
        correct += pair in gold
        if correct:
            precision, recall = correct / (position + 1), correct / len(gold)
            f1 = 2 * precision * recall / (precision + recall)
            if f1 > best_f1:
                best_f1 = f1
                following = items[position + 1][1] if position + 1 < len(items) else score
                threshold = (score + following) / 2
    return threshold


def extracted_pairs(candidates: Iterable[MinedPair], threshold: float) -> list[tuple[str, str]]:
    """The (source id, target id) pairs scoring ``>= threshold``: what BUCC submits."""
    return [pair for pair, score in _best_scores(candidates) if score >= threshold]


def pair_scores(
    candidates: Iterable[MinedPair], gold: Collection[tuple[str, str]], threshold: float
) -> dict[str, float]:
    """Precision, recall and F1 (x100) of the candidates scoring ``>= threshold``, with counts."""
    return pair_set_scores(extracted_pairs(candidates, threshold), gold) | {"threshold": threshold}


def bucc_scores(
    dev_candidates: Iterable[MinedPair],
    dev_gold: Collection[tuple[str, str]],
    test_candidates: Iterable[MinedPair],
    test_gold: Collection[tuple[str, str]],
) -> dict[str, float]:
    """BUCC F1: tune the threshold on dev gold, apply it to test. Adds ``dev_f1`` to test's keys."""
    dev_candidates = list(dev_candidates)
    threshold = optimize_threshold(dev_candidates, dev_gold)
    result = pair_scores(test_candidates, test_gold, threshold)
    result["dev_f1"] = pair_scores(dev_candidates, dev_gold, threshold)["f1"]
    return result
