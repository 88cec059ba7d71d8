"""Bad input ends with one ``error:`` line naming the file (and line or field), never a
traceback; good-but-unusual input (a byte-order mark) is accepted. One test per case found by
the bad-input corpus of the "researcher's day" issue."""

from __future__ import annotations

import errno
import json
import os
import re
import shutil

import pytest
import torch
from conftest import fairseq

from fairseq_stilts.checkpoint_safety import UnreadableCheckpointError, UnsafeCheckpointError
from fairseq_stilts.cli import evaluate as evaluate_cli
from fairseq_stilts.cli import retrieve as retrieve_cli
from fairseq_stilts.data.prepare.encoder import PieceEncoder
from fairseq_stilts.data.prepare.folder import prepare_task
from fairseq_stilts.errors import DataError, StiltsError
from fairseq_stilts.families.retrieval.data import check_languages, read_tatoeba
from fairseq_stilts.registry import get_spec
from fairseq_stilts.runtime import load_encoder
from fairseq_stilts.tiny import DATA_DIR


def _copy(name, tmp_path):
    raw = tmp_path / name
    shutil.copytree(DATA_DIR / name, raw)
    return raw


def _model_copy(tiny_model, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    return model


# ------------------------------------------------------------------- raw data


def test_empty_tatoeba_file_names_the_file(tmp_path):
    raw = _copy("tatoeba", tmp_path)
    (raw / "de-en.de").write_text("")
    with pytest.raises(DataError, match=re.escape(f"{raw / 'de-en.de'}: no sentences")):
        read_tatoeba(get_spec("tatoeba"), raw, "de")


def test_bucc_language_without_its_dev_gold_is_an_error_not_dropped(tmp_path):
    raw = _copy("bucc", tmp_path)
    gold = next(raw.glob("*-en.dev.gold"))
    gold.unlink()
    with pytest.raises(DataError, match=re.escape(f"{gold}: missing, but")):
        check_languages(get_spec("bucc"), raw, None)


def test_binary_mlm_text_names_file_and_line(tmp_path, tiny_model):
    raw = tmp_path / "mlm"
    raw.mkdir()
    (raw / "de.txt").write_bytes(b"ein Satz\n\xff\xfe\x00binary\n")
    with pytest.raises(DataError, match=re.escape(f"{raw / 'de.txt'}:2: not valid UTF-8")):
        prepare_task("mlm", tmp_path / "out", tiny_model, raw=raw, workers=1)


def test_nul_byte_inside_a_field_is_an_error(tmp_path, tiny_model):
    raw = _copy("xnli", tmp_path)
    dev = raw / "dev-en.tsv"
    lines = dev.read_text().splitlines()
    lines[3] = lines[3].replace(" ", " \x00", 1)
    dev.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=re.escape(f"{dev}:4: NUL byte")):
        prepare_task("xnli", tmp_path / "out", tiny_model, raw=raw, workers=1)


def test_byte_order_marks_are_accepted(tmp_path, tiny_model, prepared):
    raw = _copy("mnli", tmp_path)
    for name in ("train.tsv", "dev_matched.tsv"):
        (raw / name).write_bytes(b"\xef\xbb\xbf" + (raw / name).read_bytes())
    out = tmp_path / "out"
    prepare_task("mnli", out, tiny_model, raw=raw, workers=1)
    same = prepared("mnli")
    for part in ("input0/train.bin", "input1/valid.bin", "label/train.bin"):
        assert (out / part).read_bytes() == (same / part).read_bytes(), part


def test_byte_order_mark_at_the_start_of_a_jsonl_file_is_accepted(tmp_path, tiny_model):
    raw = _copy("hellaswag", tmp_path)
    for path in raw.glob("*.jsonl"):
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    manifest = prepare_task("hellaswag", tmp_path / "out", tiny_model, raw=raw, workers=1)
    assert manifest.subsets["train"].count > 0


def test_an_empty_training_file_is_named(tmp_path, tiny_model):
    raw = _copy("mnli", tmp_path)
    header = (raw / "train.tsv").read_text().splitlines()[0]
    (raw / "train.tsv").write_text(header + "\n")
    with pytest.raises(
        StiltsError, match=re.escape(f"no training examples found in {raw / 'train.tsv'}")
    ):
        prepare_task("mnli", tmp_path / "out", tiny_model, raw=raw, workers=1)


def test_a_folder_or_a_dangling_link_in_place_of_a_file_says_so(tmp_path, tiny_model):
    raw = _copy("mnli", tmp_path)
    (raw / "train.tsv").unlink()
    (raw / "train.tsv").mkdir()
    with pytest.raises(DataError, match="train.tsv: is a folder, not a file"):
        prepare_task("mnli", tmp_path / "out", tiny_model, raw=raw, workers=1)
    (raw / "train.tsv").rmdir()
    os.symlink(tmp_path / "gone.tsv", raw / "train.tsv")
    with pytest.raises(DataError, match="train.tsv: dangling symbolic link .*gone.tsv"):
        prepare_task("mnli", tmp_path / "out", tiny_model, raw=raw, workers=1)


def _squad(tmp_path, change) -> None:
    raw = _copy("squad", tmp_path)
    document = json.loads((raw / "train-v1.1.json").read_text())
    change(document["data"][0]["paragraphs"][0]["qas"])
    (raw / "train-v1.1.json").write_text(json.dumps(document))
    return raw


def test_an_empty_squad_question_is_an_error(tmp_path, tiny_model):
    raw = _squad(tmp_path, lambda qas: qas[0].update(question="  "))
    with pytest.raises(
        DataError, match=r"train-v1.1.json: data\[0\].paragraphs\[0\].qas\[0\] .*empty question"
    ):
        prepare_task("squad", tmp_path / "out", tiny_model, raw=raw, workers=1)


def test_duplicate_question_ids_in_a_squad_training_file_are_an_error(tmp_path, tiny_model):
    raw = _squad(tmp_path, lambda qas: qas[1].update(id=qas[0]["id"]))
    with pytest.raises(DataError, match="duplicate question id"):
        prepare_task("squad", tmp_path / "out", tiny_model, raw=raw, workers=1)


def test_a_corrupt_parquet_file_names_the_file(tmp_path, tiny_model):
    folder = tmp_path / "hf"
    folder.mkdir()
    (folder / "train-00000-of-00001.parquet").write_bytes(b"PAR1 not really parquet")
    with pytest.raises(DataError, match="train-00000-of-00001.parquet: not a readable parquet"):
        prepare_task("xnli", tmp_path / "out", tiny_model, hf={"en": folder}, workers=1)


# ------------------------------------------------------------- the model folder


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("sentencepiece.bpe.model", b"garbage", "not a sentencepiece model"),
        ("sentencepiece.bpe.model", b"", "not a sentencepiece model"),
        ("dict.txt", b"garbage\n", "not a fairseq dict.txt"),
        ("dict.txt", b"", "no entries"),
    ],
)
def test_a_broken_model_folder_file_is_named(tmp_path, tiny_model, name, content, message):
    model = _model_copy(tiny_model, tmp_path)
    (model / name).write_bytes(content)
    with pytest.raises(DataError, match=re.escape(f"{model / name}: {message}")):
        PieceEncoder(model)


# ------------------------------------------------------------------ checkpoints


class RunsCode:
    def __reduce__(self):
        return (os.system, ("true",))


@pytest.mark.parametrize("content", ["truncated", "empty", "text"])
def test_an_unreadable_checkpoint_is_one_line(tmp_path, tiny_model, content, capsys):
    path = tmp_path / "model.pt"
    whole = (tiny_model / "model.pt").read_bytes()
    path.write_bytes({"truncated": whole[:5000], "empty": b"", "text": b"hello"}[content])
    with pytest.raises(
        UnreadableCheckpointError, match=re.escape(f"{path}: not a readable checkpoint")
    ):
        load_encoder(path, tiny_model)
    with pytest.raises(SystemExit) as exit_info:  # stilts-retrieve
        retrieve_cli.main(
            [
                "tatoeba",
                str(DATA_DIR / "tatoeba"),
                "--path",
                str(path),
                "--model-dir",
                str(tiny_model),
            ]
        )
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: not a readable checkpoint")


def test_an_unsafe_checkpoint_is_a_user_error(tmp_path, tiny_model):
    path = tmp_path / "evil.pt"
    torch.save({"model": RunsCode()}, path)
    with pytest.raises(UnsafeCheckpointError) as info:
        load_encoder(path, tiny_model)
    assert isinstance(info.value, StiltsError)  # printed as one line by every command


@pytest.mark.slow
def test_fairseq_validate_reports_bad_checkpoints_in_one_line(tmp_path, tiny_model, prepared):
    data = prepared("xnli")
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes((tiny_model / "model.pt").read_bytes()[:5000])
    evil = tmp_path / "evil.pt"
    torch.save({"model": RunsCode()}, evil)
    cases = {
        truncated: "not a readable checkpoint",
        evil: "refused to load",
        tiny_model / "model.pt": "saved by task 'masked_lm', not 'xnli'",
    }
    for path, message in cases.items():
        common = ["--valid-subset", "valid", "--batch-size", "8", "--cpu"]
        result = fairseq(
            "fairseq-validate",
            str(data),
            "--task",
            "xnli",
            "--path",
            str(path),
            *common,
            check=False,
        )
        assert result.returncode != 0
        assert "Traceback" not in result.stderr, result.stderr[-2000:]
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith(f"error: {path}: ") and message in last, last


# -------------------------------------------------------------------- full disk


def test_a_full_disk_while_writing_results_is_one_line(tmp_path, prepared, monkeypatch, capsys):
    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(evaluate_cli, "evaluate", lambda *args, **kwargs: [])
    monkeypatch.setattr("fairseq_stilts.writes.os.replace", no_space)
    out = tmp_path / "results.json"
    checkpoint = tmp_path / "checkpoint.pt"
    checkpoint.write_bytes(b"")
    with pytest.raises(SystemExit) as exit_info:
        evaluate_cli.main(
            ["xnli", str(prepared("xnli")), "--path", str(checkpoint), "--out", str(out)]
        )
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == f"error: {out}: cannot write: No space left on device"
    assert not out.exists() and not list(tmp_path.glob(".results.json.*"))
