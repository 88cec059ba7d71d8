"""docs/extending.md's route, proven: another package declares a task spec of an existing family
and a family of its own through entry points, and both run through stilts-prepare,
fairseq-train, fairseq-validate and stilts-eval without a change to this package."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import train_args

from fairseq_stilts.runtime import USER_DIR, fairseq_executable
from fairseq_stilts.tiny import DATA_DIR

# The other package: records only, found through its entry points (nothing registers itself).
TOY_PACKAGE = '''
from fairseq.criterions import register_criterion
from fairseq.logging import metrics

from fairseq_stilts.data.prepare.texts import prepare_texts
from fairseq_stilts.families.classification.criterion import (
    ClassificationCriterion,
    ClassificationCriterionConfig,
)
from fairseq_stilts.families.classification.task import ClassificationTask
from fairseq_stilts.families.stilts_task import SupervisedConfig
from fairseq_stilts.registry import Family, Source, TaskSpec

GLUE = {"sentence1": "sentence1", "sentence2": "sentence2", "label": "gold_label"}
SOURCES = (
    Source("train", "train.tsv", "tsv", GLUE, header=True),
    Source("dev", "dev_matched.tsv", "tsv", GLUE, header=True),
)
LABELS = ("entailment", "neutral", "contradiction")


class ToyPairsTask(ClassificationTask):
    """A family's task class: here the classification one, unchanged."""


@register_criterion("toy_pairs_ce", dataclass=ClassificationCriterionConfig)
class ToyPairsCriterion(ClassificationCriterion):
    """Cross-entropy, and the error rate as the family's own metric."""

    @staticmethod
    def reduce_metrics(logging_outputs) -> None:
        ClassificationCriterion.reduce_metrics(logging_outputs)
        metrics.log_derived("toy_error", _error_rate)


def _error_rate(meters) -> float:
    correct, total = float(meters["_ncorrect"].sum), float(meters["_nsentences"].sum)
    return round(100.0 - 100.0 * correct / max(total, 1.0), 4)


TOY_FAMILY = Family(
    name="toy_pairs",
    task=ToyPairsTask,
    config=SupervisedConfig,
    criterion="toy_pairs_ce",
    prepare=lambda request: prepare_texts(request, read_hf=None),
    metrics=("accuracy", "toy_error"),
    head="sentence",
)
TOY_NLI = TaskSpec(
    name="toy_nli",
    family="classification",
    role="intermediate",
    description="MNLI's layout under another name",
    languages=("en",),
    metrics=("accuracy",),
    scoring="accuracy",
    max_length=64,
    input_fields=("sentence1", "sentence2"),
    labels=LABELS,
    sources=SOURCES,
)
TOY_PAIRS = TaskSpec(
    name="toy_pairs_nli",
    family="toy_pairs",
    role="intermediate",
    description="the same data through the toy family",
    languages=("en",),
    metrics=("toy_error",),
    scoring="error rate",
    max_length=64,
    input_fields=("sentence1", "sentence2"),
    labels=LABELS,
    sources=SOURCES,
)
'''
ENTRY_POINTS = """\
[fairseq_stilts_families]
toy_pairs = toy_stilts:TOY_FAMILY

[fairseq_stilts_tasks]
toy_nli = toy_stilts:TOY_NLI
toy_pairs_nli = toy_stilts:TOY_PAIRS
"""


@pytest.fixture(scope="module")
def toy_env(tmp_path_factory) -> dict[str, str]:
    """An environment whose Python finds the toy package and its entry points."""
    site = tmp_path_factory.mktemp("site")
    (site / "toy_stilts.py").write_text(TOY_PACKAGE)
    dist = site / "toy_stilts-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-stilts\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)
    return {**os.environ, "PYTHONPATH": str(site)}


def _run(env: dict, *command: str) -> subprocess.CompletedProcess:
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    assert result.returncode == 0, (
        f"{command[0]} failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
    )
    return result


def _stilts(name: str) -> str:
    return str(Path(sys.executable).parent / name)


@pytest.mark.slow  # starts processes
def test_plugin_records_are_listed(toy_env):
    out = _run(toy_env, _stilts("stilts-tasks")).stdout
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    assert rows["toy_nli"][2] == "classification"
    assert rows["toy_pairs_nli"][2:5] == ["toy_pairs", "fairseq", "ToyPairsTask"]


@pytest.mark.slow
@pytest.mark.parametrize(
    "task,criterion,metric",
    [
        ("toy_nli", "stilts_classification", "accuracy"),
        ("toy_pairs_nli", "toy_pairs_ce", "toy_error"),
    ],
)
def test_plugin_tasks_run_through_the_stock_tools(
    toy_env, tmp_path, tiny_model, task, criterion, metric
):
    data = tmp_path / "data"
    _run(
        toy_env,
        _stilts("stilts-prepare"),
        task,
        str(DATA_DIR / "mnli"),
        "--model",
        str(tiny_model),
        "--out",
        str(data),
        "--workers",
        "1",
    )
    family = {"toy_nli": "classification", "toy_pairs_nli": "toy_pairs"}[task]
    assert json.loads((data / "manifest.json").read_text())["family"] == family
    save = tmp_path / "ckpt"
    args = train_args(task, data, tiny_model / "model.pt", save, 4, "--criterion", criterion)
    _run(toy_env, fairseq_executable("fairseq-train"), *args, "--user-dir", USER_DIR)
    checkpoint = save / "checkpoint_last.pt"
    validated = _run(
        toy_env,
        fairseq_executable("fairseq-validate"),
        str(data),
        "--task",
        task,
        "--path",
        str(checkpoint),
        "--valid-subset",
        "valid",
        "--batch-size",
        "8",
        "--cpu",
        "--user-dir",
        USER_DIR,
    )
    assert f"{metric} " in validated.stdout + validated.stderr
    out = tmp_path / "results.json"
    _run(
        toy_env,
        _stilts("stilts-eval"),
        task,
        str(data),
        "--path",
        str(checkpoint),
        "--split",
        "valid",
        "--cpu",
        "--out",
        str(out),
    )
    rows = json.loads(out.read_text())
    assert [(r["language"], r["metric"]) for r in rows] == [("en", metric)]
    assert 0.0 <= rows[0]["value"] <= 100.0
