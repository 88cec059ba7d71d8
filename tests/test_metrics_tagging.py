"""Tagging metrics: seqeval F1 as XTREME computes it (NER and raw UPOS) and token accuracy.

Expected values are worked out by hand from seqeval 1.2.2's chunking rules: the first character of
a tag is its chunk prefix, the rest (after an optional "-") its type, and a run of the same type is
one chunk. Each case is also checked against ``seqeval.metrics.f1_score`` itself.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest
from seqeval.metrics import f1_score

from fairseq_stilts.metrics.tagging import (
    ChunkCounts,
    corpus_chunk_counts,
    f1_from_counts,
    sentence_chunk_counts,
    seqeval_f1,
    tagging_scores,
    token_accuracy,
    token_counts,
)

MODULES = Path(__file__).resolve().parents[1] / "fairseq_stilts" / "metrics" / "evaluate_modules"


def seqeval(references, predictions) -> float:
    """The official number (x100), silencing seqeval's "not NE tag" warnings on UPOS."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return 100 * f1_score(references, predictions)


# gold NOUN NOUN VERB -> N+OUN, N+OUN, V+ERB: chunks OUN(0-1), ERB(2)           = 2 gold
# pred NOUN PROPN VERB -> OUN(0), ROPN(1), ERB(2)                                 = 3 predicted
# correct: ERB(2) only                                                            = 1
# F1 = 2*1 / (2+3) = 40; precision 1/3 = 33.33; recall 1/2 = 50; tokens 2/3 = 66.67
POS_GOLD = [["NOUN", "NOUN", "VERB"]]
POS_PRED = [["NOUN", "PROPN", "VERB"]]


def test_upos_runs_of_a_type_merge_into_one_chunk():
    assert corpus_chunk_counts(POS_GOLD, POS_PRED) == ChunkCounts(predicted=3, gold=2, correct=1)
    assert seqeval_f1(POS_GOLD, POS_PRED) == pytest.approx(40.0)
    assert seqeval(POS_GOLD, POS_PRED) == pytest.approx(40.0)
    assert tagging_scores(POS_GOLD, POS_PRED) == pytest.approx(
        {
            "seqeval_f1": 40.0,
            "seqeval_precision": 100 / 3,
            "seqeval_recall": 50.0,
            "token_accuracy": 200 / 3,
        }
    )


def test_cconj_and_sconj_share_a_type_under_seqeval_1x():
    # CCONJ = C+CONJ and SCONJ = S+CONJ: same type CONJ, so gold CONJ(0) OUN(1) and pred CONJ(0)
    # OUN(1) match: F1 = 2*2/(2+2) = 100 although only 1 of 2 tokens is right (accuracy 50).
    gold, pred = [["CCONJ", "NOUN"]], [["SCONJ", "NOUN"]]
    assert corpus_chunk_counts(gold, pred) == ChunkCounts(2, 2, 2)
    assert seqeval_f1(gold, pred) == pytest.approx(100.0) == seqeval(gold, pred)
    assert token_accuracy(gold, pred) == pytest.approx(50.0)


# sentence 0: gold PER(0-1) LOC(3); pred PER(0) LOC(3)           -> pred 2, gold 2, correct 1
# sentence 1: gold ORG(0-2);       pred ORG(0-1) ORG(2)          -> pred 2, gold 1, correct 0
# sentence 2: gold PER(0-1); pred I-PER I-PER starts a chunk too -> pred 1, gold 1, correct 1
# corpus: pred 5, gold 4, correct 2: P = 2/5 = 40, R = 2/4 = 50, F1 = 2*2/(5+4) = 44.44
NER_GOLD = [
    ["B-PER", "I-PER", "O", "B-LOC"],
    ["B-ORG", "I-ORG", "I-ORG"],
    ["B-PER", "I-PER", "O"],
]
NER_PRED = [
    ["B-PER", "O", "O", "B-LOC"],
    ["B-ORG", "I-ORG", "B-ORG"],
    ["I-PER", "I-PER", "O"],
]


def test_iob2_entities_need_exact_boundaries_and_type():
    scores = tagging_scores(NER_GOLD, NER_PRED)
    assert scores["seqeval_f1"] == pytest.approx(400 / 9)
    assert scores["seqeval_precision"] == pytest.approx(40.0)
    assert scores["seqeval_recall"] == pytest.approx(50.0)
    assert seqeval(NER_GOLD, NER_PRED) == pytest.approx(400 / 9)
    # tokens right: 3 of 4, 2 of 3, 2 of 3 -> 7/10
    assert scores["token_accuracy"] == pytest.approx(70.0)


def test_sentence_counts_sum_to_seqeval_corpus_f1():
    per_sentence = sentence_chunk_counts(NER_GOLD, NER_PRED)
    assert per_sentence == [ChunkCounts(2, 2, 1), ChunkCounts(2, 1, 0), ChunkCounts(1, 1, 1)]
    total = sum(per_sentence, ChunkCounts())
    assert total == ChunkCounts(5, 4, 2)
    assert 100 * 2 * total.correct / (total.predicted + total.gold) == pytest.approx(
        seqeval(NER_GOLD, NER_PRED)
    )

    pos_gold = [["NOUN", "NOUN", "VERB"], ["DET", "ADJ", "NOUN", "PUNCT"], ["PRON", "AUX"]]
    pos_pred = [["NOUN", "PROPN", "VERB"], ["DET", "ADV", "NOUN", "PUNCT"], ["PRON", "VERB"]]
    # s0: pred 3, gold 2, correct 1 (above)
    # s1: gold ET DJ OUN UNCT, pred ET DV OUN UNCT -> pred 4, gold 4, correct 3
    # s2: gold RON UX, pred RON ERB                -> pred 2, gold 2, correct 1
    # sum: pred 9, gold 8, correct 5 -> F1 = 2*5/(9+8) = 58.82
    total = sum(sentence_chunk_counts(pos_gold, pos_pred), ChunkCounts())
    assert total == ChunkCounts(9, 8, 5)
    assert total.f1 == pytest.approx(1000 / 17)
    assert seqeval(pos_gold, pos_pred) == pytest.approx(1000 / 17)


def test_x_at_a_sentence_edge_makes_seqeval_1x_depend_on_the_neighbour():
    # X is X + empty type, the type seqeval 1.x also gives the "O" it puts between sentences, so
    # an X opening sentence 1 never starts a chunk: it extends the last chunk start of sentence 0.
    gold = [["NOUN", "NOUN"], ["X", "VERB"]]
    pred = [["VERB", "NOUN"], ["X", "VERB"]]
    # corpus (positions 0 1 | sep 2 | 3 4):
    #   gold OUN(0-1), _(0-3), ERB(4)          -> 3
    #   pred ERB(0), OUN(1), _(1-3), ERB(4)    -> 4;  correct ERB(4) = 1 -> F1 = 2/7 = 28.57
    assert corpus_chunk_counts(gold, pred) == ChunkCounts(4, 3, 1)
    assert seqeval_f1(gold, pred) == pytest.approx(200 / 7) == seqeval(gold, pred)
    # sentence by sentence: s0 pred 2, gold 1, correct 0; s1 _(0) ERB(1) both sides -> 2, 2, 2
    # sum 4, 3, 2 -> F1 = 4/7: per-sentence sums are NOT seqeval's corpus F1 in this case.
    total = sum(sentence_chunk_counts(gold, pred), ChunkCounts())
    assert total == ChunkCounts(4, 3, 2)
    assert total.f1 == pytest.approx(400 / 7)


def test_token_accuracy_counts_tokens_not_sentences():
    gold, pred = [["A", "B", "C"], ["D"]], [["A", "X", "C"], ["D"]]
    assert token_counts(gold[0], pred[0]) == (2, 3)
    assert token_accuracy(gold, pred) == pytest.approx(75.0)  # (2 + 1) / (3 + 1)
    assert token_accuracy([], []) == 0.0


def test_counts_give_zero_f1_when_nothing_matches():
    assert f1_from_counts(0, 0, 0) == 0.0
    assert f1_from_counts(3, 2, 0) == 0.0
    assert f1_from_counts(4, 2, 2) == pytest.approx(100 * 2 * 2 / 6)


def test_mismatched_lengths_name_the_sentence():
    with pytest.raises(ValueError, match="sentence 1: 2 reference tags but 1 predicted"):
        seqeval_f1([["O"], ["O", "O"]], [["O"], ["O"]])
    with pytest.raises(ValueError, match="sentence 0"):
        sentence_chunk_counts([["O"]], [["O", "B-PER"]])
    with pytest.raises(ValueError, match="2 reference sentences but 1 predicted"):
        token_accuracy([["O"], ["O"]], [["O"]])


def test_evaluate_module_loads_offline_by_path(monkeypatch):
    monkeypatch.setenv("HF_EVALUATE_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import evaluate

    metric = evaluate.load(os.fspath(MODULES / "stilts_seqeval"), keep_in_memory=True)
    scores = metric.compute(predictions=NER_PRED, references=NER_GOLD)
    assert scores["seqeval_f1"] == pytest.approx(400 / 9)
    assert scores["token_accuracy"] == pytest.approx(70.0)
    scores = metric.compute(predictions=POS_PRED, references=POS_GOLD)
    assert scores["seqeval_f1"] == pytest.approx(40.0)
