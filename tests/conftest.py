"""Shared fixtures: the tiny pretrained model and prepared tiny-world data, built once per session."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest

from fairseq_stilts.cli.tiny_model import build_tiny_model
from fairseq_stilts.data.prepare.folder import prepare_task
from fairseq_stilts.runtime import USER_DIR, fairseq_executable
from fairseq_stilts.tiny import DATA_DIR


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A 2-layer XLM-R-shaped model folder (model.pt, dict.txt, sentencepiece.bpe.model)."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "model", updates=60)


@pytest.fixture(scope="session")
def prepared(tmp_path_factory, tiny_model):
    """prepared(task) -> data folder of a tiny-world task, made once per session."""
    root = tmp_path_factory.mktemp("prepared")
    cache: dict[str, Path] = {}

    def make(task: str) -> Path:
        if task not in cache:
            cache[task] = root / task
            prepare_task(task, cache[task], tiny_model, raw=DATA_DIR / task, workers=1)
        return cache[task]

    return make


def fairseq(tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run a stock fairseq executable with ``--user-dir`` pointing at the plugin."""
    command = [fairseq_executable(tool), *args, "--user-dir", USER_DIR]
    result = subprocess.run(command, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{tool} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result


def train_args(
    task: str,
    data: Path,
    init: Path,
    save_dir: Path,
    updates: int,
    *extra: str,
    validate: bool = False,
) -> list[str]:
    """fairseq-train arguments for a short, deterministic fine-tuning run of the tiny model."""
    return [
        str(data),
        "--task",
        task,
        "--criterion",
        "stilts_classification",
        "--arch",
        "xlmr_tiny",
        "--finetune-from-model",
        str(init),
        "--optimizer",
        "stilts_adamw",
        "--lr",
        "1e-3",
        "--max-update",
        str(updates),
        "--batch-size",
        "8",
        "--seed",
        "3",
        "--cpu",
        "--num-workers",
        "0",
        "--save-dir",
        str(save_dir),
        "--no-epoch-checkpoints",
        "--log-format",
        "json",
        "--log-interval",
        "1",
        *(
            ["--valid-subset", "valid", "--validate-interval-updates", "4"]
            if validate
            else ["--disable-validation"]
        ),
        *extra,
    ]


@pytest.fixture(scope="session")
def mnli_checkpoint(tmp_path_factory, tiny_model, prepared) -> Path:
    """A phase-2 checkpoint: the tiny model after a few MNLI updates."""
    save_dir = tmp_path_factory.mktemp("mnli")
    fairseq(
        "fairseq-train",
        *train_args("mnli", prepared("mnli"), tiny_model / "model.pt", save_dir, 10),
    )
    return save_dir / "checkpoint_last.pt"


def logged(output: str, tag: str, key: str) -> list[float]:
    """Values of ``key`` in fairseq's JSON log lines tagged ``tag`` (train_inner, valid)."""
    lines = [line for line in output.splitlines() if f"| {tag} | {{" in line]
    return [float(json.loads(line.split(" | ", 3)[3])[key]) for line in lines]


def printed_stats(output: str, subsets: list[str]) -> dict[str, dict]:
    """The final JSON stats line fairseq-validate (``--log-format json``) prints per subset."""
    stats = {}
    for line in output.splitlines():
        parts = line.split(" | ", 3)
        if len(parts) == 4 and parts[2] in subsets and parts[3].startswith("{"):
            stats[parts[2]] = json.loads(parts[3])
    return stats


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_two_ranks(command: list[str]) -> list[str]:
    """Run ``command`` (a fairseq-train command line) as two explicitly started gloo ranks on
    this machine; return each rank's output, after checking that both succeeded."""
    init = f"tcp://127.0.0.1:{free_port()}"
    ranks = [
        subprocess.Popen(
            [
                *command,
                "--distributed-world-size",
                "2",
                "--distributed-rank",
                str(rank),
                "--distributed-init-method",
                init,
                "--distributed-no-spawn",
                "--distributed-backend",
                "gloo",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for rank in range(2)
    ]
    outputs = [p.communicate(timeout=300)[0] for p in ranks]
    assert all(p.returncode == 0 for p in ranks), outputs[0][-3000:] + outputs[1][-3000:]
    return outputs


def assert_counts_give_rows(rows: list[dict], counts_file: Path) -> None:
    """Each row's value is its metric of the summed per-example counts in ``counts_file``."""
    from fairseq_stilts.metrics.sums import metric_from_sums
    from fairseq_stilts.results.example_counts import read_counts

    counts = read_counts(counts_file)
    assert {row["language"] for row in rows} == set(counts)
    for row in rows:
        sums = {name: values.sum() for name, values in counts[row["language"]].items()}
        assert metric_from_sums(row["metric"], sums) == pytest.approx(row["value"], abs=1e-3)
