"""Span QA: SQuAD-format reading, windows with character offsets, decoding, and text EM/F1
through the stock fairseq-train / fairseq-validate."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_counts_give_rows, fairseq, printed_stats

from fairseq_stilts.cli.evaluate import evaluate
from fairseq_stilts.data.prepare.encoder import PieceEncoder
from fairseq_stilts.data.prepare.folder import prepare_task
from fairseq_stilts.data.prepare.manifest import SubsetInfo
from fairseq_stilts.data.prepare.request import QAOptions
from fairseq_stilts.errors import DataError, StiltsError
from fairseq_stilts.families.span_qa.decode import (
    QuestionScores,
    WindowScores,
    decode_answer,
    decode_answers,
)
from fairseq_stilts.families.span_qa.squad_json import read_squad_json
from fairseq_stilts.families.span_qa.windows import WINDOW_FIELDS, tokenize_with_offsets, windows
from fairseq_stilts.metrics.qa import question_scores
from fairseq_stilts.tiny import DATA_DIR

SMALL = {"max_seq_length": 48, "qa": QAOptions(doc_stride=16, max_query_length=16)}


def _squad(tmp_path: Path, qas: list, context: str = "Anna works in the kitchen.") -> Path:
    path = tmp_path / "squad" / "train-v1.1.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"data": [{"paragraphs": [{"context": context, "qas": qas}]}]}
    path.write_text(json.dumps(document))
    shutil.copy(DATA_DIR / "squad" / "dev-v1.1.json", path.parent / "dev-v1.1.json")
    return path


def _qa(answers, qid: str = "q1") -> dict:
    return {"id": qid, "question": "Where does Anna work?", "answers": answers}


def test_reader_yields_questions_with_answers_and_offsets():
    questions = list(read_squad_json(DATA_DIR / "squad" / "dev-v1.1.json"))
    assert len(questions) == 30
    for q in questions:
        for text, start in zip(q.answers, q.answer_starts, strict=True):
            assert q.context[start : start + len(text)] == text
    assert any(len(q.answers) == 2 for q in questions)  # fixture has multiple gold answers


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (
            {"data": [{"paragraphs": [{"context": "c"}]}]},
            "data[0].paragraphs[0]: missing field 'qas'",
        ),
        (
            {"data": [{"paragraphs": [{"context": "c", "qas": [{"id": "a", "question": "q"}]}]}]},
            "data[0].paragraphs[0].qas[0]: missing field 'answers'",
        ),
        (
            {"data": [{"paragraphs": [{"context": "c", "qas": [_qa([{"text": "c"}])]}]}]},
            "qas[0].answers[0]: missing field 'answer_start'",
        ),
        ({"version": "1.1"}, "top level: missing field 'data'"),
    ],
)
def test_malformed_squad_json_names_the_field(tmp_path, document, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(document))
    with pytest.raises(DataError, match=re.escape(message)) as info:
        list(read_squad_json(path))
    assert str(info.value).startswith(str(path))


def test_invalid_json_names_the_line(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"data": [\n  {"paragraphs": ]\n}')
    with pytest.raises(DataError, match=r"bad.json:2: invalid JSON"):
        list(read_squad_json(path))


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({"text": "kitchen", "answer_start": 40}, "lies outside the context (26 characters)"),
        ({"text": "kitchen", "answer_start": 3}, "answer text 'kitchen' is not at answer_start 3"),
    ],
)
def test_training_answer_not_in_context_is_an_error_or_a_counted_skip(
    tmp_path, tiny_model, answer, message
):
    good = {"text": "kitchen", "answer_start": 18}
    _squad(tmp_path, [_qa([answer]), _qa([good], "q2")])
    out = tmp_path / "out"
    with pytest.raises(DataError, match=re.escape(message)) as info:
        prepare_task("squad", out, tiny_model, raw=tmp_path / "squad", workers=1)
    assert "(id 'q1')" in str(info.value) and "--skip-mismatched-answers" in str(info.value)
    assert not out.exists() and not list(tmp_path.glob(".out.*"))  # nothing half-written
    qa = QAOptions(skip_mismatched_answers=True)
    manifest = prepare_task("squad", out, tiny_model, raw=tmp_path / "squad", workers=1, qa=qa)
    assert manifest.subsets["train"] == SubsetInfo(count=1, skipped=1, rows=1)  # one window


def test_duplicate_question_ids_in_evaluation_data_are_an_error(tmp_path, tiny_model):
    raw = tmp_path / "squad"
    shutil.copytree(DATA_DIR / "squad", raw)
    document = json.loads((raw / "dev-v1.1.json").read_text())
    qas = document["data"][0]["paragraphs"][0]["qas"]
    qas[1]["id"] = qas[0]["id"]
    (raw / "dev-v1.1.json").write_text(json.dumps(document))
    with pytest.raises(DataError, match="duplicate question id"):
        prepare_task("squad", tmp_path / "out", tiny_model, raw=raw, workers=1)


def test_token_offsets_spell_the_tokens(tiny_model):
    encoder = PieceEncoder(tiny_model)
    text = "  Leo arbeitet am Dienstag im Büro. ¿Dónde trabaja Zoë?"
    tokens = tokenize_with_offsets(encoder, text)
    assert np.array_equal(tokens.ids, encoder.encode(text)[:-1])
    pieces = encoder.processor.encode(text, out_type=str)
    for piece, start, end in zip(pieces, tokens.starts, tokens.ends, strict=True):
        assert text[start:end] == piece.lstrip("▁"), piece


def _offsets_from_bytes(encoder: PieceEncoder, text: str) -> list[tuple[int, int, int]]:
    """The reference: sentencepiece's UTF-8 byte offsets mapped to characters one by one, then
    each span's leading white space skipped one character at a time."""
    proto = encoder.processor.encode(text, out_type="proto")
    char_at_byte = [i for i, ch in enumerate(text) for _ in ch.encode("utf-8")] + [len(text)]
    found = []
    for piece in proto.pieces:
        start, end = char_at_byte[piece.begin], char_at_byte[piece.end]
        while start < end and text[start].isspace():
            start += 1
        found.append((int(encoder.lookup[piece.id]), start, end))
    return found


def test_token_offsets_equal_the_byte_offsets_of_sentencepiece_pieces(tiny_model):
    encoder = PieceEncoder(tiny_model)
    texts = [
        "",
        " ",
        "\u3000\xa0 \t",
        "ﬁne Ａｂｃ ①② 😀👍🏽 e\u0301 \u3000x\xa0y  \t z",
        "Straße İstanbul ǅ \u200bzw\u200d a\r\nb \u2028c\x1cd",
    ]
    for task in ("squad", "xquad", "mlqa", "tydiqa"):
        for path in sorted((DATA_DIR / task).rglob("*.json")):
            texts += [q.context for q in read_squad_json(path)]
            texts += [q.question for q in read_squad_json(path)]
    assert len(texts) > 100
    for text in texts:
        tokens = tokenize_with_offsets(encoder, text)
        columns = (tokens.ids.tolist(), tokens.starts.tolist(), tokens.ends.tolist())
        got = list(zip(*columns, strict=True))
        assert got == _offsets_from_bytes(encoder, text), text


def test_windows_cover_the_context_with_the_stride_between_starts():
    context = np.arange(100, 150)
    question = np.arange(7, 12)
    result = windows(question, context, 0, 2, max_length=24, stride=6, max_query_length=3)
    budget = 24 - 3 - 4
    assert [w.doc_start for w in result] == list(range(0, 50 - budget + 6, 6))[: len(result)]
    assert result[-1].doc_start + result[-1].doc_len == 50
    for w in result:
        assert list(w.tokens[:6]) == [0, 7, 8, 9, 2, 2] and w.tokens[-1] == 2
        assert list(w.tokens[w.context_offset : -1]) == list(
            context[w.doc_start : w.doc_start + w.doc_len]
        )
        assert len(w.tokens) <= 24


def test_gold_positions_of_every_window_spell_the_answer(tiny_model, tmp_path):
    """Round trip on the tiny SQuAD: the stored positions, decoded through the offsets, give the
    gold text; windows without the answer point at <s>."""
    out = tmp_path / "squad"
    prepare_task("squad", out, tiny_model, raw=DATA_DIR / "squad", workers=1, **SMALL)
    encoder = PieceEncoder(tiny_model)
    table = np.load(out / "windows.train.npy")
    questions = list(read_squad_json(DATA_DIR / "squad" / "train-v1.1.json"))
    assert table.dtype == WINDOW_FIELDS
    assert len(np.unique(table["question"])) == len(questions) and len(table) > len(questions)
    found = np.zeros(len(questions), dtype=bool)
    for row in table:
        q = questions[row["question"]]
        start, end = row["start_position"], row["end_position"]
        if start == 0:
            assert end == 0
            continue
        context = tokenize_with_offsets(encoder, q.context)
        first = row["doc_start"] + start - row["context_offset"]
        last = row["doc_start"] + end - row["context_offset"]
        assert q.context[context.starts[first] : context.ends[last]] == q.answers[0]
        found[row["question"]] = True
    assert found.all()


def _scores(n: int, **spikes) -> np.ndarray:
    scores = np.zeros(n, dtype=np.float32)
    for position, value in spikes.items():
        scores[int(position[1:])] = value
    return scores


def test_decoding_keeps_max_context_max_length_and_maps_to_text():
    context = "a b c d e f g h"
    starts, ends = np.arange(0, 15, 2), np.arange(1, 16, 2)
    # two windows over 8 tokens: [0, 6) and [2, 8), context at position 3 of each
    first = WindowScores(_scores(10, p5=5.0), _scores(10, p6=5.0), 0, 6, 3)
    second = WindowScores(_scores(10, p3=1.0), _scores(10, p4=1.0), 2, 6, 3)
    assert decode_answer([first, second], context, starts, ends) == "c d"
    # token 0 of the second window (context token 2) has more context in the first window
    second = WindowScores(_scores(10, p3=9.0), _scores(10, p4=9.0), 2, 6, 3)
    assert decode_answer([first, second], context, starts, ends) == "c d"
    # token 2 of the second window (context token 4) is its own: it wins
    second = WindowScores(_scores(10, p5=9.0), _scores(10, p6=9.0), 2, 6, 3)
    assert decode_answer([first, second], context, starts, ends) == "e f"
    long = WindowScores(_scores(10, p3=5.0), _scores(10, p8=5.0, p4=1.0), 0, 6, 3)
    assert decode_answer([long], context, starts, ends, max_answer_length=2) == "a b"
    assert decode_answer([long], context, starts, ends, max_answer_length=6) == "a b c d e f"


def test_decoding_answers_nothing_when_the_null_score_wins():
    context = "a b"
    window = WindowScores(_scores(6, p0=4.0, p3=1.0), _scores(6, p0=4.0, p4=1.0), 0, 2, 3)
    starts, ends = np.array([0, 2]), np.array([1, 3])
    assert decode_answer([window], context, starts, ends) == "a b"
    assert decode_answer([window], context, starts, ends, allow_null=True) == ""
    assert (
        decode_answer([window], context, starts, ends, allow_null=True, null_threshold=7) == "a b"
    )
    assert question_scores("", []) == (1.0, 1.0)  # SQuAD v2.0: unanswerable, answered nothing
    assert question_scores("x", []) == (0.0, 0.0)
    assert question_scores("a", []) == (1.0, 1.0)  # an article alone normalises to nothing


def _decode_one_window_at_a_time(
    windows, context, token_starts, token_ends, n_best, max_answer_length, allow_null, threshold
) -> str:
    """The reference: each window on its own, its owned starts among its ``n_best`` best, the
    first strictly better span across windows."""
    owner = np.full(len(token_starts), -1)
    owner_score = np.full(len(token_starts), -np.inf)
    for w, window in enumerate(windows):
        for offset in range(window.doc_len):
            score = min(offset, window.doc_len - 1 - offset) + 0.01 * window.doc_len
            if score > owner_score[window.doc_start + offset]:
                owner[window.doc_start + offset] = w
                owner_score[window.doc_start + offset] = score
    best_score, best_span, null_score = -np.inf, None, np.inf
    for w, window in enumerate(windows):
        null_score = min(null_score, float(window.start[0] + window.end[0]))
        lo, hi = window.context_offset, window.context_offset + window.doc_len
        start, end = window.start[lo:hi], window.end[lo:hi]
        starts = [
            i
            for i in np.argsort(-start, kind="stable")[:n_best]
            if owner[window.doc_start + i] == w
        ]
        ends = np.argsort(-end, kind="stable")[:n_best]
        for i in starts:
            for j in ends:
                if 0 <= j - i < max_answer_length and float(start[i] + end[j]) > best_score:
                    best_score = float(start[i] + end[j])
                    best_span = (window.doc_start + i, window.doc_start + j)
    if best_span is None or (allow_null and null_score - best_score > threshold):
        return ""
    return context[token_starts[best_span[0]] : token_ends[best_span[1]]].strip()


@pytest.mark.parametrize("ties", [False, True])
def test_decoding_all_windows_at_once_gives_each_windows_own_answer(ties):
    rng = np.random.default_rng(7)
    decoded, questions = 0, []
    for case in range(400):
        n_tokens = int(rng.integers(1, 60))
        doc_len, stride = int(rng.integers(1, 25)), int(rng.integers(1, 12))
        question = int(rng.integers(1, 6))
        windows = []
        for doc_start in range(0, n_tokens, stride):
            length = min(doc_len, n_tokens - doc_start)
            size = question + 3 + length + 1
            drawn = [rng.integers(-3, 4, size) if ties else rng.standard_normal(size) for _ in "se"]
            start, end = (scores.astype(np.float32) for scores in drawn)
            windows.append(WindowScores(start, end, doc_start, length, question + 3))
            if doc_start + length >= n_tokens:
                break
        starts = np.arange(n_tokens) * 3
        context = " ".join(f"w{i}" for i in range(n_tokens))
        options = {
            "n_best": int(rng.integers(1, 25)),
            "max_answer_length": int(rng.integers(1, 12)),
            "allow_null": bool(case % 3 == 0),
        }
        threshold = float(rng.integers(-2, 3))
        ours = decode_answer(
            windows, context, starts, starts + 2, null_threshold=threshold, **options
        )
        reference = _decode_one_window_at_a_time(
            windows, context, starts, starts + 2, *options.values(), threshold
        )
        assert ours == reference, (case, options)
        decoded += ours != ""
        questions.append(QuestionScores(windows, context, starts, starts + 2))
    assert decoded > 200  # most cases answer something
    for options in [(20, 30, False, 0.0), (3, 4, True, 1.0), (1, 1, True, -1.0)]:
        together = decode_answers(questions, *options)  # one batch of 400 questions
        alone = [_decode_one_window_at_a_time(*vars(q).values(), *options) for q in questions]
        assert together == alone, options


def test_target_layouts_tydiqa_by_id_prefix_and_mlqa_same_language_pairs(tiny_model, tmp_path):
    tydiqa = prepare_task(
        "tydiqa", tmp_path / "t", tiny_model, raw=DATA_DIR / "tydiqa", workers=1
    ).to_json()
    assert tydiqa["languages"] == {
        "train": ["en"],
        "dev": ["en", "fi", "id"],
        "test": ["en", "fi", "id"],
    }
    train = list(read_squad_json(next((DATA_DIR / "tydiqa").glob("**/*train.json"))))
    english = [q for q in train if q.id.startswith("english-")]
    assert 0 < len(english) < len(train)
    assert tydiqa["subsets"]["train"]["count"] == len(english)
    raw = tmp_path / "mlqa"
    shutil.copytree(DATA_DIR / "mlqa", raw)
    shutil.copytree(DATA_DIR / "squad", tmp_path / "squad")
    cross = raw / "MLQA_V1/test/test-context-de-question-es.json"
    shutil.copy(raw / "MLQA_V1/test/test-context-de-question-de.json", cross)
    mlqa = prepare_task("mlqa", tmp_path / "m", tiny_model, raw=raw, workers=1).to_json()
    assert mlqa["languages"]["test"] == ["de", "en", "es"]
    assert str(cross) not in {s["path"] for s in mlqa["sources"]}


def test_hf_datasets_are_refused_for_span_qa(tmp_path, tiny_model):
    with pytest.raises(StiltsError, match="not supported for the span_qa family"):
        prepare_task("squad", tmp_path / "out", tiny_model, hf={"en": tmp_path}, workers=1)


def _train(data: Path, task: str, init: Path, save_dir: Path, *extra: str) -> None:
    fairseq(
        "fairseq-train",
        str(data),
        "--task",
        task,
        "--criterion",
        "stilts_span_qa",
        "--arch",
        "xlmr_tiny",
        "--finetune-from-model",
        str(init),
        "--optimizer",
        "stilts_adamw",
        "--lr",
        "1e-3",
        "--max-update",
        "12",
        "--batch-size",
        "8",
        "--seed",
        "3",
        "--cpu",
        "--num-workers",
        "0",
        "--save-dir",
        str(save_dir),
        "--no-epoch-checkpoints",
        "--valid-subset",
        "valid",
        "--validate-interval-updates",
        "12",
        "--best-checkpoint-metric",
        "f1",
        "--maximize-best-checkpoint-metric",
        *extra,
    )


@pytest.mark.slow
@pytest.mark.parametrize("task", ["xquad", "mlqa"])
def test_text_scores_from_fairseq_validate_equal_the_official_rules(task, tiny_model, tmp_path):
    """Phase 2 SQuAD -> phase 3 target -> fairseq-validate per language: the printed EM/F1 equal
    the official scoring of the predicted texts against the raw files' gold answers."""
    raw = tmp_path / task
    shutil.copytree(DATA_DIR / task, raw)
    shutil.copytree(DATA_DIR / "squad", tmp_path / "squad")
    squad = tmp_path / "squad_data"
    prepare_task("squad", squad, tiny_model, raw=tmp_path / "squad", workers=1, **SMALL)
    _train(squad, "squad", tiny_model / "model.pt", tmp_path / "ckpt_squad")
    data = tmp_path / "data"
    prepare_task(task, data, tiny_model, raw=raw, workers=1, **SMALL)
    _train(data, task, tmp_path / "ckpt_squad" / "checkpoint_best.pt", tmp_path / "ckpt")
    predictions = tmp_path / "predictions"
    subsets = ["test.en", "test.de", "test.es"]
    result = fairseq(
        "fairseq-validate",
        str(data),
        "--task",
        task,
        "--path",
        str(tmp_path / "ckpt" / "checkpoint_best.pt"),
        "--valid-subset",
        ",".join(subsets),
        "--batch-size",
        "4",
        "--cpu",
        "--num-workers",
        "0",
        "--log-format",
        "json",
        "--predictions-dir",
        str(predictions),
    )
    stats = printed_stats(result.stdout + result.stderr, subsets)
    for subset in subsets:  # the metrics file holds the numbers fairseq-validate printed
        written = json.loads((predictions / f"{subset}.metrics.json").read_text())
        printed = {k.removeprefix(f"{subset}_"): float(v) for k, v in stats[subset].items()}
        assert {"loss", "f1", "exact_match"} <= set(written)
        assert written == pytest.approx({k: printed[k] for k in written})
    for subset in subsets:
        lang = subset.split(".")[1]
        pattern = (
            "xquad.{}.json"
            if task == "xquad"
            else "MLQA_V1/test/test-context-{0}-question-{0}.json"
        )
        gold = {q.id: q.answers for q in read_squad_json(raw / pattern.format(lang))}
        lines = (predictions / f"{subset}.0.jsonl").read_text().splitlines()
        predicted = {
            r["prediction"]["question_id"]: r["prediction"]["text"] for r in map(json.loads, lines)
        }
        assert set(predicted) == set(gold)
        rules = lang if task == "mlqa" else None
        scores = [question_scores(predicted[qid], gold[qid], rules) for qid in gold]
        exact = 100 * sum(s[0] for s in scores) / len(scores)
        f1 = 100 * sum(s[1] for s in scores) / len(scores)
        assert float(stats[subset][f"{subset}_exact_match"]) == pytest.approx(exact, abs=1e-3)
        assert float(stats[subset][f"{subset}_f1"]) == pytest.approx(f1, abs=1e-3)
    assert any(float(stats[s][f"{s}_f1"]) > 0 for s in subsets)  # it learned something from SQuAD
    submission = tmp_path / "submission"
    counts = tmp_path / "results.examples.npz"
    checkpoint = tmp_path / "ckpt" / "checkpoint_best.pt"
    rows = evaluate(task, data, checkpoint, cpu=True, predictions=submission, counts=counts)
    assert_counts_give_rows(rows, counts)
    for row in rows:
        subset = f"test.{row['language']}"
        assert row["value"] == pytest.approx(float(stats[subset][f"{subset}_{row['metric']}"]))
    assert {(r["language"], r["metric"]) for r in rows} == {
        (lang, metric) for lang in ("en", "de", "es") for metric in ("f1", "exact_match")
    }
    for subset in subsets:
        lines = (predictions / f"{subset}.0.jsonl").read_text().splitlines()
        expected = {
            r["prediction"]["question_id"]: r["prediction"]["text"] for r in map(json.loads, lines)
        }
        written = json.loads((submission / f"test-{subset.split('.')[1]}.json").read_text())
        assert written == expected
