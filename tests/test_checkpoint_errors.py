"""Checkpoints: safe weights-only loading, and clear errors when checkpoint and data disagree."""

from __future__ import annotations

import os
import shutil

import pytest
import torch
from conftest import fairseq, train_args
from fairseq import checkpoint_utils

import fairseq_stilts  # noqa: F401
from fairseq_stilts.checkpoint_safety import FAIRSEQ_CHECKPOINT_GLOBALS, UnsafeCheckpointError
from fairseq_stilts.data.prepare.folder import prepare_task
from fairseq_stilts.tiny import DATA_DIR


class RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_pickle_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pt"
    torch.save({"model": RunsCode(marker)}, path)
    with pytest.raises(
        UnsafeCheckpointError, match=r"evil.pt: refused to load: .*posix.system"
    ) as err:
        checkpoint_utils.load_checkpoint_to_cpu(str(path))
    assert "weights_only" not in str(err.value)  # torch's own hint would be to switch it off
    assert not marker.exists()


@pytest.mark.slow
def test_fairseq_checkpoints_need_only_the_allow_listed_classes(mnli_checkpoint, tiny_model):
    allowed = {f"{c.__module__}.{c.__qualname__}" for c in FAIRSEQ_CHECKPOINT_GLOBALS}
    for path in (mnli_checkpoint, tiny_model / "model.pt"):
        assert set(torch.serialization.get_unsafe_globals_in_checkpoint(path)) <= allowed
        state = torch.load(path, weights_only=True)
        assert "model" in state and "cfg" in state


@pytest.mark.slow
def test_the_state_rank_0_broadcasts_loads_weights_only(tmp_path, mnli_checkpoint):
    state = checkpoint_utils.load_checkpoint_to_cpu(str(mnli_checkpoint))
    torch.save(state, tmp_path / "broadcast.pt")  # what distributed_utils.broadcast_object does
    again = torch.load(tmp_path / "broadcast.pt", weights_only=True)
    assert again["cfg"].task._name == "mnli"


def _train_error(*args) -> str:
    result = fairseq("fairseq-train", *args, check=False)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr  # one line: "error: ..."
    return result.stderr.strip().splitlines()[-1]


@pytest.mark.slow
def test_data_encoded_with_another_dictionary_is_refused(tmp_path, tiny_model, mnli_checkpoint):
    other = tmp_path / "other-model"
    shutil.copytree(tiny_model, other)
    lines = (other / "dict.txt").read_text(encoding="utf-8").splitlines()
    lines[10], lines[11] = lines[11], lines[10]  # same size, different ids
    (other / "dict.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    data = tmp_path / "data"
    prepare_task("xnli", data, other, raw=DATA_DIR / "xnli", workers=1)
    error = _train_error(*train_args("xnli", data, mnli_checkpoint, tmp_path / "ckpt", 1))
    assert "another dictionary" in error

    (other / "dict.txt").write_text("\n".join([*lines, "extra 1"]) + "\n", encoding="utf-8")
    prepare_task("xnli", data, other, raw=DATA_DIR / "xnli", workers=1, force=True)
    error = _train_error(*train_args("xnli", data, mnli_checkpoint, tmp_path / "ckpt2", 1))
    assert "vocabulary has" in error and "entries" in error


@pytest.mark.slow
def test_num_classes_that_disagree_with_the_labels_are_refused(tmp_path, prepared, tiny_model):
    args = train_args("xnli", prepared("xnli"), tiny_model / "model.pt", tmp_path, 1)
    error = _train_error(*args, "--num-classes", "2")
    assert "--num-classes 2 does not match the 3 labels" in error and "label/dict.txt" in error


@pytest.mark.slow
def test_reusing_a_head_with_another_shape_is_refused(tmp_path, prepared, mnli_checkpoint):
    args = train_args("pawsx", prepared("pawsx"), mnli_checkpoint, tmp_path, 1)
    error = _train_error(*args, "--head-name", "mnli")
    assert "head 'mnli' has 3 classes, the task needs 2" in error


@pytest.mark.slow
def test_data_of_another_task_and_unknown_subsets_are_refused(tmp_path, prepared, mnli_checkpoint):
    error = _train_error(*train_args("pawsx", prepared("xnli"), mnli_checkpoint, tmp_path, 1))
    assert "prepared for task 'xnli', not 'pawsx'" in error
    result = fairseq(
        "fairseq-validate",
        str(prepared("mnli")),
        "--task",
        "mnli",
        "--path",
        str(mnli_checkpoint),
        "--valid-subset",
        "test.de",
        "--batch-size",
        "8",
        "--cpu",
        check=False,
    )
    assert result.returncode != 0 and "error: subset 'test.de' is not in" in result.stderr
