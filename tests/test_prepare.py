"""stilts-prepare: raw files or local HF datasets -> checked, encoded, binarized fairseq folders."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from fairseq.data import Dictionary, data_utils

import fairseq_stilts.data.prepare.encode as encode_module
import fairseq_stilts.data.prepare.texts as texts_module
from fairseq_stilts.cli import prepare as prepare_cli
from fairseq_stilts.data.prepare.encoder import DICT_FILE, PieceEncoder
from fairseq_stilts.data.prepare.folder import prepare_task
from fairseq_stilts.data.prepare.hf_local import read_hf_local
from fairseq_stilts.errors import DataError, StiltsError
from fairseq_stilts.registry import get_spec
from fairseq_stilts.runtime import file_sha256
from fairseq_stilts.tiny import DATA_DIR

NLI = ("entailment", "neutral", "contradiction")
LANGS = ("de", "en", "es", "fr")


# ---------------------------------------------------------------- helpers


def copy_task(tmp_path: Path, task: str) -> Path:
    """A private copy of a tiny-world task folder, safe to corrupt."""
    raw = tmp_path / "raw" / task
    shutil.copytree(DATA_DIR / task, raw)
    return raw


def rows(path: Path) -> list[list[str]]:
    """Non-blank lines of a TSV file, split on tabs."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.split("\t") for line in lines if line.strip()]


def replace_line(path: Path, number: int, text: str) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[number - 1] = text
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def load(data: Path, part: str, subset: str, dictionary: Dictionary):
    dataset = data_utils.load_indexed_dataset(str(data / part / subset), dictionary)
    assert dataset is not None, f"{data / part / subset} missing"
    return dataset


def decoded_labels(data: Path, subset: str) -> list[str]:
    label_dict = Dictionary.load(str(data / "label" / DICT_FILE))
    return [label_dict[int(item[0])] for item in load(data, "label", subset, label_dict)]


def tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def expected_xtreme_subsets(raw: Path) -> dict[str, Path]:
    """Subset name -> raw file, for the XTREME layout (train-en, dev-<l>, test-<l>)."""
    subsets = {"train": raw / "train-en.tsv", "valid": raw / "dev-en.tsv"}
    for path in sorted(raw.glob("dev-*.tsv")):
        subsets["valid." + path.stem.split("-", 1)[1]] = path
    for path in sorted(raw.glob("test-*.tsv")):
        subsets["test." + path.stem.split("-", 1)[1]] = path
    return subsets


def run(task: str, out: Path, model: Path, **kwargs) -> dict:
    kwargs.setdefault("workers", 1)
    return prepare_task(task, out, model, **kwargs).to_json()  # as manifest.json holds it


# ---------------------------------------------------------------- output layout and manifest


@pytest.mark.parametrize("task", ["xnli", "pawsx"])
def test_xtreme_subsets_and_counts_match_raw_files(prepared, task):
    data = prepared(task)
    manifest = json.loads((data / "manifest.json").read_text())
    expected = expected_xtreme_subsets(DATA_DIR / task)
    assert set(LANGS) <= {name.split(".")[1] for name in expected if "." in name}
    assert set(manifest["subsets"]) == set(expected) | {"valid.all"}  # dev in several languages
    dictionary = Dictionary.load(str(data / "input0" / DICT_FILE))
    for subset, path in expected.items():
        count = len(rows(path))
        assert manifest["subsets"][subset] == {"count": count, "skipped": 0, "labelled": True}, (
            subset
        )
        for part in ("input0", "input1", "label"):
            assert (data / part / f"{subset}.bin").is_file()
            assert (data / part / f"{subset}.idx").is_file()
            assert len(load(data, part, subset, dictionary)) == count, (part, subset)
    # valid.all: every dev language's examples, one language after the other
    dev = sorted(name for name in expected if name.startswith("valid."))
    joined = [row.tolist() for name in dev for row in load(data, "input0", name, dictionary)]
    assert [row.tolist() for row in load(data, "input0", "valid.all", dictionary)] == joined


def test_glue_task_subsets_and_counts(prepared):
    data = prepared("mnli")
    manifest = json.loads((data / "manifest.json").read_text())
    train = len(rows(DATA_DIR / "mnli" / "train.tsv")) - 1  # header
    dev = len(rows(DATA_DIR / "mnli" / "dev_matched.tsv")) - 1
    assert {name: s["count"] for name, s in manifest["subsets"].items()} == {
        "train": train,
        "valid": dev,
        "valid.en": dev,
    }
    assert manifest["languages"] == {"train": ["en"], "dev": ["en"], "test": []}


def test_manifest_content(prepared, tiny_model):
    data = prepared("xnli")
    manifest = json.loads((data / "manifest.json").read_text())
    spec = get_spec("xnli")
    assert manifest["task"] == "xnli"
    assert manifest["family"] == "classification"
    assert manifest["input_fields"] == ["sentence1", "sentence2"]
    assert manifest["labels"] == list(NLI)
    assert manifest["languages"] == {"train": ["en"], "dev": list(LANGS), "test": list(LANGS)}
    assert manifest["dictionary_sha256"] == file_sha256(tiny_model / DICT_FILE)
    assert manifest["sentencepiece_sha256"] == file_sha256(tiny_model / "sentencepiece.bpe.model")

    raw = DATA_DIR / "xnli"
    files = sorted(raw.glob("*.tsv"))
    assert [Path(s["path"]).name for s in manifest["sources"]] == [f.name for f in files]
    for source in manifest["sources"]:
        path = Path(source["path"])
        assert source["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert source["count"] == len(rows(path))
        split, lang = path.stem.split("-")
        assert (source["split"], source["lang"]) == (split, lang)
        assert lang in spec.languages
    # The folder holds the model's own dictionary, once per input field.
    for part in ("input0", "input1"):
        assert (data / part / DICT_FILE).read_bytes() == (tiny_model / DICT_FILE).read_bytes()


def test_label_dictionary_keeps_spec_order_with_training_counts(prepared):
    data = prepared("xnli")
    entries = [line.split(" ") for line in (data / "label" / DICT_FILE).read_text().splitlines()]
    assert [symbol for symbol, _ in entries] == list(NLI)
    spec = get_spec("xnli")
    raw_labels = [spec.canonical_label(r[2]) for r in rows(DATA_DIR / "xnli" / "train-en.tsv")]
    assert [int(count) for _, count in entries] == [raw_labels.count(label) for label in NLI]


@pytest.mark.parametrize("subset,file", [("train", "train-en.tsv"), ("valid.de", "dev-de.tsv")])
def test_binarized_labels_decode_to_raw_labels(prepared, subset, file):
    data = prepared("xnli")
    spec = get_spec("xnli")
    expected = [spec.canonical_label(r[2]) for r in rows(DATA_DIR / "xnli" / file)]
    assert decoded_labels(data, subset) == expected


def test_binarized_inputs_decode_to_piece_encoder_ids(prepared, tiny_model):
    data = prepared("xnli")
    encoder = PieceEncoder(tiny_model)
    raw = rows(DATA_DIR / "xnli" / "dev-de.tsv")
    for part, column in (("input0", 0), ("input1", 1)):
        dataset = load(data, part, "valid.de", encoder.dictionary)
        assert len(dataset) == len(raw)
        for i, row in enumerate(raw):
            assert dataset[i].tolist() == encoder.encode(row[column]).tolist(), (part, i)


def test_label_alias_contradictory_is_accepted(tmp_path, tiny_model):
    raw = copy_task(tmp_path, "xnli")
    labels = [r[2] for r in rows(raw / "dev-fr.tsv")]
    labels[0] = "contradictory"
    lines = [
        "\t".join([*r[:2], label])
        for r, label in zip(rows(raw / "dev-fr.tsv"), labels, strict=True)
    ]
    (raw / "dev-fr.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    manifest = run("xnli", out, tiny_model, raw=raw)
    assert manifest["subsets"]["valid.fr"]["count"] == len(labels)
    decoded = decoded_labels(out, "valid.fr")
    assert decoded[0] == "contradiction"
    assert decoded == [get_spec("xnli").canonical_label(label) for label in labels]
    assert "contradictory" not in (out / "label" / DICT_FILE).read_text()


def test_languages_option_keeps_english_and_the_chosen_languages(tmp_path, tiny_model):
    out = tmp_path / "out"
    manifest = run("xnli", out, tiny_model, raw=DATA_DIR / "xnli", languages=["de"])
    assert set(manifest["subsets"]) == {
        "train",
        "valid",
        "valid.de",
        "valid.en",
        "valid.all",
        "test.de",
        "test.en",
    }
    assert manifest["subsets"]["valid.all"]["count"] == sum(
        manifest["subsets"][f"valid.{lang}"]["count"] for lang in ("de", "en")
    )
    assert manifest["languages"] == {"train": ["en"], "dev": ["de", "en"], "test": ["de", "en"]}
    assert not (out / "input0" / "valid.fr.bin").exists()


# ---------------------------------------------------------------- bad input


def test_unknown_label_names_file_line_and_expected_labels(tmp_path, tiny_model):
    raw = copy_task(tmp_path, "xnli")
    train = raw / "train-en.tsv"
    replace_line(train, 5, "A man sleeps.\tA man rests.\tmaybe")
    with pytest.raises(DataError) as info:
        run("xnli", tmp_path / "out", tiny_model, raw=raw)
    message = str(info.value)
    assert message.startswith(f"{train}:5: ")
    assert "'maybe'" in message
    for label in NLI:
        assert label in message


def test_empty_text_names_field_and_line(tmp_path, tiny_model):
    raw = copy_task(tmp_path, "xnli")
    dev = raw / "dev-de.tsv"
    replace_line(dev, 3, "Ein Mann schläft.\t   \tneutral")
    with pytest.raises(DataError) as info:
        run("xnli", tmp_path / "out", tiny_model, raw=raw)
    assert str(info.value).startswith(f"{dev}:3: ")
    assert "empty text" in str(info.value)
    assert "'sentence2'" in str(info.value)


def test_language_file_outside_the_spec(tmp_path, tiny_model):
    raw = copy_task(tmp_path, "xnli")
    shutil.copyfile(raw / "dev-de.tsv", raw / "dev-xx.tsv")
    with pytest.raises(StiltsError) as info:
        run("xnli", tmp_path / "out", tiny_model, raw=raw)
    message = str(info.value)
    assert str(raw / "dev-xx.tsv") in message
    assert "'xx'" in message
    assert "valid: " + " ".join(get_spec("xnli").languages) in message


def test_unknown_language_option(tmp_path, tiny_model):
    with pytest.raises(StiltsError) as info:
        run("xnli", tmp_path / "out", tiny_model, raw=DATA_DIR / "xnli", languages=["de", "xx"])
    message = str(info.value)
    assert message.startswith("--languages: ")
    assert "'xx'" in message and "'de'" not in message
    assert "valid: " + " ".join(get_spec("xnli").languages) in message


def test_missing_train_file(tmp_path, tiny_model):
    raw = copy_task(tmp_path, "pawsx")
    (raw / "train-en.tsv").unlink()
    with pytest.raises(DataError) as info:
        run("pawsx", tmp_path / "out", tiny_model, raw=raw)
    assert info.value.path == str(raw / "train-en.tsv")
    assert "not found" in str(info.value)


def test_missing_dev_files(tmp_path, tiny_model):
    raw = copy_task(tmp_path, "pawsx")
    for path in raw.glob("dev-*.tsv"):
        path.unlink()
    with pytest.raises(DataError, match="no file matches") as info:
        run("pawsx", tmp_path / "out", tiny_model, raw=raw)
    assert info.value.path == str(raw / "dev-{lang}.tsv")


def test_missing_english_dev(tmp_path, tiny_model):
    raw = copy_task(tmp_path, "pawsx")
    (raw / "dev-en.tsv").unlink()
    with pytest.raises(StiltsError, match="no English dev examples"):
        run("pawsx", tmp_path / "out", tiny_model, raw=raw)


def test_missing_raw_folder(tmp_path, tiny_model):
    with pytest.raises(DataError, match="raw data folder not found"):
        run("xnli", tmp_path / "out", tiny_model, raw=tmp_path / "nothing")


def test_unknown_task_is_refused(tmp_path, tiny_model):
    with pytest.raises(StiltsError, match="known tasks: .*xnli"):
        run("xnl", tmp_path / "out", tiny_model, raw=DATA_DIR / "xnli")


@pytest.mark.parametrize("sources", ["both", "neither"])
def test_exactly_one_of_raw_or_hf(tmp_path, tiny_model, sources):
    kwargs = {"raw": DATA_DIR / "xnli", "hf": {"en": tmp_path}} if sources == "both" else {}
    with pytest.raises(StiltsError, match="exactly one"):
        run("xnli", tmp_path / "out", tiny_model, **kwargs)


# ---------------------------------------------------------------- ANLI+ (SNLI + MNLI + ANLI)


def _jsonl(path: Path, records: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")


def make_anli_plus(root: Path) -> dict[str, list[str]]:
    """A tiny ANLI+ raw folder; returns the canonical labels expected in train and valid."""
    snli = {
        "train": [
            ("entailment", "A man sleeps.", "A person rests."),
            ("-", "A dog runs.", "An animal moves."),
            ("contradiction", "A girl sings.", "Nobody sings."),
            ("-", "Two cats.", "Animals."),
        ],
        "dev": [
            ("neutral", "A boy reads.", "A boy reads a book."),
            ("-", "Rain falls.", "It is wet."),
        ],
    }
    expected: dict[str, list[str]] = {"train": [], "dev": []}
    for split, items in snli.items():
        _jsonl(
            root / "snli_1.0" / f"snli_1.0_{split}.jsonl",
            [
                {"annotator_labels": [g], "gold_label": g, "sentence1": s1, "sentence2": s2}
                for g, s1, s2 in items
            ],
        )
        expected[split] += [g for g, _, _ in items if g != "-"]
    mnli = {
        "train.tsv": [("neutral", "He left.", "He left early."), ("entailment", "Yes.", "Yes.")],
        "dev_matched.tsv": [("contradiction", "It is hot.", "It is cold.")],
    }
    for name, items in mnli.items():
        path = root / "MNLI" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = ["index\tgenre\tsentence1\tsentence2\tgold_label"]
        lines += [f"{i}\tfiction\t{s1}\t{s2}\t{g}" for i, (g, s1, s2) in enumerate(items)]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        expected["train" if name == "train.tsv" else "dev"] += [g for g, _, _ in items]
    short = {"e": "entailment", "n": "neutral", "c": "contradiction"}
    round_labels = {1: "e", 2: "en", 3: "enc"}  # ANLI's short labels
    for r in (1, 2, 3):
        for split, labels in (("train", round_labels[r]), ("dev", "c")):
            _jsonl(
                root / "anli_v1.0" / f"R{r}" / f"{split}.jsonl",
                [
                    {
                        "uid": f"r{r}{i}",
                        "context": f"Round {r} text {i}.",
                        "hypothesis": f"Claim {i}.",
                        "label": lab,
                        "reason": "",
                    }
                    for i, lab in enumerate(labels)
                ],
            )
            expected[split] += [short[lab] for lab in labels]
    return expected


def test_anli_plus_reads_all_sources_and_skips_unlabelled_snli(tmp_path, tiny_model):
    raw = tmp_path / "anli_plus"
    expected = make_anli_plus(raw)
    out = tmp_path / "out"
    manifest = run("anli_plus", out, tiny_model, raw=raw)
    assert manifest["subsets"]["train"] == {
        "count": len(expected["train"]),
        "skipped": 2,
        "labelled": True,
    }
    assert manifest["subsets"]["valid"] == {
        "count": len(expected["dev"]),
        "skipped": 1,
        "labelled": True,
    }
    assert set(manifest["subsets"]) == {"train", "valid", "valid.en"}
    # Sources are read in the spec's order: SNLI, MNLI, ANLI R1-R3; "e/n/c" mean the NLI labels.
    assert decoded_labels(out, "train") == expected["train"]
    assert decoded_labels(out, "valid") == expected["dev"]
    assert len(manifest["sources"]) == 10
    snli_train = next(s for s in manifest["sources"] if s["path"].endswith("snli_1.0_train.jsonl"))
    assert snli_train["count"] == 2
    assert snli_train["sha256"] == file_sha256(raw / "snli_1.0" / "snli_1.0_train.jsonl")


def test_anli_plus_missing_round_file(tmp_path, tiny_model):
    raw = tmp_path / "anli_plus"
    make_anli_plus(raw)
    (raw / "anli_v1.0" / "R2" / "dev.jsonl").unlink()
    with pytest.raises(DataError, match="not found") as info:
        run("anli_plus", tmp_path / "out", tiny_model, raw=raw)
    assert info.value.path == str(raw / "anli_v1.0" / "R2" / "dev.jsonl")


def test_anli_plus_bad_json_line(tmp_path, tiny_model):
    raw = tmp_path / "anli_plus"
    make_anli_plus(raw)
    path = raw / "anli_v1.0" / "R3" / "train.jsonl"
    path.write_text(path.read_text() + '{"uid": "x", "context": \n')
    with pytest.raises(DataError, match="invalid JSON") as info:
        run("anli_plus", tmp_path / "out", tiny_model, raw=raw)
    assert str(info.value).startswith(f"{path}:4: ")


# ---------------------------------------------------------------- atomic output


def test_failed_prepare_leaves_nothing_behind(tmp_path, tiny_model):
    raw = copy_task(tmp_path, "xnli")
    replace_line(raw / "test-es.tsv", 7, "only one column")
    parent = tmp_path / "outs"
    parent.mkdir()
    with pytest.raises(DataError):
        run("xnli", parent / "xnli", tiny_model, raw=raw)
    assert list(parent.iterdir()) == []


def test_failure_while_writing_removes_the_temporary_folder(tmp_path, tiny_model, monkeypatch):
    real = texts_module.write_indexed
    calls = []

    def failing(*args, **kwargs):
        calls.append(args[0])
        if len(calls) == 4:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(texts_module, "write_indexed", failing)
    parent = tmp_path / "outs"
    message = f"{parent / 'xnli'}: cannot write: No space left on device"
    with pytest.raises(StiltsError, match=re.escape(message)):
        run("xnli", parent / "xnli", tiny_model, raw=DATA_DIR / "xnli")
    assert len(calls) == 4  # the failure happened after files were written
    assert list(parent.iterdir()) == []


def test_existing_output_is_refused_without_force(tmp_path, tiny_model):
    out = tmp_path / "outs" / "xnli"
    out.mkdir(parents=True)
    (out / "keep.txt").write_text("mine")
    with pytest.raises(StiltsError, match="already exists") as info:
        run("xnli", out, tiny_model, raw=DATA_DIR / "xnli")
    assert "--force" in str(info.value)
    assert (out / "keep.txt").read_text() == "mine"
    assert sorted(p.name for p in out.parent.iterdir()) == ["xnli"]


def test_force_replaces_existing_output(tmp_path, tiny_model):
    out = tmp_path / "outs" / "xnli"
    run("xnli", out, tiny_model, raw=DATA_DIR / "xnli")
    (out / "keep.txt").write_text("old")
    manifest = run("xnli", out, tiny_model, raw=DATA_DIR / "xnli", languages=["fr"], force=True)
    assert not (out / "keep.txt").exists()
    assert json.loads((out / "manifest.json").read_text()) == manifest
    assert "valid.fr" in manifest["subsets"] and "valid.de" not in manifest["subsets"]
    assert not (out / "input0" / "valid.de.bin").exists()
    assert sorted(p.name for p in out.parent.iterdir()) == ["xnli"]


def test_failed_forced_prepare_keeps_the_old_output(tmp_path, tiny_model):
    out = tmp_path / "outs" / "xnli"
    run("xnli", out, tiny_model, raw=DATA_DIR / "xnli")
    before = tree(out)
    raw = copy_task(tmp_path, "xnli")
    replace_line(raw / "dev-en.tsv", 2, "a\tb\tperhaps")
    with pytest.raises(DataError, match="perhaps"):
        run("xnli", out, tiny_model, raw=raw, force=True)
    assert tree(out) == before
    assert sorted(p.name for p in out.parent.iterdir()) == ["xnli"]


# ---------------------------------------------------------------- parallel encoding


def test_two_workers_write_the_same_bytes_as_one(tmp_path, tiny_model, monkeypatch):
    raw = copy_task(tmp_path, "xnli")
    train = raw / "train-en.tsv"
    train.write_text(train.read_text(encoding="utf-8") * 4, encoding="utf-8")
    monkeypatch.setattr(encode_module, "CHUNK", 7)  # many sentencepiece calls
    one = run("xnli", tmp_path / "one", tiny_model, raw=raw, workers=1)
    two = run("xnli", tmp_path / "two", tiny_model, raw=raw, workers=2)
    assert one == two
    assert one["subsets"]["train"]["count"] == len(rows(train))
    first, second = tree(tmp_path / "one"), tree(tmp_path / "two")
    assert len(first) > 60
    assert first.keys() == second.keys()
    for name in first:
        assert first[name] == second[name], name


@pytest.mark.parametrize("chunk", [1, 3, 20000])
def test_batch_encoding_gives_each_texts_own_ids(tiny_model, monkeypatch, chunk):
    texts = [(f"Tom has {i} red books.", f"Anna hat {i} Bücher. 😀") for i in range(52)]
    texts += [("", "   "), ("東京 ß",)]
    encoder = PieceEncoder(tiny_model)
    monkeypatch.setattr(encode_module, "CHUNK", chunk)
    batched = encode_module.encode_all(texts, encoder, workers=2, quiet=True)
    one_by_one = [encoder.encode(text) for row in texts for text in row]
    assert len(batched) == len(one_by_one) == 2 * len(texts) - 1
    for ours, theirs in zip(batched, one_by_one, strict=True):
        assert ours.dtype == theirs.dtype and ours.tolist() == theirs.tolist()
    assert batched[-3].tolist() == [encoder.dictionary.eos()]  # an empty text: </s> alone


@pytest.mark.parametrize("vocab_size", [250, 70000])
def test_indexed_files_hold_the_bytes_of_fairseqs_builder(tmp_path, monkeypatch, vocab_size):
    import numpy as np
    import torch
    from fairseq.data import indexed_dataset

    import fairseq_stilts.data.prepare.indexed as indexed_module

    rng = np.random.default_rng(0)
    items = [rng.integers(0, vocab_size, size=n) for n in rng.integers(0, 40, size=100)]
    builder = indexed_dataset.make_builder(
        str(tmp_path / "fairseq.bin"), impl="mmap", vocab_size=vocab_size
    )
    for ids in items:
        builder.add_item(torch.from_numpy(ids))
    builder.finalize(str(tmp_path / "fairseq.idx"))
    monkeypatch.setattr(indexed_module, "CHUNK", 7)
    indexed_module.write_indexed(tmp_path / "ours", items, vocab_size)
    for suffix in (".bin", ".idx"):
        ours, theirs = tmp_path / f"ours{suffix}", tmp_path / f"fairseq{suffix}"
        assert ours.read_bytes() == theirs.read_bytes(), suffix
    read = indexed_dataset.MMapIndexedDataset(str(tmp_path / "ours"))
    assert [read[i].tolist() for i in range(len(items))] == [ids.tolist() for ids in items]


# ---------------------------------------------------------------- local Hugging Face datasets


def _nli_rows(prefix: str, labels: list) -> dict[str, list]:
    return {
        "premise": [f"{prefix} {i} has books." for i in range(len(labels))],
        "hypothesis": [f"{prefix} likes books {i}." for i in range(len(labels))],
        "label": labels,
    }


HF_EN = {"train": [0, 1, 2, 0, 2, 1, 0], "validation": [2, 1, -1, 0], "test": [1, 1, 0]}
PARQUET_DE = {
    "validation": ["neutral", "contradictory", "entailment"],
    "test": ["entailment", "neutral", "contradiction", "neutral", "entailment"],
}


@pytest.fixture(scope="module")
def hf_folders(tmp_path_factory) -> dict[str, Path]:
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    root = tmp_path_factory.mktemp("hf")
    features = datasets.Features(
        {
            "premise": datasets.Value("string"),
            "hypothesis": datasets.Value("string"),
            "label": datasets.ClassLabel(names=list(NLI)),
        }
    )
    dd = datasets.DatasetDict(
        {
            split: datasets.Dataset.from_dict(_nli_rows(f"en-{split}", labels), features=features)
            for split, labels in HF_EN.items()
        }
    )
    dd.save_to_disk(str(root / "xnli_en"))
    parquet = root / "xnli_de"
    parquet.mkdir()
    for split, labels in PARQUET_DE.items():
        pq.write_table(
            pa.table(_nli_rows(f"de-{split}", labels)), parquet / f"{split}-00000.parquet"
        )
    return {"en": root / "xnli_en", "de": parquet}


def test_read_hf_local_maps_class_label_names(hf_folders):
    splits = read_hf_local(hf_folders["en"], ("sentence1", "sentence2"))
    assert set(splits) == {"train", "dev", "test"}
    train = splits["train"]
    assert [e.label for e in train] == [NLI[i] for i in HF_EN["train"]]
    assert train[0].texts == ("en-train 0 has books.", "en-train likes books 0.")
    assert [e.line for e in train] == list(range(1, len(train) + 1))
    assert splits["dev"][2].label == "-1"  # unlabelled: left for the checks to skip


def test_read_hf_local_parquet(hf_folders):
    splits = read_hf_local(hf_folders["de"], ("sentence1", "sentence2"))
    assert set(splits) == {"dev", "test"}
    assert [e.label for e in splits["test"]] == PARQUET_DE["test"]


def test_read_hf_local_missing_column(hf_folders):
    with pytest.raises(DataError, match="no column for field 'sentence'") as info:
        read_hf_local(hf_folders["de"], ("sentence",))
    assert info.value.path == str(hf_folders["de"])


def test_read_hf_local_missing_folder(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_hf_local(tmp_path / "absent", ("sentence1", "sentence2"))


def test_prepare_from_local_hf_datasets(tmp_path, tiny_model, hf_folders):
    out = tmp_path / "out"
    manifest = run("xnli", out, tiny_model, hf=hf_folders)
    counts = {name: (s["count"], s["skipped"]) for name, s in manifest["subsets"].items()}
    assert counts == {
        "train": (7, 0),
        "valid": (3, 1),
        "valid.de": (3, 0),
        "valid.en": (3, 1),
        "valid.all": (6, 1),
        "test.de": (5, 0),
        "test.en": (3, 0),
    }
    assert manifest["languages"] == {"train": ["en"], "dev": ["de", "en"], "test": ["de", "en"]}
    assert decoded_labels(out, "train") == [NLI[i] for i in HF_EN["train"]]
    assert decoded_labels(out, "valid") == [NLI[i] for i in HF_EN["validation"] if i >= 0]
    assert decoded_labels(out, "valid.de") == ["neutral", "contradiction", "entailment"]
    assert decoded_labels(out, "test.de") == PARQUET_DE["test"]
    encoder = PieceEncoder(tiny_model)
    premises = load(out, "input0", "test.de", encoder.dictionary)
    assert premises[4].tolist() == encoder.encode("de-test 4 has books.").tolist()


def test_prepare_hf_unknown_language(tmp_path, tiny_model, hf_folders):
    with pytest.raises(StiltsError, match=r"^--hf: .*'xx'"):
        run(
            "xnli",
            tmp_path / "out",
            tiny_model,
            hf={"en": hf_folders["en"], "xx": hf_folders["de"]},
        )


def test_prepare_hf_without_english_train(tmp_path, tiny_model, hf_folders):
    with pytest.raises(StiltsError, match="no training examples"):
        run("xnli", tmp_path / "out", tiny_model, hf={"de": hf_folders["de"]})


# ---------------------------------------------------------------- stilts-prepare command


def cli(*argv) -> None:
    prepare_cli.main([str(a) for a in argv])


def test_cli_prints_counts(tmp_path, tiny_model, capsys):
    out = tmp_path / "out"
    cli("pawsx", DATA_DIR / "pawsx", "--model", tiny_model, "--out", out, "--workers", 1)
    printed = capsys.readouterr().out.strip()
    train = len(rows(DATA_DIR / "pawsx" / "train-en.tsv"))
    assert printed.startswith(f"{out}: train {train}, valid ")
    assert "test.fr 20" in printed
    assert (out / "manifest.json").is_file()
    assert "reading" not in capsys.readouterr().err  # no progress bars off a terminal


@pytest.mark.slow  # starts processes
@pytest.mark.parametrize("quiet", [False, True])
def test_progress_bars_show_on_a_terminal_unless_quiet(tmp_path, tiny_model, quiet):
    command = [
        str(Path(sys.executable).parent / "stilts-prepare"),
        "pawsx",
        str(DATA_DIR / "pawsx"),
    ]
    command += ["--model", str(tiny_model), "--out", str(tmp_path / "out"), "--workers", "1"]
    leader, follower = os.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))  # rows, cols
    with subprocess.Popen(command + ["--quiet"] * quiet, stderr=follower, stdout=follower) as run:
        os.close(follower)
        shown = b""
        while chunk := _read_some(leader):
            shown += chunk
    os.close(leader)
    assert run.returncode == 0, shown.decode()[-2000:]
    bars = [word for word in ("reading", "encoding") if word.encode() in shown]
    assert bars == ([] if quiet else ["reading", "encoding"])


def _read_some(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except OSError:  # the other end closed (Linux reports EIO)
        return b""


def test_cli_bad_input_exits_2_with_one_line_error(tmp_path, tiny_model, capsys):
    raw = copy_task(tmp_path, "pawsx")
    bad = raw / "dev-es.tsv"
    replace_line(bad, 4, "Hola.\tAdiós.\tquizás")
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as info:
        cli("pawsx", raw, "--model", tiny_model, "--out", out, "--workers", 1)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1
    assert errors[0].startswith(f"error: {bad}:4: unknown label 'quizás'")
    assert not out.exists()


def test_cli_unknown_task_exits_2(tmp_path, tiny_model, capsys):
    with pytest.raises(SystemExit) as info:
        cli("xnli2", DATA_DIR / "xnli", "--model", tiny_model, "--out", tmp_path / "out")
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "error: unknown task 'xnli2'" in err
    assert "Traceback" not in err


def test_cli_repeated_hf_language_exits_2(tmp_path, tiny_model, capsys):
    with pytest.raises(SystemExit) as info:
        cli(
            "xnli",
            "--hf",
            f"en={tmp_path}",
            "--hf",
            f"en={tmp_path}",
            "--model",
            tiny_model,
            "--out",
            tmp_path / "out",
        )
    assert info.value.code == 2
    assert "language is given twice" in capsys.readouterr().err
