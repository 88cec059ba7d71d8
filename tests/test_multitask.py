"""Multi-task intermediate training: samplers, the per-update schedule, the stock fairseq-train
run over four families, data parallelism, resuming after SIGKILL, and phase 3 from the result."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
from collections import Counter

import numpy as np
import pytest
import torch
from conftest import fairseq, logged, run_two_ranks, train_args
from fairseq import tasks as fairseq_tasks
from omegaconf import OmegaConf

import fairseq_stilts  # noqa: F401  (registers the tasks)
from fairseq_stilts.cli.retrieve import retrieve
from fairseq_stilts.errors import StiltsError
from fairseq_stilts.multitask.mixture import (
    MultiTaskDataset,
    evaluation_schedule,
    task_probabilities,
    training_schedule,
)
from fairseq_stilts.runtime import USER_DIR, fairseq_executable
from fairseq_stilts.tiny import DATA_DIR

SIZES = {"mnli": 400, "squad": 100, "ccg": 25}


@pytest.mark.parametrize(
    ("sampler", "kwargs", "expected"),
    [
        ("proportional", {}, [400, 100, 25]),
        ("capped", {"cap": 100}, [100, 100, 25]),
        ("temperature", {"temperature": 2.0}, [20, 10, 5]),
        ("temperature", {"temperature": 2.0, "cap": 100}, [10, 10, 5]),
        ("uniform", {}, [1, 1, 1]),
        ("weights", {"weights": [0, 3, 1]}, [0, 3, 1]),
    ],
)
def test_sampler_probabilities(sampler, kwargs, expected):
    p = task_probabilities(SIZES, sampler, **kwargs)
    assert list(p) == list(SIZES)
    assert list(p.values()) == pytest.approx(np.array(expected) / sum(expected))


@pytest.mark.parametrize(
    ("sampler", "kwargs", "message"),
    [
        ("weights", {"weights": [1, 2]}, "2 weight(s) for 3 tasks (mnli, squad, ccg)"),
        ("weights", {"weights": [1, -2, 1]}, "weights must be >= 0"),
        ("weights", {"weights": [0, 0, 0]}, "not all 0"),
        ("capped", {}, "needs --sampling-cap"),
        ("temperature", {"temperature": 0}, "must be > 0"),
        ("random", {}, "choose one of proportional"),
    ],
)
def test_sampler_errors(sampler, kwargs, message):
    with pytest.raises(StiltsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        task_probabilities(SIZES, sampler, **kwargs)


def _batches(counts: list[int]) -> list[list[np.ndarray]]:
    """Fake per-task batches: task t's batch j holds the one index 1000 t + j."""
    return [[np.array([1000 * t + j]) for j in range(n)] for t, n in enumerate(counts)]


def test_schedule_gives_every_update_one_task_drawn_with_the_probabilities():
    per_task, group = _batches([300, 100, 40]), 4
    schedule = training_schedule(per_task, [0.6, 0.3, 0.1], group, seed=1, epoch=1)
    assert len(schedule) == (440 // group) * group
    tasks = [int(b[0]) // 1000 for b in schedule]
    groups = [tasks[i : i + group] for i in range(0, len(tasks), group)]
    assert all(len(set(g)) == 1 for g in groups)  # one task per update, on every rank
    share = Counter(g[0] for g in groups)
    assert share[0] / len(groups) == pytest.approx(0.6, abs=0.1)
    assert share[2] / len(groups) == pytest.approx(0.1, abs=0.06)
    # a task's batches are all used before any repeats
    first = [int(b[0]) for b in schedule if int(b[0]) // 1000 == 2][:40]
    assert len(set(first)) == len(first)
    assert training_schedule(per_task, [0.6, 0.3, 0.1], group, seed=1, epoch=1) == schedule
    other = training_schedule(per_task, [0.6, 0.3, 0.1], group, seed=1, epoch=2)
    assert [int(b[0]) for b in other] != [int(b[0]) for b in schedule]


def test_evaluation_schedule_keeps_ranks_on_one_task():
    schedule = evaluation_schedule(_batches([3, 2]), ranks=2)
    assert [b.tolist() for b in schedule] == [[0], [1], [2], [], [1000], [1001]]


def test_a_batch_never_mixes_tasks():
    dataset = MultiTaskDataset({"a": _ListDataset([1, 2]), "b": _ListDataset([3])})
    assert dataset.locate(2) == (1, 0) and len(dataset) == 3
    assert dataset.collater([dataset[0], dataset[1]]) == {"items": [1, 2], "task": "a"}
    with pytest.raises(ValueError, match="mixes tasks"):
        dataset.collater([dataset[0], dataset[2]])


class _ListDataset(torch.utils.data.Dataset):
    def __init__(self, items):
        self.items, self.sizes = items, np.ones(len(items), dtype=np.int64)

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        return self.items[index]

    def collater(self, samples):
        return {"items": samples}


def _setup(prepared, tasks: str, **options):
    data = ",".join(f"{name}={prepared(name)}" for name in tasks.split(","))
    cfg = {
        "_name": "stilts_multitask",
        "data": "unused",
        "tasks": tasks,
        "task_data": data,
        "seed": 1,
        "optimization_update_freq": 1,
        **options,
    }
    return fairseq_tasks.setup_task(OmegaConf.create(cfg))


def test_unknown_task_lists_the_trainable_ones(prepared):
    with pytest.raises(
        StiltsError, match=r"unknown task\(s\) \['mnlii'\]; trainable tasks: .*hellaswag"
    ):
        fairseq_tasks.setup_task(
            OmegaConf.create({"_name": "stilts_multitask", "data": "x", "tasks": "mnli,mnlii"})
        )


def test_a_shared_head_needs_the_same_labels(prepared):
    task = _setup(prepared, "mnli,xnli", head_map="mnli=nli,xnli=nli")
    assert {sub.head_name for sub in task.subtasks.values()} == {"nli"}
    with pytest.raises(StiltsError, match="share head 'pair' but their labels differ"):
        _setup(prepared, "mnli,pawsx", head_map="mnli=pair,pawsx=pair")
    with pytest.raises(StiltsError, match=r"--head-map: \['qqp'\] not in --tasks"):
        _setup(prepared, "mnli,xnli", head_map="qqp=nli")


def test_mlm_joins_without_a_head_of_its_own(prepared):
    task = _setup(prepared, "mnli,mlm")
    assert task.main_metric("mlm") is None and task.main_metric("mnli") == "accuracy"
    with pytest.raises(StiltsError, match="task 'mlm' has no head of its own"):
        _setup(prepared, "mnli,mlm", head_map="mlm=nli")


def test_sampler_weights_are_checked_against_the_tasks(prepared):
    task = _setup(prepared, "mnli,hellaswag", sampler="weights", task_weights="1,2,3")
    with pytest.raises(StiltsError, match=r"3 weight\(s\) for 2 tasks"):
        task.load_dataset("train")


MIXING = (
    "--sampler",
    "temperature",
    "--sampling-temperature",
    "2",
    "--task-batch-sizes",
    "squad=4",
)


def _multitask_args(
    prepared,
    tiny_model,
    save_dir,
    updates: int,
    *extra: str,
    validate: bool = False,
    tasks: tuple[str, ...] = ("mnli", "squad", "hellaswag", "ccg"),
    mixing: tuple[str, ...] = MIXING,
) -> list[str]:
    data = ",".join(f"{t}={prepared(t)}" for t in tasks)
    model = tiny_model / "model.pt"
    args = train_args("mnli", prepared("mnli"), model, save_dir, updates, *extra, validate=validate)
    i = args.index("--task")
    args[i + 1 : i + 4] = ["stilts_multitask", "--criterion", "stilts_multitask"]
    return [*args, "--tasks", ",".join(tasks), "--task-data", data, *mixing]


@pytest.mark.slow
def test_multitask_trains_validates_and_feeds_phase_3_and_retrieval(prepared, tiny_model, tmp_path):
    result = fairseq(
        "fairseq-train",
        *_multitask_args(
            prepared,
            tiny_model,
            tmp_path / "mt",
            12,
            "--best-checkpoint-metric",
            "combined",
            "--maximize-best-checkpoint-metric",
            validate=True,
        ),
    )
    output = result.stdout + result.stderr
    main = {"mnli": "accuracy", "squad": "f1", "hellaswag": "accuracy", "ccg": "token_accuracy"}
    scores = [
        logged(output, "valid", f"valid_{task}_{metric}")[-1] for task, metric in main.items()
    ]
    combined = logged(output, "valid", "valid_combined")[-1]
    assert combined == pytest.approx(sum(scores) / 4, abs=1e-3)
    assert logged(output, "valid", "valid_squad_exact_match")  # each task's own metrics, named
    updated = [line for line in output.splitlines() if "| train_inner |" in line]
    assert len(updated) == 12
    checkpoint = tmp_path / "mt" / "checkpoint_best.pt"
    heads = {
        k.split(".")[1]
        for k in torch.load(checkpoint)["model"]
        if k.startswith("classification_heads.")
    }
    assert heads == set(main)
    # phase 3 from the multi-task encoder: its heads are dropped, xnli gets a fresh head
    fairseq("fairseq-train", *train_args("xnli", prepared("xnli"), checkpoint, tmp_path / "x", 2))
    xnli = torch.load(tmp_path / "x" / "checkpoint_last.pt")["model"]
    assert {k.split(".")[1] for k in xnli if k.startswith("classification_heads.")} == {"xnli"}
    rows = retrieve(
        "tatoeba", DATA_DIR / "tatoeba", checkpoint, tiny_model, languages=["de"], cpu=True
    ).rows
    assert rows and rows[0]["language"] == "de"


@pytest.mark.slow
def test_mlm_co_training_trains_the_pretrained_lm_head(prepared, tiny_model, tmp_path):
    args = _multitask_args(
        prepared,
        tiny_model,
        tmp_path / "mlm",
        8,
        "--best-checkpoint-metric",
        "combined",
        "--maximize-best-checkpoint-metric",
        validate=True,
        tasks=("mnli", "mlm"),
        mixing=("--sampler", "weights", "--task-weights", "1,1"),
    )
    output = fairseq("fairseq-train", *args)
    text = output.stdout + output.stderr
    assert logged(text, "valid", "valid_mlm_loss")
    assert logged(text, "valid", "valid_combined") == logged(text, "valid", "valid_mnli_accuracy")
    before = torch.load(tiny_model / "model.pt")["model"]
    after = torch.load(tmp_path / "mlm" / "checkpoint_last.pt")["model"]
    key = "encoder.lm_head.dense.weight"
    assert not torch.equal(before[key], after[key])  # the pretrained LM head was trained


@pytest.mark.slow
def test_two_ranks_match_one_process_with_the_doubled_batch(prepared, tiny_model, tmp_path):
    def args(save: str) -> list[str]:
        return [
            fairseq_executable("fairseq-train"),
            *_multitask_args(
                prepared,
                tiny_model,
                tmp_path / save,
                8,
                "--dropout",
                "0",
                "--attention-dropout",
                "0",
                "--ddp-backend",
                "legacy_ddp",
                "--no-save-optimizer-state",
            ),
            "--user-dir",
            USER_DIR,
        ]

    outputs = run_two_ranks(args("ddp"))
    single = subprocess.run([*args("single"), "--update-freq", "2"], capture_output=True, text=True)
    assert single.returncode == 0, single.stderr[-3000:]
    distributed = logged(outputs[0], "train_inner", "loss")
    assert len(distributed) == 8
    assert distributed == pytest.approx(
        logged(single.stdout + single.stderr, "train_inner", "loss"), abs=1e-5
    )
    ddp, one = (torch.load(tmp_path / d / "checkpoint_last.pt") for d in ("ddp", "single"))
    a, b = ddp["model"], one["model"]
    assert max((a[k].float() - b[k].float()).abs().max().item() for k in a) < 1e-5
    # the updates per task, kept in the checkpoint's extra state: one per update, not per rank
    # or per --update-freq batch
    counts = [c["extra_state"]["MultiTaskTask"]["updates"] for c in (ddp, one)]
    assert counts[0] == counts[1] and sum(counts[0].values()) == 8


@pytest.mark.slow
def test_a_run_killed_and_resumed_ends_bit_identical(prepared, tiny_model, tmp_path):
    """With MLM in the mix: its language sampling and masking are replayed too."""

    def command(save: str) -> list[str]:
        return [
            fairseq_executable("fairseq-train"),
            *_multitask_args(
                prepared,
                tiny_model,
                tmp_path / save,
                24,
                "--save-interval-updates",
                "3",
                tasks=("mnli", "squad", "mlm"),
                mixing=("--sampler", "uniform"),
            ),
            "--user-dir",
            USER_DIR,
        ]

    subprocess.run(command("straight"), check=True, capture_output=True)
    kill_at = random.Random(os.getpid()).randint(5, 20)
    run = subprocess.Popen(
        command("resumed"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    for line in run.stdout:
        if f'"num_updates": "{kill_at}"' in line:
            run.send_signal(signal.SIGKILL)
            break
    run.wait()
    assert run.returncode == -signal.SIGKILL, f"the run ended before update {kill_at}"
    resumed = subprocess.run(command("resumed"), capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    restart = re.search(
        r"Loaded checkpoint \S+checkpoint_last.pt \(epoch \d+ @ (\d+) updates\)",
        resumed.stdout + resumed.stderr,
    )
    assert restart and 3 <= int(restart.group(1)) <= kill_at  # resumed mid-run, not from scratch
    a, b = (torch.load(tmp_path / d / "checkpoint_last.pt") for d in ("straight", "resumed"))
    assert (
        a["optimizer_history"][-1]["num_updates"] == b["optimizer_history"][-1]["num_updates"] == 24
    )
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"]), (
        f"killed at {kill_at}"
    )


UPDATES_LOGGED = re.compile(r"multitask: updates per task so far \((\d+) counted([^)]*)\): (.*)")


def _updates_logged(output: str) -> list[tuple[int, dict[str, int]]]:
    """Each validation's ``updates per task so far`` line: (total, {task: updates})."""
    found = []
    for total, _, items in UPDATES_LOGGED.findall(output):
        counts = dict(re.findall(r"(\w+) (\d+) \(", items))
        found.append((int(total), {name: int(n) for name, n in counts.items()}))
    return found


def _trained(output: str, tasks: tuple[str, ...]) -> Counter:
    """The task of every update, read off fairseq's own train_inner lines (--log-interval 1:
    one line per update; only the task it trained has values)."""
    lines = [line for line in output.splitlines() if "| train_inner | {" in line]
    trained = Counter()
    for line in lines:
        values = json.loads(line.split(" | ", 3)[3])
        (task,) = [t for t in tasks if values.get(f"{t}_loss") is not None]
        trained[task] += 1
    return trained


@pytest.mark.slow
def test_the_log_shows_probabilities_and_updates_per_task_across_a_resume(
    prepared, tiny_model, tmp_path
):
    """With --update-freq 2 (two batches per update) and a task that is never drawn; the counts
    go on from the checkpoint when the run is resumed."""
    tasks = ("mnli", "squad", "ccg")

    def train(updates: int) -> str:
        args = _multitask_args(
            prepared,
            tiny_model,
            tmp_path / "mt",
            updates,
            "--update-freq",
            "2",
            validate=True,
            tasks=tasks,
            mixing=("--sampler", "weights", "--task-weights", "1,1,0"),
        )
        result = fairseq("fairseq-train", *args)
        return result.stdout + result.stderr

    first = train(6)
    assert re.search(
        r"multitask: epoch 1: sampling probabilities \(weights\): mnli 0\.5000 \(\d+ examples\), "
        r"squad 0\.5000 \(\d+ examples\), ccg 0\.0000 \(\d+ examples\)",
        first,
    )
    trained = _trained(first, tasks)
    assert sum(trained.values()) == 6
    logged_counts = _updates_logged(first)
    assert [total for total, _ in logged_counts] == [4, 6]  # validations at 4 and at the end
    assert logged_counts[-1][1] == {t: trained[t] for t in tasks}
    never = ", ".join(t for t in tasks if not trained[t])
    assert (
        "ccg" in never and f"multitask: task(s) {never} received 0 of the 6 updates so far" in first
    )

    resumed = train(10)  # continues from checkpoint_last.pt, saved at update 6
    assert re.search(r"Loaded checkpoint \S+checkpoint_last.pt \(epoch 1 @ 6 updates\)", resumed)
    total, counts = _updates_logged(resumed)[-1]
    assert total == sum(counts.values()) == 10
    assert counts == {t: trained[t] + _trained(resumed, tasks)[t] for t in tasks}
    assert "not counted" not in resumed
