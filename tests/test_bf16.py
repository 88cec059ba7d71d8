"""bf16 autocast (--bf16-autocast): matmuls in bf16, weights and optimizer state in fp32."""

from __future__ import annotations

import pytest
import torch
from conftest import fairseq, logged, train_args

from fairseq_stilts.cli.evaluate import evaluate
from fairseq_stilts.errors import StiltsError
from fairseq_stilts.models.stilts_xlmr import use_bf16_autocast
from fairseq_stilts.runtime import load_encoder


def test_bf16_autocast_forward_tracks_fp32(tiny_model):
    model = load_encoder(tiny_model / "model.pt", tiny_model)
    tokens = torch.randint(4, 200, (4, 30), generator=torch.Generator().manual_seed(0))
    tokens[:, 0], tokens[2, 20:] = 0, 1
    with torch.no_grad():
        fp32 = model(tokens)[0]
        use_bf16_autocast(model, True)
        bf16 = model(tokens)[0]
        use_bf16_autocast(model, False)
        again = model(tokens)[0]
    assert not torch.equal(bf16.float(), fp32)  # the matmuls did run in bf16
    print(f"bf16 vs fp32: {(bf16.float() - fp32).abs().max() / fp32.abs().max():.2%}")
    assert all(p.dtype == torch.float32 for p in model.parameters())
    # bf16 keeps 8 bits of mantissa: the LM logits move by well under 2% of their range
    # (measured 0.4% on this model)
    assert (bf16.float() - fp32).abs().max() < 0.02 * fp32.abs().max()
    assert torch.equal(again, fp32)


def test_bf16_autocast_refuses_a_half_model(tiny_model):
    model = load_encoder(tiny_model / "model.pt", tiny_model).half()
    use_bf16_autocast(model, True)
    with pytest.raises(StiltsError, match="do not combine it with --fp16"):
        model(torch.tensor([[0, 5, 6, 2]]))


@pytest.mark.slow
def test_a_bf16_run_tracks_the_fp32_run_and_its_checkpoint_loads_either_way(
    tiny_model, prepared, tmp_path
):
    data, init = prepared("xnli"), tiny_model / "model.pt"
    losses = {}
    for name, extra in (("fp32", ()), ("bf16", ("--bf16-autocast",))):
        run = fairseq("fairseq-train", *train_args("xnli", data, init, tmp_path / name, 30, *extra))
        losses[name] = logged(run.stdout + run.stderr, "train_inner", "loss")
    assert len(losses["bf16"]) == 30
    # the same seed and batches: the losses of every update agree to within 0.02 bits (measured
    # at most 0.005 over these 30 updates)
    gap = max(abs(a - b) for a, b in zip(losses["fp32"], losses["bf16"], strict=True))
    print(f"largest loss gap, bf16 vs fp32: {gap:.4f}")
    assert gap < 0.02
    checkpoint = tmp_path / "bf16" / "checkpoint_last.pt"
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    assert all(t.dtype == torch.float32 for t in state["model"].values() if t.is_floating_point())
    accuracy = {}
    for name, extra in (("fp32", []), ("bf16", ["--bf16-autocast"])):
        rows = evaluate("xnli", data, checkpoint, "test", cpu=True, extra=extra)
        accuracy[name] = {row["language"]: row["value"] for row in rows}
    print(f"accuracy of the bf16-trained checkpoint, fp32 vs bf16 evaluation: {accuracy}")
    for lang, value in accuracy["fp32"].items():
        assert abs(value - accuracy["bf16"][lang]) <= 5.0  # at most a few of the tiny test set


@pytest.mark.slow
def test_combined_with_fp16_fairseq_train_stops_with_one_error_line(tiny_model, prepared, tmp_path):
    args = train_args("xnli", prepared("xnli"), tiny_model / "model.pt", tmp_path, 2)
    run = fairseq(
        "fairseq-train", *args, "--fp16", "--fp16-no-flatten-grads", "--bf16-autocast", check=False
    )
    # raised inside the training loop: one line and status 1, not an abort at shutdown
    assert run.returncode == 1
    assert run.stderr.strip().splitlines()[-1].startswith("error: --bf16-autocast runs an fp32")
    assert "Traceback" not in run.stderr and "terminate called" not in run.stderr
