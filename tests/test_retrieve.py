"""Retrieval (BUCC, Tatoeba): fixtures, embeddings, stilts-retrieve end to end, and bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from conftest import assert_counts_give_rows, fairseq

from fairseq_stilts.cli import retrieve as retrieve_cli
from fairseq_stilts.cli.evaluate import evaluate
from fairseq_stilts.data.prepare.encoder import PieceEncoder
from fairseq_stilts.data.prepare.folder import prepare_task
from fairseq_stilts.errors import StiltsError
from fairseq_stilts.families.retrieval.embed import default_layer, embed_sentences
from fairseq_stilts.runtime import load_encoder
from fairseq_stilts.tiny import DATA_DIR

TATOEBA_LANGS = ["de", "es", "fr"]
BUCC_LANGS = ["de", "fr"]


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


# --- the tiny-world fixtures -------------------------------------------------------------------


@pytest.mark.parametrize("lang", TATOEBA_LANGS)
def test_tiny_tatoeba_files_are_aligned_and_unique(lang):
    other = _lines(DATA_DIR / f"tatoeba/{lang}-en.{lang}")
    english = _lines(DATA_DIR / f"tatoeba/{lang}-en.en")
    assert len(other) == len(english) == 40
    assert len(set(other)) == len(set(english)) == 40


@pytest.mark.parametrize("lang", BUCC_LANGS)
@pytest.mark.parametrize("split", ["dev", "test"])
def test_tiny_bucc_files_have_gold_distractors_and_one_duplicate(lang, split):
    base = DATA_DIR / f"bucc/{lang}-en.{split}"
    sides = {}
    for code in (lang, "en"):
        rows = [line.split("\t") for line in _lines(Path(f"{base}.{code}"))]
        assert all(len(row) == 2 and row[0].startswith(f"{code}-") for row in rows)
        sides[code] = dict(rows)
        assert len(sides[code]) == len(rows), "ids are unique"
    gold = [line.split("\t") for line in _lines(Path(f"{base}.gold"))]
    assert len(gold) == 30
    assert all(s in sides[lang] and t in sides["en"] for s, t in gold)
    assert len(sides["en"]) == 50 and len(sides[lang]) == 51  # 20 distractors, 1 duplicate
    texts = list(sides[lang].values())
    assert len(texts) - len(set(texts)) == 1
    assert len(set(sides["en"].values())) == 50


# --- bad input: exit 2, no results file --------------------------------------------------------


def _copy(task: str, tmp_path: Path) -> Path:
    raw = tmp_path / task
    shutil.copytree(DATA_DIR / task, raw)
    return raw


def _run_bad(tmp_path: Path, capsys, *args: str) -> str:
    out = tmp_path / "results.json"
    # The checkpoint does not exist: input is read and checked before any model is loaded.
    argv = [
        *args,
        "--path",
        str(tmp_path / "none.pt"),
        "--model-dir",
        str(tmp_path),
        "--out",
        str(out),
    ]
    with pytest.raises(SystemExit) as info:
        retrieve_cli.main(argv)
    assert info.value.code == 2
    assert not out.exists()
    assert not list(tmp_path.glob(".results.json.*"))
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    return err


def _edit(path: Path, line: int, text: bytes) -> None:
    lines = path.read_bytes().split(b"\n")
    lines[line - 1] = text
    path.write_bytes(b"\n".join(lines))


@pytest.mark.parametrize(
    "line_text,message",
    [
        (b"de-999999 Ein Satz ohne Tabulator.", "expected id <TAB> sentence, found no tab"),
        (b"de-999999\t  ", "empty sentence"),
        (b"de-999999\tK\xe4se", "not valid UTF-8"),
    ],
)
def test_bucc_malformed_line_names_file_and_line(tmp_path, capsys, line_text, message):
    raw = _copy("bucc", tmp_path)
    path = raw / "de-en.test.de"
    _edit(path, 7, line_text)
    err = _run_bad(tmp_path, capsys, "bucc", str(raw), "--languages", "de")
    assert f"{path}:7:" in err
    assert message in err


def test_bucc_gold_id_not_in_sentence_file(tmp_path, capsys):
    raw = _copy("bucc", tmp_path)
    gold = raw / "fr-en.dev.gold"
    first = _lines(gold)[0].split("\t")
    _edit(gold, 1, f"{first[0]}\ten-999999".encode())
    err = _run_bad(tmp_path, capsys, "bucc", str(raw))
    assert f"{gold}:1:" in err
    assert f"'en-999999' is not in {raw / 'fr-en.dev.en'}" in err


def test_bucc_duplicate_id_is_an_error(tmp_path, capsys):
    raw = _copy("bucc", tmp_path)
    path = raw / "de-en.dev.en"
    first_id = _lines(path)[0].split("\t")[0]
    _edit(path, 3, f"{first_id}\tSomething else.".encode())
    err = _run_bad(tmp_path, capsys, "bucc", str(raw))
    assert f"{path}:3: duplicate id {first_id!r}" in err


def test_tatoeba_files_of_unequal_length(tmp_path, capsys):
    raw = _copy("tatoeba", tmp_path)
    path = raw / "es-en.es"
    path.write_text("".join(line + "\n" for line in _lines(path)[:-1]), encoding="utf-8")
    err = _run_bad(tmp_path, capsys, "tatoeba", str(raw))
    assert f"{path}: 39 lines but {raw / 'es-en.en'} has 40" in err


def test_tatoeba_empty_line(tmp_path, capsys):
    raw = _copy("tatoeba", tmp_path)
    path = raw / "fr-en.en"
    _edit(path, 5, b"")
    err = _run_bad(tmp_path, capsys, "tatoeba", str(raw), "--languages", "fr")
    assert f"{path}:5: empty sentence" in err


def test_unknown_language_lists_the_valid_ones(tmp_path, capsys):
    err = _run_bad(tmp_path, capsys, "bucc", str(DATA_DIR / "bucc"), "--languages", "de", "xx")
    assert "['xx']" in err
    assert "valid: de fr ru zh" in err


def test_missing_file_of_a_requested_language(tmp_path, capsys):
    err = _run_bad(tmp_path, capsys, "tatoeba", str(DATA_DIR / "tatoeba"), "--languages", "ja")
    assert f"{DATA_DIR / 'tatoeba' / 'ja-en.ja'}: file not found" in err


def test_folder_without_task_files(tmp_path, capsys):
    err = _run_bad(tmp_path, capsys, "tatoeba", str(DATA_DIR / "xnli"))
    assert "no tatoeba files for any language" in err


def test_retrieval_tasks_cannot_be_prepared_or_validated(tmp_path):
    with pytest.raises(StiltsError, match="stilts-retrieve tatoeba"):
        prepare_task("tatoeba", tmp_path / "out", tmp_path, raw=DATA_DIR / "tatoeba")
    assert not (tmp_path / "out").exists()
    with pytest.raises(StiltsError, match="stilts-retrieve bucc"):
        evaluate("bucc", tmp_path, tmp_path / "checkpoint.pt")


# --- embeddings --------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("layer,pooling", [(1, "mean"), (2, "cls"), (0, "mean")])
def test_embedding_equals_hand_computation(tiny_model, layer, pooling):
    model = load_encoder(tiny_model / "model.pt", tiny_model)
    encoder = PieceEncoder(tiny_model)
    sentences = ["Anna hat 3 rote Bücher.", "Tom sees Leo on Monday in the kitchen, every morning."]
    got = embed_sentences(model, encoder, sentences, layer=layer, pooling=pooling, batch_size=2)
    assert got.shape == (2, 64)
    for row, sentence in enumerate(sentences):  # one sentence at a time: no padding at all
        ids = torch.as_tensor([encoder.dictionary.bos(), *encoder.encode(sentence)])
        with torch.no_grad():
            _, extra = model(ids[None], features_only=True, return_all_hiddens=True)
        hidden = extra["inner_states"][layer][:, 0]  # T x C
        pooled = hidden.mean(dim=0) if pooling == "mean" else hidden[0]
        expected = pooled / pooled.norm()
        torch.testing.assert_close(got[row], expected, atol=1e-5, rtol=1e-5)
        assert abs(float(got[row].norm()) - 1.0) < 1e-5


@pytest.mark.slow
def test_loading_ignores_heads_and_keeps_the_encoder(tiny_model, mnli_checkpoint):
    plain = load_encoder(tiny_model / "model.pt", tiny_model)
    tuned = load_encoder(mnli_checkpoint, tiny_model)
    assert not tuned.training and len(tuned.classification_heads) == 0
    assert default_layer(tuned) == 1  # round(14 / 24 * 2 layers)
    state = torch.load(mnli_checkpoint, weights_only=True)["model"]
    key = "encoder.sentence_encoder.layers.0.fc1.weight"
    assert torch.equal(tuned.state_dict()[key], state[key])
    assert not torch.equal(plain.state_dict()[key], state[key])  # MNLI training moved it


# --- stilts-retrieve end to end ----------------------------------------------------------------


def _retrieve(task: str, checkpoint: Path, model_dir: Path, out: Path, *extra: str) -> list[dict]:
    retrieve_cli.main(
        [
            task,
            str(DATA_DIR / task),
            "--path",
            str(checkpoint),
            "--model-dir",
            str(model_dir),
            "--out",
            str(out),
            "--cpu",
            *extra,
        ]
    )
    return json.loads(out.read_text())


def _check_rows(rows, task, languages, metrics, checkpoint, layer, pooling):
    assert [(r["language"], r["metric"]) for r in rows] == [
        (lang, metric) for lang in languages for metric in metrics
    ]
    for row in rows:
        assert row["task"] == task and row["split"] == "test"
        assert 0.0 <= row["value"] <= 100.0
        assert row["checkpoint"] == str(checkpoint.resolve())
        assert (row["layer"], row["pooling"]) == (layer, pooling)


@pytest.mark.slow
def test_stilts_retrieve_tatoeba_and_bucc_on_the_pretrained_model(tiny_model, tmp_path, capsys):
    checkpoint = tiny_model / "model.pt"
    rows = _retrieve("tatoeba", checkpoint, tiny_model, tmp_path / "t.json")
    _check_rows(rows, "tatoeba", TATOEBA_LANGS, ["accuracy"], checkpoint, 1, "mean")
    assert_counts_give_rows(rows, tmp_path / "t.examples.npz")
    for row in rows:  # 40 queries each
        assert round(row["value"] * 40 / 100, 6).is_integer()
    rows = _retrieve("bucc", checkpoint, tiny_model, tmp_path / "b.json", "--languages", "fr")
    metrics = ["bucc_f1", "bucc_precision", "bucc_recall"]
    _check_rows(rows, "bucc", ["fr"], metrics, checkpoint, 1, "mean")
    f1_rows = [row for row in rows if row["metric"] == "bucc_f1"]
    assert_counts_give_rows(f1_rows, tmp_path / "b.examples.npz")
    assert len({row["threshold"] for row in rows}) == 1
    out = capsys.readouterr().out
    assert "bucc_f1" in out and "mean" in out and str(tmp_path / "b.json") in out


@pytest.mark.slow
def test_stilts_retrieve_on_a_phase2_checkpoint(tiny_model, mnli_checkpoint, tmp_path):
    rows = _retrieve("bucc", mnli_checkpoint, tiny_model, tmp_path / "b.json")
    metrics = ["bucc_f1", "bucc_precision", "bucc_recall"]
    _check_rows(rows, "bucc", BUCC_LANGS, metrics, mnli_checkpoint, 1, "mean")
    rows = _retrieve(
        "tatoeba",
        mnli_checkpoint,
        tiny_model,
        tmp_path / "t.json",
        "--layer",
        "2",
        "--pooling",
        "cls",
        "--languages",
        "es",
        "--batch-size",
        "7",
    )
    _check_rows(rows, "tatoeba", ["es"], ["accuracy"], mnli_checkpoint, 2, "cls")


@pytest.mark.slow
def test_layer_out_of_range(tiny_model, tmp_path, capsys):
    out = tmp_path / "t.json"
    with pytest.raises(SystemExit) as info:
        _retrieve("tatoeba", tiny_model / "model.pt", tiny_model, out, "--layer", "3")
    assert info.value.code == 2
    assert "--layer 3: the model has layers 0 (embeddings) to 2" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.slow
@pytest.mark.parametrize("task", ["tatoeba", "bucc"])
def test_fairseq_train_on_a_retrieval_task_says_how_it_runs(task, tmp_path):
    result = fairseq(
        "fairseq-train",
        str(tmp_path),
        "--task",
        task,
        "--arch",
        "xlmr_tiny",
        "--batch-size",
        "8",
        "--cpu",
        "--save-dir",
        str(tmp_path / "ckpt"),
        check=False,
    )
    assert result.returncode != 0
    assert "no training data" in result.stderr
    assert f"stilts-retrieve {task}" in result.stderr
    assert "Traceback" not in result.stderr
