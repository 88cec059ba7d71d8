"""Retrieval metrics: blocked k-NN, Tatoeba accuracy, BUCC margin mining, threshold and F1.

Toy embeddings use Pythagorean unit vectors, so cosines are exact decimals: (1, 0).(0.8, 0.6) = 0.8,
(0.6, 0.8).(0.8, 0.6) = 0.96, (0.96, 0.28).(0.6, 0.8) = 0.8, (0.28, 0.96).(0.6, 0.8) = 0.936, ...
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from fairseq_stilts.metrics.retrieval import (
    MinedPair,
    aligned_accuracy,
    aligned_counts,
    bucc_scores,
    knn,
    margin_candidates,
    mine_pairs,
    one_to_one,
    optimize_threshold,
    pair_scores,
    tatoeba_predictions,
)

MODULES = Path(__file__).resolve().parents[1] / "fairseq_stilts" / "metrics" / "evaluate_modules"


@pytest.mark.parametrize("block_size", [1, 2, 5, 16, 100])
@pytest.mark.parametrize("k", [1, 3, 4, 17, 20])
def test_blocked_knn_equals_brute_force(block_size, k):
    rng = np.random.default_rng(block_size * 100 + k)
    queries, candidates = rng.normal(size=(23, 5)), rng.normal(size=(17, 5))
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    c = candidates / np.linalg.norm(candidates, axis=1, keepdims=True)
    full = q @ c.T  # the brute-force N x M matrix the blocked search never builds
    expected_ind = np.argsort(-full, axis=1)[:, : min(k, 17)]
    sims, inds = knn(queries, candidates, k, block_size=block_size)
    assert inds.shape == (23, min(k, 17))
    np.testing.assert_array_equal(inds, expected_ind)
    np.testing.assert_allclose(sims, np.take_along_axis(full, expected_ind, axis=1), atol=1e-12)


def test_knn_accepts_torch_float32_and_breaks_k1_ties_by_lowest_index():
    candidates = torch.tensor([[0.0, 1.0], [1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    for block_size in (1, 2, 4):
        _, inds = knn(torch.tensor([[2.0, 0.0]]), candidates, 1, block_size=block_size)
        assert inds.tolist() == [[1]]


# English e0 (1, 0), e1 (0.96, 0.28), e2 (0.28, 0.96); other o0 (0.8, 0.6), o1 (0.6, 0.8),
# o2 (0.28, 0.96):
#   e0 -> o0 .8, o1 .6, o2 .28       nearest o0  (right)
#   e1 -> o0 .936, o1 .8, o2 .5376   nearest o0  (wrong, gold o1)
#   e2 -> o0 .8, o1 .936, o2 1       nearest o2  (right)            accuracy 2/3 = 66.67
# With the other language as queries it would be 1/3 (o0 -> e1, o1 -> e2, o2 -> e2).
ENGLISH = np.array([[1.0, 0.0], [0.96, 0.28], [0.28, 0.96]])
OTHER = np.array([[0.8, 0.6], [0.6, 0.8], [0.28, 0.96]])


def test_tatoeba_english_lines_are_the_queries():
    assert tatoeba_predictions(ENGLISH, OTHER).tolist() == [0, 0, 2]
    assert aligned_counts(tatoeba_predictions(ENGLISH, OTHER)) == (2, 3)
    assert aligned_accuracy(tatoeba_predictions(ENGLISH, OTHER)) == pytest.approx(200 / 3)
    assert aligned_accuracy(tatoeba_predictions(OTHER, ENGLISH)) == pytest.approx(100 / 3)
    assert aligned_accuracy([]) == 0.0


def test_tatoeba_normalises_and_blocks():
    scaled = ENGLISH * np.array([[3.0], [0.5], [7.0]])  # cosine ignores length
    for block_size in (1, 2):
        predicted = tatoeba_predictions(scaled, OTHER, block_size=block_size)
        assert predicted.tolist() == [0, 0, 2]


# BUCC toy, k = 2. Sources x0 (1, 0), x1 (0.6, 0.8), x2 (0, 1);
# targets y0 (0.8, 0.6), y1 (0.96, 0.28), y2 (0.28, 0.96). Cosines:
#         y0    y1    y2
#   x0   .8    .96   .28      2-NN mean x0 = (.96 + .8) / 2   = .88
#   x1   .96   .8    .936     2-NN mean x1 = (.96 + .936) / 2 = .948
#   x2   .6    .28   .96      2-NN mean x2 = (.96 + .6) / 2   = .78
#   2-NN mean y0 = (.96 + .8) / 2 = .88; y1 = (.96 + .8) / 2 = .88; y2 = (.96 + .936) / 2 = .948
# Forward (x's 2 neighbours, margin = cos / ((mean x + mean y) / 2)):
#   x0: y1 .96/.88 = 1.0909, y0 .8/.88 = .9091                      -> y1, 12/11
#   x1: y0 .96/((.948+.88)/2) = .96/.914 = 1.0503, y2 .936/.948 = .9873  -> y0, .96/.914
#   x2: y2 .96/((.78+.948)/2) = .96/.864 = 1.1111, y0 .6/.83 = .7229     -> y2, 10/9
# Backward (y's 2 neighbours):
#   y0: x1 .96/.914 = 1.0503, x0 .8/.88 = .9091                      -> x1, .96/.914
#   y1: x0 .96/.88 = 1.0909, x1 .8/.914 = .8753                      -> x0, 12/11
#   y2: x2 .96/.864 = 1.1111, x1 .936/.948 = .9873                   -> x2, 10/9
SOURCE = np.array([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])
TARGET = np.array([[0.8, 0.6], [0.96, 0.28], [0.28, 0.96]])


def test_ratio_margin_candidates_by_hand():
    found = margin_candidates(SOURCE, TARGET, k=2)
    assert found.forward_index.tolist() == [1, 0, 2]
    np.testing.assert_allclose(found.forward_score, [12 / 11, 0.96 / 0.914, 10 / 9])
    assert found.backward_index.tolist() == [1, 0, 2]
    np.testing.assert_allclose(found.backward_score, [0.96 / 0.914, 12 / 11, 10 / 9])


def test_mining_returns_id_pairs_best_first():
    source = {"de-1": "eins", "de-2": "zwei", "de-3": "drei"}
    target = {"en-1": "one", "en-2": "two", "en-3": "three"}
    mined = mine_pairs(source, SOURCE, target, TARGET, k=2, block_size=2)
    assert [(p.source_id, p.target_id) for p in mined] == [
        ("de-3", "en-3"),  # 10/9 = 1.1111
        ("de-1", "en-2"),  # 12/11 = 1.0909
        ("de-2", "en-1"),  # .96/.914 = 1.0503
    ]
    np.testing.assert_allclose([p.score for p in mined], [10 / 9, 12 / 11, 0.96 / 0.914])


def test_greedy_one_to_one_by_score():
    # sorted: (0,1) .95 kept; (0,0) .9 source 0 used; (1,1) .8 target 1 used; (1,0) .7 kept;
    # (2,2) -.1 free but not above min_score 0.
    pairs = [(0, 0), (0, 1), (1, 1), (1, 0), (2, 2)]
    kept = one_to_one(pairs, [0.9, 0.95, 0.8, 0.7, -0.1])
    assert kept == [(0, 1, 0.95), (1, 0, 0.7)]
    # a tie keeps the earlier pair (forward candidates come first)
    assert one_to_one([(0, 0), (1, 0)], [0.5, 0.5]) == [(0, 0, 0.5)]


def test_mining_keeps_the_best_pair_when_two_sources_want_one_target():
    # k = 1. x0 (1, 0) and x1 (0.96, 0.28) both have y0 (1, 0) nearest; y1 (0, 1).
    #   1-NN: x0 -> y0 1, x1 -> y0 .96; y0 -> x0 1, y1 -> x1 .28
    #   forward: x0-y0 1/((1+1)/2) = 1; x1-y0 .96/((.96+1)/2) = .96/.98 = .9796
    #   backward: y0-x0 1; y1-x1 .28/((.28+.96)/2) = .28/.62 = .4516
    #   greedy: x0-y0 (1), x0-y0 again (used), x1-y0 (y0 used), x1-y1 .4516 kept
    source = {"a": "a", "b": "b"}
    target = {"A": "A", "B": "B"}
    mined = mine_pairs(source, [[1, 0], [0.96, 0.28]], target, [[1, 0], [0, 1]], k=1)
    assert [(p.source_id, p.target_id) for p in mined] == [("a", "A"), ("b", "B")]
    np.testing.assert_allclose([p.score for p in mined], [1.0, 0.28 / 0.62])


# Duplicates: "hello" occurs twice on the source side (ids s1, s3, same embedding).
# Unique rows: hello (1, 0), world (0, 1); targets hallo (0.96, 0.28), welt (0.28, 0.96).
# k = 1: every row's nearest cosine is .96, so hello-hallo and world-welt score .96/.96 = 1.
DUP_SOURCE = {"s1": "hello", "s2": "world", "s3": " hello "}
DUP_SOURCE_EMB = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
DUP_TARGET = {"t1": "hallo", "t2": "welt"}
DUP_TARGET_EMB = np.array([[0.96, 0.28], [0.28, 0.96]])


def test_duplicate_sentences_are_merged_then_dropped_by_default():
    mined = mine_pairs(DUP_SOURCE, DUP_SOURCE_EMB, DUP_TARGET, DUP_TARGET_EMB, k=1)
    assert mined == [MinedPair("s2", "t2", pytest.approx(1.0))]
    # gold s1-t1 can no longer be found: P = 1/1, R = 1/2, F1 = 2*.5/1.5 = 66.67
    scores = pair_scores(mined, {("s1", "t1"), ("s2", "t2")}, threshold=0.5)
    assert scores["precision"] == pytest.approx(100.0)
    assert scores["recall"] == pytest.approx(50.0)
    assert scores["f1"] == pytest.approx(200 / 3)


def test_duplicate_sentences_can_expand_to_all_their_ids():
    # merged before mining, so one-to-one does not stop both ids from pairing with t1
    mined = mine_pairs(
        DUP_SOURCE, DUP_SOURCE_EMB, DUP_TARGET, DUP_TARGET_EMB, k=1, duplicates="expand"
    )
    assert {(p.source_id, p.target_id) for p in mined} == {("s1", "t1"), ("s3", "t1"), ("s2", "t2")}
    np.testing.assert_allclose([p.score for p in mined], [1.0, 1.0, 1.0])


def pairs(*items: tuple[str, float]) -> list[MinedPair]:
    return [MinedPair(name, name.upper(), score) for name, score in items]


def gold(*names: str) -> set[tuple[str, str]]:
    return {(name, name.upper()) for name in names}


def test_threshold_is_the_midpoint_after_the_best_f1():
    # gold a, c, e (e never mined: 3 gold pairs)
    #   a .9 right: P 1/1, R 1/3 -> F1 = 2*(1/3)/(4/3) = .5   best, threshold (.9+.8)/2 = .85
    #   b .8 wrong: P 1/2, R 1/3 -> F1 = .4
    #   c .7 right: P 2/3, R 2/3 -> F1 = .667                 best, threshold (.7+.6)/2 = .65
    #   d .6 wrong: P 2/4, R 2/3 -> F1 = 4/7 = .571
    candidates = pairs(("b", 0.8), ("a", 0.9), ("d", 0.6), ("c", 0.7))  # order does not matter
    assert optimize_threshold(candidates, gold("a", "c", "e")) == pytest.approx(0.65)
    scores = pair_scores(candidates, gold("a", "c", "e"), 0.65)  # extracted a, b, c
    assert scores["f1"] == pytest.approx(200 / 3)
    assert (scores["n_extracted"], scores["n_gold"], scores["n_correct"]) == (3, 3, 2)


def test_threshold_when_the_best_f1_is_at_the_lowest_score():
    # a .9 wrong (F1 undefined, skipped); b .5 right: P 1/2, R 1 -> F1 2/3, no next score
    candidates = pairs(("a", 0.9), ("b", 0.5))
    assert optimize_threshold(candidates, gold("b")) == pytest.approx(0.5)
    assert pair_scores(candidates, gold("b"), 0.5)["f1"] == pytest.approx(200 / 3)


def test_threshold_inside_a_run_of_equal_scores_reports_f1_at_score_ge_threshold():
    # a .9 right: P 1, R 1/2 -> 2/3, threshold .8; b .7 right: P 1, R 1 -> F1 1 (best),
    # threshold (.7 + .7)/2 = .7, but c (.7, wrong) is also >= .7: P 2/3, R 1 -> F1 = .8
    candidates = pairs(("a", 0.9), ("b", 0.7), ("c", 0.7), ("d", 0.5))
    threshold = optimize_threshold(candidates, gold("a", "b"))
    assert threshold == pytest.approx(0.7)
    assert pair_scores(candidates, gold("a", "b"), threshold)["f1"] == pytest.approx(80.0)


def test_no_correct_candidate_gives_the_reference_default_threshold():
    assert optimize_threshold(pairs(("a", 0.9)), gold("z")) == 0.0
    assert optimize_threshold([], gold("z")) == 0.0
    assert pair_scores(pairs(("a", 0.9)), gold("z"), 0.0)["f1"] == 0.0


def test_bucc_tunes_on_dev_and_applies_to_test():
    dev = pairs(("a", 0.9), ("b", 0.8), ("c", 0.7), ("d", 0.6))  # threshold .65 (above)
    # test: p .8 right, q .66 wrong, r .64 right; extracted p, q -> P 1/2, R 1/2, F1 50
    test = pairs(("p", 0.8), ("q", 0.66), ("r", 0.64))
    scores = bucc_scores(dev, gold("a", "c", "e"), test, gold("p", "r"))
    assert scores["threshold"] == pytest.approx(0.65)
    assert scores["dev_f1"] == pytest.approx(200 / 3)
    assert scores["precision"] == pytest.approx(50.0)
    assert scores["recall"] == pytest.approx(50.0)
    assert scores["f1"] == pytest.approx(50.0)


def test_mismatched_embeddings_are_refused():
    with pytest.raises(ValueError, match="3 source sentences but 2 source embeddings"):
        mine_pairs({"a": "a", "b": "b", "c": "c"}, SOURCE[:2], {"x": "x"}, TARGET[:1])
    with pytest.raises(ValueError, match="duplicates"):
        mine_pairs({}, SOURCE[:0], {}, TARGET[:0], duplicates="keep")


def test_bucc_evaluate_module_loads_offline_by_path(monkeypatch):
    monkeypatch.setenv("HF_EVALUATE_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import evaluate

    metric = evaluate.load(os.fspath(MODULES / "stilts_bucc"), keep_in_memory=True)

    def rows(candidates):
        return [
            {"source_id": p.source_id, "target_id": p.target_id, "score": p.score}
            for p in candidates
        ]

    def refs(*names):
        return [{"source_id": s, "target_id": t} for s, t in sorted(gold(*names))]

    dev = metric.compute(predictions=[rows(pairs(("a", 0.9), ("b", 0.5)))], references=[refs("b")])
    assert dev["threshold"] == pytest.approx(0.5)
    assert dev["f1"] == pytest.approx(200 / 3)
    test = pairs(("p", 0.8), ("q", 0.66), ("r", 0.64))
    scores = metric.compute(predictions=[rows(test)], references=[refs("p", "r")], threshold=0.65)
    assert scores["f1"] == pytest.approx(50.0)
