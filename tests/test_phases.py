"""The three X-STILTs phases through the real fairseq-train / fairseq-validate executables."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import torch
from conftest import fairseq, train_args
from fairseq import checkpoint_utils

from fairseq_stilts.cli.evaluate import evaluate

pytestmark = pytest.mark.slow


def _state(path):
    return checkpoint_utils.load_checkpoint_to_cpu(str(path))["model"]


def test_phase3_keeps_the_encoder_and_starts_a_fresh_head(tmp_path, prepared, mnli_checkpoint):
    # lr 0: the saved weights are exactly what --finetune-from-model loaded.
    fairseq(
        "fairseq-train",
        *train_args("xnli", prepared("xnli"), mnli_checkpoint, tmp_path, 1),
        "--lr",
        "0",
    )
    before, after = _state(mnli_checkpoint), _state(tmp_path / "checkpoint_last.pt")
    encoder = [k for k in before if k.startswith("encoder.")]
    assert len(encoder) > 10
    assert all(torch.equal(before[k], after[k]) for k in encoder)
    assert not any(k.startswith("classification_heads.mnli.") for k in after)
    fresh = after["classification_heads.xnli.out_proj.weight"]
    assert fresh.shape == before["classification_heads.mnli.out_proj.weight"].shape
    assert not torch.equal(fresh, before["classification_heads.mnli.out_proj.weight"])


def test_head_name_reuses_the_intermediate_head(tmp_path, prepared, mnli_checkpoint):
    args = train_args("xnli", prepared("xnli"), mnli_checkpoint, tmp_path, 1)
    fairseq("fairseq-train", *args, "--lr", "0", "--head-name", "mnli")
    before, after = _state(mnli_checkpoint), _state(tmp_path / "checkpoint_last.pt")
    for key in ("dense.weight", "out_proj.weight", "out_proj.bias"):
        assert torch.equal(
            before[f"classification_heads.mnli.{key}"], after[f"classification_heads.mnli.{key}"]
        )


def _independent_accuracy(checkpoint, data, subset) -> tuple[float, int]:
    """Accuracy computed here, outside the criterion: argmax of the head over every example."""
    models, _, task = checkpoint_utils.load_model_ensemble_and_task(
        [str(checkpoint)], arg_overrides={"data": str(data)}
    )
    model = models[0].eval()
    task.load_dataset(subset)
    dataset = task.dataset(subset)
    correct = 0
    with torch.no_grad():
        for i in range(len(dataset)):
            batch = dataset.collater([dataset[i]])
            logits, _ = model(batch["net_input"]["src_tokens"], classification_head_name="xnli")
            correct += int(logits.argmax(-1).item() == batch["target"].item())
    return 100.0 * correct / len(dataset), len(dataset)


def test_zero_shot_evaluation_prints_every_language(tmp_path, prepared, mnli_checkpoint):
    data = prepared("xnli")
    fairseq("fairseq-train", *train_args("xnli", data, mnli_checkpoint, tmp_path, 6))
    checkpoint = tmp_path / "checkpoint_last.pt"
    result = fairseq(
        "fairseq-validate",
        str(data),
        "--task",
        "xnli",
        "--path",
        str(checkpoint),
        "--cpu",
        "--valid-subset",
        "test.en,test.de,test.es,test.fr",
        "--batch-size",
        "16",
    )
    printed = dict(
        re.findall(
            r"valid on '(test\.\w+)' subset .*?\| accuracy ([\d.]+)", result.stdout + result.stderr
        )
    )
    assert sorted(printed) == ["test.de", "test.en", "test.es", "test.fr"]
    for subset, value in printed.items():
        expected, n = _independent_accuracy(checkpoint, data, subset)
        assert n == 30
        assert float(value) == pytest.approx(expected, abs=1e-3)

    rows = evaluate("xnli", data, checkpoint, "test", cpu=True)
    assert [r["language"] for r in rows] == ["en", "de", "es", "fr"]
    assert {r["language"]: r["value"] for r in rows} == pytest.approx(
        {s.split(".")[1]: float(v) for s, v in printed.items()}
    )
    assert all(r["metric"] == "accuracy" and r["split"] == "test" for r in rows)


def test_training_resumes_from_checkpoint_last(tmp_path, prepared, tiny_model):
    args = train_args("xnli", prepared("xnli"), tiny_model / "model.pt", tmp_path, 3)
    fairseq("fairseq-train", *args)
    resumed = fairseq("fairseq-train", *args, "--max-update", "6")
    log = resumed.stdout + resumed.stderr
    assert re.search(r"[Ll]oaded checkpoint .*checkpoint_last\.pt .*@ 3 updates", log)
    assert torch.load(tmp_path / "checkpoint_last.pt")["optimizer_history"][-1]["num_updates"] == 6


def test_checkpoints_load_in_python_after_importing_the_package(
    tmp_path, prepared, tiny_model, mnli_checkpoint
):
    code = f"""
import json, fairseq_stilts
from fairseq import checkpoint_utils
from fairseq.models.roberta import XLMRModel
from fairseq_stilts.data.prepare.encoder import PieceEncoder
models, cfg, task = checkpoint_utils.load_model_ensemble_and_task(
    [{str(mnli_checkpoint)!r}], arg_overrides={{"data": {str(prepared("mnli"))!r}}})
hub = XLMRModel.from_pretrained({str(tiny_model)!r}, checkpoint_file="model.pt")
text = "Anna hat drei rote Äpfel."
print(json.dumps({{
    "model": type(models[0]).__name__, "task": cfg.task._name, "heads": list(models[0].classification_heads),
    "hub_ids": hub.encode(text).tolist(), "ours": [0] + PieceEncoder({str(tiny_model)!r}).encode(text).tolist(),
    "features": list(hub.extract_features(hub.encode(text)).shape),
    "predict": list(XLMRModel.from_pretrained(
        {str(mnli_checkpoint.parent)!r}, checkpoint_file={mnli_checkpoint.name!r},
        data_name_or_path={str(prepared("mnli"))!r},
        sentencepiece_model={str(tiny_model / "sentencepiece.bpe.model")!r},
    ).predict("mnli", hub.encode("Anna hat Äpfel.", "Anna hat keine Äpfel.")).shape)}}))
"""
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr[-3000:]
    info = json.loads(result.stdout.strip().splitlines()[-1])
    assert (
        info["model"] == "StiltsXLMRModel" and info["task"] == "mnli" and info["heads"] == ["mnli"]
    )
    assert info["hub_ids"] == info["ours"]
    assert info["features"] == [1, len(info["ours"]), 64]
    assert info["predict"] == [1, 3]  # a fine-tuned checkpoint through the hub interface
