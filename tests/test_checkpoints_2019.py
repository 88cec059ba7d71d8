"""fairseq 0.9's checkpoint files (2019: the xlmr.base/xlmr.large releases) through every entry
point, with torch's weights-only loading on; a truly unsafe or a truncated file is one line."""

from __future__ import annotations

import argparse
import json
import os

import numpy
import pytest
import torch
from checkpoints_2019 import VARIANTS, model_folder_2019, save_2019
from conftest import fairseq, train_args
from fairseq import checkpoint_utils
from fairseq.models.roberta import XLMRModel
from safetensors.torch import load_file
from transformers import XLMRobertaForMaskedLM

from fairseq_stilts.checkpoint_safety import (
    Meter2019,
    UnreadableCheckpointError,
    UnsafeCheckpointError,
)
from fairseq_stilts.cli import evaluate as evaluate_cli
from fairseq_stilts.cli import retrieve as retrieve_cli
from fairseq_stilts.cli.convert import main as convert_main
from fairseq_stilts.runtime import load_encoder
from fairseq_stilts.tiny import DATA_DIR

ENCODER, LM_HEAD = "encoder.sentence_encoder.", "encoder.lm_head."
TOKENS = torch.tensor([[0, 10, 20, 30, 40, 2], [0, 50, 60, 2, 1, 1]])


@pytest.fixture(scope="session", params=VARIANTS)
def folder_2019(request, tiny_model, tmp_path_factory):
    """A release-layout folder, named after the variant, whose model.pt is a 2019 file of each
    variant in turn."""
    folder = tmp_path_factory.mktemp("2019") / request.param
    return model_folder_2019(tiny_model, folder, request.param)


@pytest.fixture(scope="session")
def trainer_2019(tiny_model, tmp_path_factory):
    """The 2019 file as fairseq 0.9's trainer wrote it: meters, numpy scalars, optimizer."""
    return model_folder_2019(tiny_model, tmp_path_factory.mktemp("2019") / "trainer", "trainer")


def _rounded(tiny_model) -> dict[str, torch.Tensor]:
    """The tiny model's weights as a 2019 file holds them: rounded to fp16."""
    return {k: v.half().float() for k, v in torch.load(tiny_model / "model.pt")["model"].items()}


def _features(model) -> torch.Tensor:
    with torch.no_grad():
        return model(TOKENS, features_only=True)[0]


def _error_line(capsys, main, argv: list[str]) -> str:
    """The one line a stilts-* command prints when it stops on bad input."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    return err


def _retrieve_argv(checkpoint, model_dir, out) -> list[str]:
    return [
        "tatoeba",
        str(DATA_DIR / "tatoeba"),
        "--path",
        str(checkpoint),
        "--model-dir",
        str(model_dir),
        "--languages",
        "de",
        "--out",
        str(out),
        "--cpu",
    ]


# --- what the files hold, and what the loader makes of it --------------------------------------


def test_the_imitation_has_the_2019_layout(folder_2019):
    path = folder_2019 / "model.pt"
    raw = path.read_bytes()
    assert not raw.startswith(b"PK")  # torch's legacy format, not a zip file
    state = torch.load(path, weights_only=True)  # torch's own loader, weights only
    assert isinstance(state["args"], argparse.Namespace) and state["args"].arch == "roberta_base"
    weights = state["model"]
    assert not any(k.startswith("encoder.") for k in weights)
    assert "decoder.sentence_encoder.emb_layer_norm.weight" in weights
    assert "decoder.lm_head.dense.weight" in weights
    assert {v.dtype for v in weights.values()} == {torch.float16}
    variant = folder_2019.name
    assert ("extra_state" in state) == (variant != "release")
    assert (b"fairseq.meters\nAverageMeter\n" in raw) == (variant != "release")
    assert (b"numpy.core.multiarray\nscalar\n" in raw) == (variant != "release")
    assert (
        ("optimizer_history" in state)
        == ("last_optimizer_state" in state)
        == (variant == "trainer")
    )


def test_meters_and_numpy_scalars_become_plain_data(trainer_2019):
    state = checkpoint_utils.load_checkpoint_to_cpu(str(trainer_2019 / "model.pt"))
    extra = state["extra_state"]
    assert type(extra["val_loss"]) is float and extra["val_loss"] == 1.875
    meters = extra["train_meters"]
    assert all(type(meter) is Meter2019 for meter in meters.values())
    assert vars(meters["train_loss"]) == {"val": 2.25, "avg": 2.25, "sum": 9216.0, "count": 4096}
    assert type(meters["wpb"].val) is float and meters["wpb"].val == 4096.0  # a numpy float32
    assert vars(meters["train_wall"]) == {"sum": 3600.5, "n": 5000, "start_time": None}
    history = state["optimizer_history"][-1]
    assert history["optimizer_name"] == "FP16Optimizer" and history["num_updates"] == 125000
    assert history["lr_scheduler_state"] == {"best": 1.875}
    assert state["last_optimizer_state"]["loss_scale"] == 8.0
    assert (state["cfg"].task._name, state["cfg"].model._name) == (
        "multilingual_masked_lm",
        "roberta_base",
    )


def test_the_state_rank_0_broadcasts_loads_weights_only(tmp_path, trainer_2019):
    state = checkpoint_utils.load_checkpoint_to_cpu(str(trainer_2019 / "model.pt"))
    torch.save(state, tmp_path / "broadcast.pt")  # what distributed_utils.broadcast_object does
    again = torch.load(tmp_path / "broadcast.pt", weights_only=True)
    assert type(again["extra_state"]["train_meters"]["wps"]) is Meter2019


def test_a_release_file_without_training_state_gets_an_empty_one(folder_2019):
    state = checkpoint_utils.load_checkpoint_to_cpu(str(folder_2019 / "model.pt"))
    assert state["extra_state"]["train_iterator"]["epoch"] >= 1
    assert "num_updates" in state["optimizer_history"][-1]


# --- the entry points without fairseq executables -----------------------------------------------


def test_load_encoder_gives_the_2019_weights(folder_2019, tiny_model):
    model = load_encoder(folder_2019 / "model.pt", folder_2019)
    rounded = _rounded(tiny_model)
    loaded = model.state_dict()
    keys = [k for k in rounded if k.startswith((ENCODER, LM_HEAD)) and not k.endswith("version")]
    assert len(keys) == len(rounded) - 2  # all but the fingerprint and the version buffer
    for key in keys:
        assert loaded[key].dtype == torch.float32
        assert torch.equal(loaded[key], rounded[key]), key


@pytest.mark.slow  # loads fairseq's hub machinery per variant
def test_xlmr_from_pretrained_reads_the_release_folder(folder_2019):
    hub = XLMRModel.from_pretrained(str(folder_2019), "model.pt").eval()
    ours = load_encoder(folder_2019 / "model.pt", folder_2019)
    with torch.no_grad():
        features = hub.extract_features(TOKENS)
    torch.testing.assert_close(features, _features(ours), atol=1e-6, rtol=0)
    ids = hub.encode("Hello world").tolist()  # the folder's sentencepiece model
    assert ids[0] == 0 and ids[-1] == 2 and len(ids) > 3


@pytest.mark.slow  # starts processes
def test_stilts_convert_to_hf_renames_the_2019_weights(folder_2019, tmp_path, capsys):
    out = tmp_path / "hf"
    convert_main(["to-hf", str(folder_2019 / "model.pt"), str(out)])  # --model-dir: its folder
    assert capsys.readouterr().out.strip() == f"{out}: XLMRobertaForMaskedLM"
    weights = load_file(out / "model.safetensors")
    assert {v.dtype for v in weights.values()} == {torch.float32}  # fp16 exported as float32
    hf = XLMRobertaForMaskedLM.from_pretrained(out).eval()
    ours = load_encoder(folder_2019 / "model.pt", folder_2019)
    with torch.no_grad():
        theirs = hf.roberta(TOKENS, attention_mask=TOKENS.ne(1)).last_hidden_state
        logits = hf(TOKENS, attention_mask=TOKENS.ne(1)).logits
        our_logits = ours(TOKENS)[0]
    keep = TOKENS.ne(1)
    assert (theirs[keep] - _features(ours)[keep]).abs().max() < 1e-5
    assert (logits[keep] - our_logits[keep]).abs().max() < 1e-4
    assert (out / "sentencepiece.bpe.model").is_file()


def test_stilts_retrieve_on_a_2019_file(folder_2019, tiny_model, tmp_path):
    out = tmp_path / "t.json"
    retrieve_cli.main(_retrieve_argv(folder_2019 / "model.pt", folder_2019, out))
    rows = json.loads(out.read_text())
    assert [(r["language"], r["metric"]) for r in rows] == [("de", "accuracy")]
    assert 0.0 <= rows[0]["value"] <= 100.0


# --- refusals: unsafe and truncated files -------------------------------------------------------


class RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class NumpyScalar:
    """Pickles as numpy's scalar reconstruction of ``data`` in ``numpy.dtype(code)``."""

    def __init__(self, code: str, data) -> None:
        self.code, self.data = code, data

    def __reduce__(self):
        return (numpy.float64(0).__reduce__()[0], (numpy.dtype(self.code), self.data))


def _unsafe_2019(path, payload):
    args = argparse.Namespace(arch="roberta_base", task="multilingual_masked_lm")
    return save_2019({"args": args, "model": {}, "extra_state": {"train_meters": payload}}, path)


def test_a_2019_file_that_would_run_code_is_refused_by_every_command(tmp_path, tiny_model, capsys):
    marker = tmp_path / "ran"
    path = _unsafe_2019(tmp_path / "evil.pt", RunsCode(marker))
    with pytest.raises(UnsafeCheckpointError, match=r"evil.pt: refused to load: .*posix.system"):
        load_encoder(path, tiny_model)
    line = _error_line(capsys, retrieve_cli.main, _retrieve_argv(path, tiny_model, tmp_path / "o"))
    assert line.startswith(f"error: {path}: refused to load") and "posix.system" in line
    argv = ["to-hf", str(path), str(tmp_path / "hf"), "--model-dir", str(tiny_model)]
    assert _error_line(capsys, convert_main, argv).startswith(f"error: {path}: refused to load")
    assert not marker.exists() and not (tmp_path / "hf").exists()


@pytest.mark.parametrize(
    "code,data,refused",
    [
        ("O", "text", "numpy.dtype('O8'), not a number type"),
        ("V8", b"\0" * 8, "numpy.dtype('V8'), not a number type"),
        ("U2", b"\0" * 8, "numpy.dtype('U2'), not a number type"),
        ("f8", b"\0" * 3, "not the 8 bytes of a float64"),
    ],
)
def test_numpy_scalars_of_other_types_are_refused(tmp_path, code, data, refused):
    path = _unsafe_2019(tmp_path / "numpy.pt", NumpyScalar(code, data))
    with pytest.raises(UnsafeCheckpointError, match="numpy.pt: refused to load") as info:
        checkpoint_utils.load_checkpoint_to_cpu(str(path))
    assert refused in str(info.value)


def test_numpy_scalars_of_number_types_are_their_numbers(tmp_path):
    values = [numpy.float16(0.5), numpy.int64(-3), numpy.uint8(7), numpy.bool_(True)]
    values += [numpy.complex64(1 + 2j), numpy.dtype(">f8").type(2.5)]
    path = _unsafe_2019(tmp_path / "numbers.pt", values)
    loaded = checkpoint_utils.load_checkpoint_to_cpu(str(path))["extra_state"]["train_meters"]
    assert loaded == [0.5, -3, 7, True, 1 + 2j, 2.5]
    assert [type(v) for v in loaded] == [float, int, int, bool, complex, float]


def _cuts(path) -> dict[str, int]:
    """Where to cut a 2019 file: inside a global's name (which torch would read as an unknown
    global), inside the pickled state, inside the tensors' bytes."""
    raw = path.read_bytes()
    return {
        "global": raw.index(b"fairseq.meters\nAverage") + len(b"fairseq.meters\nAver"),
        "state": raw.index(b"train_meters") + 3,
        "tensors": len(raw) * 9 // 10,
    }


@pytest.mark.parametrize("cut", ["global", "state", "tensors"])
def test_a_truncated_2019_file_is_one_line_in_every_command(tmp_path, trainer_2019, cut, capsys):
    whole = trainer_2019 / "model.pt"
    path = tmp_path / "model.pt"
    path.write_bytes(whole.read_bytes()[: _cuts(whole)[cut]])
    with pytest.raises(UnreadableCheckpointError, match=f"{path}: not a readable checkpoint"):
        load_encoder(path, trainer_2019)
    unreadable = f"error: {path}: not a readable checkpoint"
    argv = _retrieve_argv(path, trainer_2019, tmp_path / "o.json")
    assert _error_line(capsys, retrieve_cli.main, argv).startswith(unreadable)
    argv = ["to-hf", str(path), str(tmp_path / "hf"), "--model-dir", str(trainer_2019)]
    assert _error_line(capsys, convert_main, argv).startswith(unreadable)


# --- the fairseq executables --------------------------------------------------------------------


def _last_error(result) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    return result.stderr.strip().splitlines()[-1]


@pytest.mark.slow
def test_fairseq_train_finetunes_from_a_trainer_file_and_stilts_eval_scores_it(
    trainer_2019, tiny_model, prepared, tmp_path, capsys
):
    """The richest variant (meters, numpy scalars, optimizer state); the others load through
    the same reader, tested above without a training run."""
    folder_2019 = trainer_2019
    data = prepared("xnli")
    save = tmp_path / "ckpt"
    # --lr 0: one update that moves nothing, so the encoder is the 2019 file's
    args = train_args("xnli", data, folder_2019 / "model.pt", save, 1, "--lr", "0")
    result = fairseq("fairseq-train", *args)
    assert f"Loaded checkpoint {folder_2019 / 'model.pt'}" in result.stdout + result.stderr
    tuned = torch.load(save / "checkpoint_last.pt", weights_only=True)["model"]
    rounded = _rounded(tiny_model)
    for key in (k for k in rounded if k.startswith(ENCODER) and not k.endswith("version")):
        assert torch.equal(tuned[key], rounded[key]), key
    checkpoint = save / "checkpoint_last.pt"
    evaluate_cli.main(["xnli", str(data), "--path", str(checkpoint), "--cpu", "--quiet"])
    rows = json.loads(checkpoint.with_suffix(".xnli.test.json").read_text())
    assert sorted(row["language"] for row in rows) == ["de", "en", "es", "fr"]


@pytest.mark.slow
def test_stilts_eval_of_a_2019_file_says_it_has_no_head(trainer_2019, prepared, capsys):
    argv = ["xnli", str(prepared("xnli")), "--path", str(trainer_2019 / "model.pt"), "--cpu"]
    line = _error_line(capsys, evaluate_cli.main, [*argv, "--quiet"])
    assert "saved by task 'multilingual_masked_lm', not 'xnli'" in line


@pytest.mark.slow
def test_fairseq_executables_refuse_unsafe_and_truncated_2019_files_in_one_line(
    tmp_path, trainer_2019, prepared, capsys
):
    data = prepared("xnli")
    whole = trainer_2019 / "model.pt"
    cases = {_unsafe_2019(tmp_path / "evil.pt", RunsCode(tmp_path / "ran")): "refused to load"}
    # one cut here (the others go through every stilts command above)
    cut = tmp_path / "cut.pt"
    cut.write_bytes(whole.read_bytes()[: _cuts(whole)["tensors"]])
    cases[cut] = "not a readable checkpoint"
    for path, message in cases.items():
        args = train_args("xnli", data, path, tmp_path / f"ckpt-{path.stem}", 1)
        last = _last_error(fairseq("fairseq-train", *args, check=False))
        assert last.startswith(f"error: {path}: {message}"), last
        argv = ["xnli", str(data), "--path", str(path), "--cpu", "--quiet"]
        assert _error_line(capsys, evaluate_cli.main, argv).startswith(f"error: {path}: {message}")
    assert not (tmp_path / "ran").exists()
