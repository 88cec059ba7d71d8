"""The tagging family: token-tag reader, first-sub-token labels, long-sentence splitting and
re-joining for scoring, heads, and prepare -> fairseq-train -> fairseq-validate / stilts-eval on
UDPOS."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import assert_counts_give_rows, fairseq, train_args
from fairseq import checkpoint_utils
from fairseq.data import Dictionary, data_utils
from seqeval.metrics.sequence_labeling import get_entities

from fairseq_stilts.cli.evaluate import evaluate
from fairseq_stilts.data.prepare.encoder import PieceEncoder
from fairseq_stilts.data.prepare.folder import prepare_task
from fairseq_stilts.data.prepare.readers import get_reader
from fairseq_stilts.errors import DataError
from fairseq_stilts.families.tagging.criterion import TaggingCriterion
from fairseq_stilts.families.tagging.prepare import encode_words, tagging_parts_from_files
from fairseq_stilts.metrics.tagging import sentence_chunk_counts, token_counts
from fairseq_stilts.models.stilts_xlmr import TaggingHead
from fairseq_stilts.registry import get_spec
from fairseq_stilts.tiny import DATA_DIR


def _read(path: Path, lang: str | None = None) -> list:
    return list(get_reader("token_tags")(path, {}, ("tokens",), False, lang=lang))


def _layout(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).write_text(text, encoding="utf-8")
    return root


# Reader.


def test_sentences_are_split_at_blank_lines_and_panx_prefixes_removed(tmp_path):
    path = tmp_path / "dev-de.tsv"
    path.write_text("de:Anna\tB-PER\nde:lacht\tO\n\n\nen:Paris\tB-LOC\nde:\tO\n")
    first, second = _read(path, lang="de")
    assert (first.tokens, first.tags, first.lines) == (("Anna", "lacht"), ("B-PER", "O"), (1, 2))
    # only the file's own language is a prefix; a bare "de:" is a token
    assert (second.tokens, second.line) == (("en:Paris", "de:"), 5)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("a\tNOUN\nb\n", 2, "expected token<TAB>tag, found no tag (1 column)"),
        ("a\tNOUN\tx\n", 1, "expected token<TAB>tag, found 3 columns"),
        ("a\tNOUN\n\n \tNOUN\n", 3, "empty token"),
        ("a\t\n", 1, "empty tag"),
    ],
)
def test_bad_lines_are_errors_with_file_and_line(tmp_path, text, line, message):
    path = tmp_path / "train-en.tsv"
    path.write_text(text)
    with pytest.raises(DataError) as info:
        _read(path)
    assert f"{path}:{line}" in str(info.value) and message in str(info.value)


def test_unknown_tag_lists_the_expected_set(tmp_path):
    raw = _layout(tmp_path, {"train-en.tsv": "a\tNOUN\n", "dev-en.tsv": "a\tNOUN\nb\tNOPE\n"})
    with pytest.raises(DataError) as info:
        tagging_parts_from_files(get_spec("udpos"), raw, None)
    message = str(info.value)
    assert f"{raw / 'dev-en.tsv'}:2" in message and "unknown tag 'NOPE'" in message
    assert "'ADJ'" in message and "'X'" in message


def test_ccg_takes_its_tags_from_the_training_file(tmp_path):
    raw = _layout(
        tmp_path, {"train.tsv": "Anna\tNP\nsleeps\tS\\NP\n", "dev.tsv": "Ben\tNP\nruns\tS/NP\n"}
    )
    with pytest.raises(DataError) as info:
        tagging_parts_from_files(get_spec("ccg"), raw, None)
    assert f"{raw / 'dev.tsv'}:2" in str(info.value)
    assert "unknown tag 'S/NP' (not in the training file's tags)" in str(info.value)
    (raw / "dev.tsv").write_text("Ben\tS\\NP\n")
    parts, labels = tagging_parts_from_files(get_spec("ccg"), raw, None)
    assert labels == ("NP", "S\\NP")
    assert [p.labels for p in parts] == [[[0, 1]], [[1]]]


# Encoding.


def _rows(data: Path, subset: str, name: str) -> list[np.ndarray]:
    dictionary = Dictionary.load(str(data / name / "dict.txt"))
    dataset = data_utils.load_indexed_dataset(str(data / name / subset), dictionary)
    return [dataset[i].numpy() for i in range(len(dataset))]


@pytest.mark.parametrize("task", ["udpos", "panx", "ccg"])
def test_word_by_word_pieces_equal_the_joined_sentence_pieces(tiny_model, task):
    encoder = PieceEncoder(tiny_model)
    parts, _ = tagging_parts_from_files(get_spec(task), DATA_DIR / task, None)
    for part in parts:
        for words in part.examples:
            joined = np.concatenate(encode_words(encoder, words))
            assert joined.tolist() == encoder.encode(" ".join(words))[:-1].tolist()


def test_labels_sit_on_the_first_sub_token_of_each_word(tiny_model, prepared):
    data = prepared("udpos")
    encoder = PieceEncoder(tiny_model)
    parts, labels = tagging_parts_from_files(get_spec("udpos"), DATA_DIR / "udpos", None)
    train = [p for p in parts if p.split == "train"]
    words = [w for p in train for w in p.examples]
    tags = [t for p in train for t in p.labels]
    label_dict = Dictionary.load(str(data / "label" / "dict.txt"))
    tokens, targets = _rows(data, "train", "input0"), _rows(data, "train", "label")
    assert len(tokens) == len(words)  # nothing split at the default 256
    multi_piece = 0
    for sentence, sentence_tags, ids, target in zip(words, tags, tokens, targets, strict=True):
        assert len(ids) == len(target) and ids[-1] == encoder.dictionary.eos()
        expected = []
        for pieces, tag in zip(encode_words(encoder, sentence), sentence_tags, strict=True):
            expected += [label_dict.index(labels[tag])] + [label_dict.pad()] * (len(pieces) - 1)
            multi_piece += len(pieces) > 1
        assert target.tolist() == [*expected, label_dict.pad()]
    assert multi_piece > 0


def test_long_sentences_are_split_at_word_boundaries_not_truncated(tiny_model, tmp_path):
    data = tmp_path / "udpos"
    manifest = prepare_task(
        "udpos", data, tiny_model, raw=DATA_DIR / "udpos", workers=1, max_seq_length=24
    ).to_json()
    assert manifest["max_seq_length"] == 24
    encoder = PieceEncoder(tiny_model)
    parts, _ = tagging_parts_from_files(get_spec("udpos"), DATA_DIR / "udpos", {"en"})
    sentences = [w for p in parts if p.split == "train" for w in p.examples]
    ids = np.load(data / "sentence_ids.train.npy")
    tokens, targets = _rows(data, "train", "input0"), _rows(data, "train", "label")
    assert len(ids) == len(tokens) == manifest["subsets"]["train"]["rows"] > len(sentences)
    assert manifest["subsets"]["train"]["count"] == len(sentences)
    pad = Dictionary.load(str(data / "label" / "dict.txt")).pad()
    for k, words in enumerate(sentences):
        rows = [i for i, (s, _) in enumerate(ids) if s == k]
        assert [ids[i][1] for i in rows] == list(range(len(rows)))
        joined = np.concatenate([tokens[i][:-1] for i in rows])
        assert joined.tolist() == np.concatenate(encode_words(encoder, words)).tolist()
        assert sum(int((targets[i] != pad).sum()) for i in rows) == len(words)
        for i in rows:
            assert len(tokens[i]) + 1 <= 24  # with <s>
            assert targets[i][0] != pad  # every piece starts at a word
    assert max(len(w) for w in sentences) > 22


# Training and evaluation through the stock executables.


def _tagging_args(
    data: Path, init: Path, save_dir: Path, updates: int, *extra: str, task: str = "udpos"
) -> list:
    args = train_args(task, data, init, save_dir, updates, *extra)
    args[args.index("stilts_classification")] = "stilts_tagging"
    return args


@pytest.mark.slow
def test_a_sentence_head_cannot_be_trained_as_a_tagging_head(tmp_path, prepared, mnli_checkpoint):
    result = fairseq(
        "fairseq-train",
        *_tagging_args(prepared("udpos"), mnli_checkpoint, tmp_path, 1, "--head-name", "mnli"),
        check=False,
    )
    assert result.returncode != 0
    assert "head 'mnli' is a per-sentence head, the task needs a per-token (tagging) one" in (
        result.stdout + result.stderr
    )


def _row_tags(model, task, subset: str) -> list[tuple[list[str], list[str]]]:
    """(gold, predicted) tag names of each stored row, straight from the model's argmax."""
    data = Path(task.cfg.data)
    labels = task.label_dictionary
    names = labels.symbols[labels.nspecial :]
    tags = []
    for ids, target in zip(
        _rows(data, subset, "input0"), _rows(data, subset, "label"), strict=True
    ):
        tokens = torch.tensor([[task.dictionary.bos(), *ids.tolist()]])
        with torch.no_grad():
            logits, _ = model(tokens, features_only=True, classification_head_name=task.head_name)
        keep = np.concatenate([[False], target != labels.pad()])
        pred = [names[i] for i in logits[0].argmax(-1).numpy()[keep]]
        tags.append(([labels[i] for i in target[target != labels.pad()]], pred))
    return tags


def _independent_scores(model, task, subset: str) -> dict[str, float]:
    """Per-sentence seqeval counts and token accuracy (no sentence is split here)."""
    predicted = gold = correct = tok_correct = tok_total = 0
    for ref, pred in _row_tags(model, task, subset):
        with warnings.catch_warnings():  # "NOUN seems not to be NE tag"
            warnings.simplefilter("ignore")
            p, g = set(get_entities(pred)), set(get_entities(ref))
        predicted, gold, correct = predicted + len(p), gold + len(g), correct + len(p & g)
        tok_correct += sum(a == b for a, b in zip(pred, ref, strict=True))
        tok_total += len(ref)
    f1 = 0.0 if correct == 0 else 100 * 2 * correct / (predicted + gold)
    return {"seqeval_f1": f1, "token_accuracy": 100 * tok_correct / tok_total}


def _tag_sentences(path: Path) -> list[list[str]]:
    """The last column of each line, sentence by sentence (blank lines between sentences)."""
    blocks = re.split(r"\n\s*\n", path.read_text(encoding="utf-8").strip())
    return [[line.split("\t")[-1] for line in block.splitlines()] for block in blocks]


@pytest.mark.slow
def test_udpos_trains_and_validates_per_language(tmp_path, tiny_model, prepared):
    data = prepared("udpos")
    fairseq(
        "fairseq-train", *_tagging_args(data, tiny_model / "model.pt", tmp_path, 6, "--lr", "3e-3")
    )
    checkpoint = tmp_path / "checkpoint_last.pt"
    result = fairseq(
        "fairseq-validate",
        str(data),
        "--task",
        "udpos",
        "--path",
        str(checkpoint),
        "--valid-subset",
        "valid,valid.de",
        "--batch-size",
        "8",
        "--cpu",
        "--num-workers",
        "0",
        "--log-format",
        "json",
    )
    stats = {}
    for line in (result.stdout + result.stderr).splitlines():
        parts = line.split(" | ", 3)
        if len(parts) == 4 and parts[2] in ("valid", "valid.de") and parts[3].startswith("{"):
            stats[parts[2]] = json.loads(parts[3])
    assert set(stats) == {"valid", "valid.de"}
    (model,), _, task = checkpoint_utils.load_model_ensemble_and_task(
        [str(checkpoint)], arg_overrides={"data": str(data)}
    )
    model.eval()
    for subset in ("valid", "valid.de"):
        expected = _independent_scores(model, task, subset)
        for metric, value in expected.items():
            assert float(stats[subset][f"{subset}_{metric}"]) == pytest.approx(value, abs=1e-3)
    assert expected["token_accuracy"] > 0
    # the hub's way of loading (load_checkpoint_heads) rebuilds a tagging head as a tagging head
    (model,), _, _ = checkpoint_utils.load_model_ensemble_and_task(
        [str(checkpoint)],
        arg_overrides={"data": str(data), "load_checkpoint_heads": True, "head_name": "other"},
    )
    assert set(model.classification_heads) == {"udpos", "other"}
    assert all(isinstance(h, TaggingHead) for h in model.classification_heads.values())

    # stilts-eval writes XTREME's tag files: the raw files' sentences, one tag per token
    out = tmp_path / "predictions"
    counts = tmp_path / "results.examples.npz"
    rows = evaluate("udpos", data, checkpoint, "test", cpu=True, predictions=out, counts=counts)
    assert_counts_give_rows(rows, counts)
    reported = {(row["language"], row["metric"]): row["value"] for row in rows}
    assert sorted(p.name for p in out.iterdir()) == [
        f"test-{x}.tsv" for x in ("de", "en", "es", "fr")
    ]
    for lang in ("en", "de", "es", "fr"):
        gold = _tag_sentences(DATA_DIR / "udpos" / f"test-{lang}.tsv")
        predicted = _tag_sentences(out / f"test-{lang}.tsv")
        assert [len(tags) for tags in predicted] == [len(tags) for tags in gold]
        correct, total = np.sum(
            [token_counts(g, p) for g, p in zip(gold, predicted, strict=True)], axis=0
        )
        accuracy = 100 * correct / total
        assert reported[lang, "token_accuracy"] == pytest.approx(accuracy, abs=1e-3)
        counts = sentence_chunk_counts(gold, predicted)
        chunks = [sum(getattr(c, k) for c in counts) for k in ("correct", "predicted", "gold")]
        f1 = 100 * 2 * chunks[0] / (chunks[1] + chunks[2]) if chunks[0] else 0.0
        assert reported[lang, "seqeval_f1"] == pytest.approx(f1, abs=1e-3)


# An entity across the split point of a long sentence counts once.

LONG = [
    ("Heute", "O"),
    ("sieht", "O"),
    ("Anna", "B-PER"),
    ("Maria", "I-PER"),
    ("Luisa", "I-PER"),
    ("Sophie", "I-PER"),
    ("Charlotte", "I-PER"),
    ("Berta", "I-PER"),
    ("Müller", "I-PER"),
    ("in", "O"),
    ("Berlin", "B-LOC"),
    (".", "O"),
]
SHORT = [("Paris", "B-LOC"), ("lacht", "O")]


@pytest.mark.slow
def test_a_sentence_split_into_pieces_is_scored_whole(tmp_path, tiny_model):
    text = "\n".join("".join(f"{w}\t{t}\n" for w, t in s) for s in (LONG, SHORT))
    raw = tmp_path / "raw"
    raw.mkdir()
    _layout(raw, {name: text for name in ("train-en.tsv", "dev-en.tsv", "test-en.tsv")})
    data = tmp_path / "panx"
    prepare_task("panx", data, tiny_model, raw=raw, workers=1, max_seq_length=8)
    assert np.load(data / "sentence_ids.valid.npy")[:, 0].tolist().count(0) >= 2
    fairseq(
        "fairseq-train",
        *_tagging_args(data, tiny_model / "model.pt", tmp_path / "ckpt", 1, task="panx"),
    )
    checkpoint = tmp_path / "ckpt" / "checkpoint_last.pt"
    (model,), _, task = checkpoint_utils.load_model_ensemble_and_task(
        [str(checkpoint)], arg_overrides={"data": str(data)}
    )
    model.eval()
    rows = _row_tags(model, task, "valid")
    piece_gold = [ref for ref, _ in rows]
    assert any(ref[0] == "I-PER" for ref in piece_gold)  # a piece starts inside the entity
    assert sum(c.gold for c in sentence_chunk_counts(piece_gold, piece_gold)) > 3  # per piece
    joined = {0: ([], []), 1: ([], [])}
    for (sentence, _), (ref, pred) in zip(
        np.load(data / "sentence_ids.valid.npy"), rows, strict=True
    ):
        joined[int(sentence)][0].extend(ref)
        joined[int(sentence)][1].extend(pred)
    gold = [[t for _, t in LONG], [t for _, t in SHORT]]
    predicted = [joined[0][1], joined[1][1]]
    assert [joined[0][0], joined[1][0]] == gold

    task.load_dataset("valid")
    dataset = task.dataset("valid")
    with torch.no_grad():
        _, _, log = TaggingCriterion(task)(model, dataset.collater([dataset[0], dataset[1]]))
    counts = sentence_chunk_counts(gold, predicted)
    assert log["chunks_gold"] == sum(c.gold for c in counts) == 3
    assert log["chunks_predicted"] == sum(c.predicted for c in counts)
    assert log["chunks_correct"] == sum(c.correct for c in counts)
    assert log["token_total"] == len(LONG) + len(SHORT) and log["nsentences"] == 2
    assert log["token_correct"] == sum(
        token_counts(g, p)[0] for g, p in zip(gold, predicted, strict=True)
    )

    out = tmp_path / "predictions"
    fairseq(
        "fairseq-validate",
        str(data),
        "--task",
        "panx",
        "--path",
        str(checkpoint),
        "--cpu",
        "--valid-subset",
        "valid",
        "--batch-size",
        "1",
        "--num-workers",
        "0",
        "--predictions-dir",
        str(out),
    )
    lines = [json.loads(line) for line in (out / "valid.0.jsonl").read_text().splitlines()]
    lines.sort(key=lambda line: line["id"])
    assert [(line["id"], line["prediction"]) for line in lines] == [
        (0, predicted[0]),
        (1, predicted[1]),
    ]
    # each whole sentence's counts: the long one's entity counted once
    for line, gold_tags, tags in zip(lines, gold, predicted, strict=True):
        (chunks,) = sentence_chunk_counts([gold_tags], [tags])
        assert line["counts"]["chunks_gold"] == chunks.gold
        assert line["counts"]["chunks_correct"] == chunks.correct
        assert line["counts"]["token_total"] == len(gold_tags)
