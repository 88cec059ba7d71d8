"""Translated (multilingual) intermediate-task training data: stilts-prepare and language mixing."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import fairseq, train_args
from fairseq import tasks
from fairseq.data import data_utils
from fairseq.dataclass.utils import convert_namespace_to_omegaconf
from fairseq.options import get_training_parser, parse_args_and_arch

from fairseq_stilts.cli import prepare as prepare_cli
from fairseq_stilts.data.datasets.language_sampling import epoch_counts
from fairseq_stilts.data.prepare.encoder import PieceEncoder
from fairseq_stilts.data.prepare.folder import prepare_task
from fairseq_stilts.data.prepare.train_languages import choose_train_languages
from fairseq_stilts.errors import StiltsError
from fairseq_stilts.families.span_qa.squad_json import read_squad_json
from fairseq_stilts.runtime import USER_DIR, file_sha256
from fairseq_stilts.tiny import DATA_DIR

XNLI_MT = DATA_DIR / "mnli" / "XNLI-MT-1.0" / "multinli"
SQUAD_MT = DATA_DIR / "squad" / "translate-train"


def _tsv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def _first_inputs(data: Path, subset: str) -> list[list[int]]:
    dataset = data_utils.load_indexed_dataset(str(data / "input0" / subset), None)
    return [dataset[i].tolist() for i in range(len(dataset))]


@pytest.fixture(scope="module")
def mnli_en_de_fr(tmp_path_factory, tiny_model) -> Path:
    out = tmp_path_factory.mktemp("mt") / "mnli"
    train = choose_train_languages(["en", "de", "fr"])
    prepare_task("mnli", out, tiny_model, raw=DATA_DIR / "mnli", workers=1, train=train)
    return out


def test_mnli_languages_counts_and_subsets(mnli_en_de_fr, tiny_model):
    manifest = json.loads((mnli_en_de_fr / "manifest.json").read_text())
    raw = {"en": _tsv(DATA_DIR / "mnli" / "train.tsv")}
    raw |= {lang: _tsv(XNLI_MT / f"multinli.train.{lang}.tsv") for lang in ("de", "fr")}
    assert manifest["train_languages"] == {lang: len(rows) for lang, rows in raw.items()}
    assert list(manifest["train_languages"]) == ["en", "de", "fr"]  # the order asked for
    counts = {name: s["count"] for name, s in manifest["subsets"].items()}
    assert counts == {
        "train": 720,
        "train.en": 240,
        "train.de": 240,
        "train.fr": 240,
        "valid": 45,
        "valid.en": 45,
    }
    sources = {Path(s["path"]).name: s for s in manifest["sources"]}
    assert sources["multinli.train.de.tsv"]["lang"] == "de"
    assert sources["multinli.train.de.tsv"]["sha256"] == file_sha256(
        XNLI_MT / "multinli.train.de.tsv"
    )
    encoder = PieceEncoder(tiny_model)
    for lang, column in (("de", "premise"), ("fr", "premise"), ("en", "sentence1")):
        expected = [encoder.encode(row[column]).tolist() for row in raw[lang]]
        assert _first_inputs(mnli_en_de_fr, f"train.{lang}") == expected, lang
    whole = _first_inputs(mnli_en_de_fr, "train")
    parts = [_first_inputs(mnli_en_de_fr, f"train.{lang}") for lang in ("en", "de", "fr")]
    assert whole == [row for part in parts for row in part]
    # XNLI-MT's "contradictory" is the contradiction label
    labels = data_utils.load_indexed_dataset(str(mnli_en_de_fr / "label" / "train.de"), None)
    spelled = [row["label"] for row in raw["de"]]
    names = (mnli_en_de_fr / "label" / "dict.txt").read_text().split()[::2]
    decoded = [names[int(labels[i][0]) - 4] for i in range(len(labels))]
    assert decoded == [{"contradictory": "contradiction"}.get(s, s) for s in spelled]


def test_squad_translate_train(tmp_path, tiny_model):
    out = tmp_path / "squad"
    train = choose_train_languages(["en", "de"])
    manifest = prepare_task(
        "squad", out, tiny_model, raw=DATA_DIR / "squad", workers=1, train=train
    ).to_json()
    de = list(read_squad_json(SQUAD_MT / "squad.translate.train.en-de.json"))
    en = list(read_squad_json(DATA_DIR / "squad" / "train-v1.1.json"))
    assert manifest["train_languages"] == {"en": len(en), "de": len(de)}
    assert manifest["subsets"]["train"]["count"] == len(en) + len(de)
    for subset in ("train.en", "train.de"):
        assert (out / f"windows.{subset}.npy").is_file()
        assert not (out / f"questions.{subset}.jsonl").exists()  # no decoding data for training
    windows = {s: np.load(out / f"windows.{s}.npy") for s in ("train", "train.en", "train.de")}
    assert len(windows["train"]) == len(windows["train.en"]) + len(windows["train.de"])
    assert len(np.unique(windows["train.de"]["question"])) == len(de)
    whole = _first_inputs(out, "train")
    assert whole == _first_inputs(out, "train.en") + _first_inputs(out, "train.de")
    pieces = PieceEncoder(tiny_model).encode(de[0].question).tolist()[:-1]
    assert _first_inputs(out, "train.de")[0][1 : 1 + len(pieces)] == pieces


def test_english_only_run_needs_no_translations_and_writes_no_language_subsets(
    tmp_path, tiny_model
):
    manifest = prepare_task(
        "pawsx", tmp_path / "p", tiny_model, raw=DATA_DIR / "pawsx", workers=1
    ).to_json()
    assert manifest["train_languages"] == {"en": manifest["subsets"]["train"]["count"]}
    assert not [name for name in manifest["subsets"] if name.startswith("train.")]


def test_missing_language_file_is_an_error_and_nothing_is_written(tmp_path, tiny_model):
    parent = tmp_path / "outs"
    parent.mkdir()
    train = choose_train_languages(["en", "de", "ar", "ru"])
    with pytest.raises(StiltsError) as info:
        prepare_task("mnli", parent / "m", tiny_model, raw=DATA_DIR / "mnli", train=train)
    message = str(info.value)
    assert "no training file for language(s) ar (tried " in message and "; ru (tried " in message
    assert str(DATA_DIR / "mnli" / "XNLI-MT-1.0/multinli/multinli.train.ar.tsv") in message
    assert "--train-file" in message and "de (" not in message
    assert list(parent.iterdir()) == []


def test_task_without_translations_names_the_option(tmp_path, tiny_model):
    train = choose_train_languages(["en", "de"])
    with pytest.raises(StiltsError, match=r"language\(s\) de \(tried none: the task has no tr"):
        prepare_task("sst2", tmp_path / "s", tiny_model, raw=DATA_DIR / "mnli", train=train)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--train-languages", "en", "xx"], r"unknown language\(s\) \['xx'\]; known: af ar"),
        (["--no-english-train"], "--no-english-train leaves no training language"),
        (["--train-file", "de=/nonexistent.tsv"], r"'de' is not a training language"),
        (["--train-languages", "de", "--train-file", "de=/no.tsv"], "/no.tsv: --train-file de: fi"),
    ],
)
def test_bad_language_options_exit_2(tmp_path, tiny_model, capsys, argv, message):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as info:
        prepare_cli.main(
            ["mnli", str(DATA_DIR / "mnli"), "--model", str(tiny_model), "--out", str(out), *argv]
        )
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert re.search(message, err), err
    assert not out.exists()


def test_own_train_file_wins_and_english_can_be_left_out(tmp_path, tiny_model, capsys):
    own = tmp_path / "mnli.de.tsv"  # the task's own (GLUE) format
    own.write_text(
        "sentence1\tsentence2\tgold_label\n"
        "Anna hat drei Äpfel.\tAnna hat Äpfel.\tentailment\n"
        "Ben hat zwei Bälle.\tBen hat keine Bälle.\tcontradiction\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    prepare_cli.main(
        [
            "mnli",
            str(DATA_DIR / "mnli"),
            "--model",
            str(tiny_model),
            "--out",
            str(out),
            "--train-languages",
            "en",
            "de",
            "fr",
            "--no-english-train",
            "--train-file",
            f"de={own}",
            "--workers",
            "1",
        ]
    )
    assert capsys.readouterr().out.startswith(
        f"{out}: train 242, train.de 2, train.fr 240, valid 45"
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["train_languages"] == {"de": 2, "fr": 240}
    paths = {Path(s["path"]) for s in manifest["sources"]}
    assert own in paths and XNLI_MT / "multinli.train.fr.tsv" in paths
    assert not {DATA_DIR / "mnli" / "train.tsv", XNLI_MT / "multinli.train.de.tsv"} & paths


def test_epoch_counts_follow_n_to_the_alpha():
    # p ~ n ** 0.5: sqrt(300) : sqrt(100) = 0.634 : 0.366 of 400
    assert epoch_counts([300, 100], 0.5).tolist() == [254, 146]
    assert epoch_counts([300, 100], 1).tolist() == [300, 100]
    assert epoch_counts([7, 5, 1], 0.3).sum() == 13


def _task(data: Path, seed: int, *extra: str):
    argv = [
        str(data),
        "--task",
        "mnli",
        "--arch",
        "xlmr_tiny",
        "--criterion",
        "stilts_classification",
        "--seed",
        str(seed),
        "--user-dir",
        USER_DIR,
        *extra,
    ]
    cfg = convert_namespace_to_omegaconf(parse_args_and_arch(get_training_parser(), argv))
    task = tasks.setup_task(cfg.task)
    task.load_dataset("train")
    return task


@pytest.fixture(scope="module")
def mnli_unequal(tmp_path_factory, tiny_model) -> Path:
    """MNLI in en (240), de (the first 40 XNLI-MT rows, as the user's own GLUE-format file), fr
    (240)."""
    root = tmp_path_factory.mktemp("unequal")
    own = root / "de.tsv"
    rows = _tsv(XNLI_MT / "multinli.train.de.tsv")[:40]
    lines = [f"{r['premise']}\t{r['hypo']}\t{r['label']}\n" for r in rows]
    own.write_text("sentence1\tsentence2\tgold_label\n" + "".join(lines), encoding="utf-8")
    train = choose_train_languages(["en", "de", "fr"], files=[("de", own)])
    prepare_task("mnli", root / "mnli", tiny_model, raw=DATA_DIR / "mnli", workers=1, train=train)
    return root / "mnli"


def _per_language(indices: np.ndarray, sizes: list[int]) -> list[int]:
    """How many of ``indices`` fall in each language's range of ``train``."""
    return np.histogram(indices, bins=np.cumsum([0, *sizes]))[0].tolist()


def test_alpha_sampling_gives_the_language_proportions(mnli_unequal):
    dataset = _task(mnli_unequal, 5, "--language-sampling-alpha", "0.3").dataset("train")
    p = np.array([240, 40, 240]) ** 0.3
    expected = p / p.sum() * 520  # en 216.5, de 87.0, fr 216.5 examples of 520
    found = _per_language(dataset.indices, [240, 40, 240])
    assert sum(found) == len(dataset) == 520
    assert np.abs(np.array(found) - expected).max() <= 1
    assert found == epoch_counts([240, 40, 240], 0.3).tolist()
    de = dataset.indices[(dataset.indices >= 240) & (dataset.indices < 280)]
    assert np.bincount(de - 240).min() >= 2  # de (87 > 40) is repeated: every example twice+
    en = dataset.indices[dataset.indices < 240]
    assert len(np.unique(en)) == len(en)  # en (216 < 240) is drawn without replacement
    # the sample is what gets grouped into batches: by the sampled examples' lengths
    assert np.array_equal(dataset.sizes, dataset._source_sizes[dataset.indices])


def test_alpha_sampling_is_seeded_by_seed_and_epoch(mnli_unequal):
    first = _task(mnli_unequal, 5, "--language-sampling-alpha", "0.3").dataset("train")
    second = _task(mnli_unequal, 5, "--language-sampling-alpha", "0.3").dataset("train")
    other_seed = _task(mnli_unequal, 6, "--language-sampling-alpha", "0.3").dataset("train")
    assert np.array_equal(first.indices, second.indices)
    assert not np.array_equal(first.indices, other_seed.indices)
    first.set_epoch(2)
    assert not np.array_equal(first.indices, second.indices)  # a new draw every epoch
    second.set_epoch(2)
    assert np.array_equal(first.indices, second.indices)


def test_alpha_sampling_of_chosen_languages(mnli_unequal):
    args = ("--train-languages", "de,fr", "--language-sampling-alpha", "1")
    dataset = _task(mnli_unequal, 1, *args).dataset("train")
    assert sorted(dataset.indices.tolist()) == list(range(240, 520))  # alpha 1: each once


def test_train_languages_concatenate_without_alpha(mnli_en_de_fr):
    dataset = _task(mnli_en_de_fr, 1, "--train-languages", "fr,en").dataset("train")
    assert dataset.indices.tolist() == list(range(240)) + list(range(480, 720))


def test_span_qa_trains_on_a_chosen_language(tmp_path, tiny_model):
    out = tmp_path / "squad"
    train = choose_train_languages(["en", "de"])
    prepare_task("squad", out, tiny_model, raw=DATA_DIR / "squad", workers=1, train=train)
    argv = [
        str(out),
        "--task",
        "squad",
        "--arch",
        "xlmr_tiny",
        "--criterion",
        "stilts_span_qa",
        "--user-dir",
        USER_DIR,
        "--train-languages",
        "de",
        "--language-sampling-alpha",
        "0.5",
    ]
    cfg = convert_namespace_to_omegaconf(parse_args_and_arch(get_training_parser(), argv))
    task = tasks.setup_task(cfg.task)
    task.load_dataset("train")
    itr = task.get_batch_iterator(task.dataset("train"), max_sentences=8, max_positions=384)
    ids = [i for batch in itr.next_epoch_itr(shuffle=True) for i in batch["id"].tolist()]
    assert sorted(ids) == list(range(120, 240))  # every German question, nothing else


def test_unknown_training_language_in_the_task(mnli_en_de_fr):
    with pytest.raises(
        StiltsError, match=r"\['es'\] not in the training data .* \(it has: en,de,fr\)"
    ):
        _task(mnli_en_de_fr, 1, "--train-languages", "en,es")


@pytest.mark.slow
def test_fairseq_train_on_multilingual_mnli(tmp_path, tiny_model, mnli_en_de_fr):
    args = train_args("mnli", mnli_en_de_fr, tiny_model / "model.pt", tmp_path, 4, validate=True)
    result = fairseq(
        "fairseq-train", *args, "--train-languages", "en,de", "--language-sampling-alpha", "0.5"
    )
    log = result.stdout + result.stderr
    assert "epoch 1: examples per language: en 240, de 240" in log
    assert re.search(r'"valid_accuracy": "?[\d.]+', log)  # selected on English dev
    state = torch.load(tmp_path / "checkpoint_last.pt")
    assert state["optimizer_history"][-1]["num_updates"] == 4


def test_dev_files_of_other_languages_give_valid_all_for_selection(tmp_path, tiny_model):
    """--dev-file adds valid.<lang>; valid.all holds every dev language, to select on all."""
    dev = DATA_DIR / "mnli" / "dev_matched.tsv"
    train = choose_train_languages(["en", "de"], dev_files=[("de", dev), ("fr", dev)])
    manifest = prepare_task(
        "mnli", tmp_path / "out", tiny_model, raw=DATA_DIR / "mnli", workers=1, train=train
    ).to_json()
    counts = {
        name: s["count"] for name, s in manifest["subsets"].items() if name.startswith("valid")
    }
    n = counts["valid"]
    assert counts == {"valid": n, "valid.en": n, "valid.de": n, "valid.fr": n, "valid.all": 3 * n}
    with pytest.raises(StiltsError, match="English dev is the task's own"):
        choose_train_languages(["en"], dev_files=[("en", dev)])
    with pytest.raises(StiltsError, match="--dev-file de: file not found"):
        choose_train_languages(["en"], dev_files=[("de", tmp_path / "missing.tsv")])
