"""Data parallelism: two explicit gloo ranks give the losses of one process with the doubled batch."""

from __future__ import annotations

import subprocess

import pytest
import torch
from conftest import logged, run_two_ranks, train_args

from fairseq_stilts.runtime import USER_DIR, fairseq_executable

pytestmark = pytest.mark.slow
UPDATES = 8


def test_two_ranks_match_one_process_with_the_doubled_batch(tmp_path, prepared, tiny_model):
    def args(save: str) -> list[str]:
        return [
            fairseq_executable("fairseq-train"),
            *train_args(
                "xnli",
                prepared("xnli"),
                tiny_model / "model.pt",
                tmp_path / save,
                UPDATES,
                validate=True,
            ),
            "--dropout",
            "0",
            "--attention-dropout",
            "0",
            "--ddp-backend",
            "legacy_ddp",
            "--user-dir",
            USER_DIR,
            "--no-save-optimizer-state",
        ]

    outputs = run_two_ranks(args("ddp"))
    # Gradient accumulation over 2 batches of 8 sees the same batches as 2 ranks of 8 each.
    single = subprocess.run([*args("single"), "--update-freq", "2"], capture_output=True, text=True)
    assert single.returncode == 0, single.stderr[-3000:]

    ddp_log, single_log = outputs[0], single.stdout + single.stderr
    distributed = logged(ddp_log, "train_inner", "loss")
    assert len(distributed) == UPDATES
    assert distributed == pytest.approx(logged(single_log, "train_inner", "loss"), abs=1e-5)
    # Validation sums the correct answers of both ranks' shares of the 30 dev examples.
    accuracy = logged(ddp_log, "valid", "valid_accuracy")
    assert len(accuracy) == 2 and accuracy == logged(single_log, "valid", "valid_accuracy")
    assert all(abs(a * 30 / 100 - round(a * 30 / 100)) < 1e-3 for a in accuracy)  # k of 30
    # The weights after the last update agree far more tightly than the printed losses.
    ddp, one = (torch.load(tmp_path / d / "checkpoint_last.pt")["model"] for d in ("ddp", "single"))
    assert ddp.keys() == one.keys()
    assert max((ddp[k].float() - one[k].float()).abs().max().item() for k in ddp) < 1e-5
