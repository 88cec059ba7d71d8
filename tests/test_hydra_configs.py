"""The Hydra configs of examples/xtreme/config: the hyperparameters of docs/hyperparameters.md, and each one
runs through the real ``fairseq-hydra-train`` on the tiny world (1 update on the CPU)."""

from __future__ import annotations

import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from fairseq_stilts.runtime import USER_DIR, fairseq_executable

CONFIG_DIR = Path(__file__).resolve().parents[1] / "examples" / "xtreme" / "config"
CONFIGS = sorted(path.stem for path in CONFIG_DIR.glob("*.yaml"))
QA_TASKS = {"squad", "squad_v2", "xquad", "mlqa", "tydiqa"}
CRITERIA = {
    "mnli": "stilts_classification",
    "anli_plus": "stilts_classification",
    "qqp": "stilts_classification",
    "sst2": "stilts_classification",
    "xnli": "stilts_classification",
    "pawsx": "stilts_classification",
    "hellaswag": "stilts_multiple_choice",
    "cosmosqa": "stilts_multiple_choice",
    "commonsenseqa": "stilts_multiple_choice",
    "squad": "stilts_span_qa",
    "squad_v2": "stilts_span_qa",
    "xquad": "stilts_span_qa",
    "tydiqa": "stilts_span_qa",
    "ccg": "stilts_tagging",
    "udpos": "stilts_tagging",
    "panx": "stilts_tagging",
    "stilts_multitask": "stilts_multitask",
}
# Tasks without tiny-world data run their config with a tiny task of the same family.
TINY_STAND_IN = {"anli_plus": "mnli", "qqp": "mnli", "sst2": "mnli", "squad_v2": "squad"}
MULTITASK = ("mnli", "squad", "hellaswag", "ccg")


def load(name: str) -> dict:
    """A config as Hydra reads it (OmegaConf's YAML: 1e-05 is a float); "???" stays "???"."""
    return OmegaConf.to_container(OmegaConf.load(CONFIG_DIR / f"{name}.yaml"))


def test_every_phase_and_family_has_a_config():
    expected = {
        *(f"intermediate_{t}" for t in ("mnli", "squad", "hellaswag", "ccg", "multitask")),
        *(f"target_{t}" for t in ("xnli", "pawsx", "udpos", "panx", "qa", "tydiqa")),
    }
    assert expected <= set(CONFIGS)


@pytest.mark.parametrize("name", CONFIGS)
def test_config_carries_spec_section_6(name):
    cfg = load(name)
    task = cfg["task"]["_name"]
    qa = task in QA_TASKS
    assert cfg["model"]["_name"] == "xlmr_large"
    assert cfg["criterion"]["_name"] == CRITERIA[task]
    assert cfg["optimizer"] == {"_name": "stilts_adamw", "weight_decay": 0.01}
    assert cfg["optimization"]["lr"] == [1e-5]
    assert cfg["optimization"]["clip_norm"] == 1.0
    assert cfg["common"]["fp16"] is True and cfg["common"]["fp16_no_flatten_grads"] is True
    scheduler = cfg["lr_scheduler"]
    assert scheduler["_name"] == "polynomial_decay"
    total = scheduler["total_num_update"]
    assert total == cfg["optimization"]["max_update"]
    assert abs(scheduler["warmup_updates"] - total / 10) <= 1
    batch = cfg["dataset"]["batch_size"] * cfg["optimization"]["update_freq"][0]
    target_qa = qa and name.startswith("target_")
    assert batch == (16 if target_qa else 32)
    if task != "stilts_multitask":
        assert cfg["task"]["max_seq_length"] == (384 if qa else 256)
    assert cfg["dataset"]["validate_interval_updates"] == 1000
    assert cfg["dataset"]["valid_subset"].split(",")[0] == "valid"
    checkpoint = cfg["checkpoint"]
    assert checkpoint["patience"] == 30
    assert checkpoint["maximize_best_checkpoint_metric"] is True
    assert checkpoint["finetune_from_model"] == "???" and cfg["task"]["data"] == "???"


@pytest.mark.parametrize(
    ("name", "updates"),
    [
        ("target_xnli", 24544),
        ("target_pawsx", 7719),
        ("target_udpos", 6642),
        ("target_panx", 6250),
        ("target_qa", 10950),
        ("intermediate_mnli", 12272),
    ],
)
def test_epochs_of_spec_section_6(name, updates):
    assert load(name)["lr_scheduler"]["total_num_update"] == updates


@pytest.fixture(scope="module")
def hydra_runs(tmp_path_factory, prepared, tiny_model) -> dict[str, tuple]:
    """Every config through fairseq-hydra-train for one update of the tiny model, in parallel:
    name -> (completed process, save_dir)."""
    tasks = {load(name)["task"]["_name"] for name in CONFIGS} - {"stilts_multitask"}
    for task in sorted({TINY_STAND_IN.get(task, task) for task in tasks} | set(MULTITASK)):
        prepared(task)  # not thread-safe: prepare everything first
    root = tmp_path_factory.mktemp("hydra")
    # run as the recipe does: relative paths from the working folder, the configs' own user_dir
    (root / "fairseq_stilts").symlink_to(Path(USER_DIR))

    def run(name: str) -> subprocess.CompletedProcess:
        task = load(name)["task"]["_name"]
        overrides = []
        if task == "stilts_multitask":
            data = prepared("mnli").parent
        else:
            if task in TINY_STAND_IN:
                task = TINY_STAND_IN[task]
                overrides.append(f"task._name={task}")
            data = prepared(task)
        command = [
            fairseq_executable("fairseq-hydra-train"),
            "--config-dir",
            str(CONFIG_DIR),
            "--config-name",
            name,
            f"task.data={os.path.relpath(data, root)}",
            f"checkpoint.finetune_from_model={os.path.relpath(tiny_model / 'model.pt', root)}",
            "model._name=xlmr_tiny",
            "common.cpu=true",
            "common.fp16=false",
            "optimization.max_update=1",
            "dataset.batch_size=4",
            f"checkpoint.save_dir={name}",
            "dataset.num_workers=0",
            *overrides,
        ]
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        return subprocess.run(command, capture_output=True, text=True, cwd=root, env=env)

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 1)) as pool:
        results = dict(zip(CONFIGS, pool.map(run, CONFIGS), strict=True))
    return {name: (result, root / name) for name, result in results.items()}


@pytest.mark.slow
@pytest.mark.parametrize("name", CONFIGS)
def test_config_trains_with_fairseq_hydra_train(hydra_runs, name):
    result, save_dir = hydra_runs[name]
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "num_updates 1" in output
    # Validation ran after the update and the config's best_checkpoint_metric was found.
    assert (save_dir / "checkpoint_best.pt").exists(), output[-3000:]
