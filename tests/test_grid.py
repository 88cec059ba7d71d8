"""stilts-grid: plan checks, expansion into runs, the grid folder, and a real tiny grid."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from conftest import train_args

from fairseq_stilts.cli.grid import main
from fairseq_stilts.data.prepare.manifest import Manifest
from fairseq_stilts.errors import StiltsError
from fairseq_stilts.grid.execute import Outcome, run_chain
from fairseq_stilts.grid.folder import claim, done_marker
from fairseq_stilts.grid.plan import parse_plan, read_plan
from fairseq_stilts.grid.runs import Run, expand
from fairseq_stilts.grid.schedule import make_executor, schedule
from fairseq_stilts.registry import get_spec
from fairseq_stilts.results.store import read_rows
from fairseq_stilts.runtime import fairseq_executable
from fairseq_stilts.tiny import DATA_DIR

EXAMPLES = Path(__file__).parent.parent / "examples" / "xtreme"


def _fake_manifest(folder: Path, task: str, train_languages: dict | None) -> None:
    """The manifest of a data folder for ``task`` holding nothing (plans read only this)."""
    Manifest(
        task=task,
        family=get_spec(task).family,
        subsets={},
        languages={"train": list(train_languages or []), "dev": [], "test": []},
        sources=[],
        dictionary_sha256="",
        sentencepiece_sha256="",
        train_languages=train_languages,
    ).write(folder)


def world(tmp_path: Path) -> dict:
    """A plan over empty stand-in folders (enough to check and expand it)."""
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model.pt").write_bytes(b"")
    for name in ("mnli", "mnli-mt", "squad", "mlm", "xnli", "tatoeba"):
        (tmp_path / "data" / name).mkdir(parents=True)
    for name, task, languages in (
        ("mnli", "mnli", {"en": 4}),
        ("mnli-mt", "mnli", {"en": 4, "de": 4, "fr": 4}),
        ("squad", "squad", None),
        ("mlm", "mlm", None),
        ("xnli", "xnli", {"en": 4}),
    ):
        _fake_manifest(tmp_path / "data" / name, task, languages)
    return {
        "model": str(tmp_path / "model"),
        "data": str(tmp_path / "data"),
        "settings": [
            {"name": "none", "tasks": []},
            {"name": "mnli", "tasks": ["mnli"]},
            {
                "name": "mnli-multilingual",
                "tasks": ["mnli"],
                "data": {"mnli": str(tmp_path / "data" / "mnli-mt")},
                "languages": ["en", "de"],
            },
            {"name": "multitask", "tasks": ["mnli", "squad"], "options": "--sampler uniform"},
            {"name": "mnli-mlm", "tasks": ["mnli", "mlm"]},
        ],
        "targets": ["xnli", "tatoeba"],
        "seeds": [1, 2],
        "train": "--arch xlmr_tiny --max-update 5",
        "target_options": {"xnli": "--lr 2e-5"},
        "retrieval_raw": {"tatoeba": str(tmp_path / "data" / "tatoeba")},
    }


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda p: p.update(sedes=[1]), "unknown key(s) sedes"),
        (
            lambda p: p["settings"][1].update(task=["mnli"]),
            "settings[1] (mnli): unknown key(s) task",
        ),
        (
            lambda p: p["settings"][1].update(tasks=["mlni"]),
            "unknown task(s) ['mlni']; valid: anli_plus",
        ),
        (lambda p: p.update(targets=["xnli", "nxli"]), "unknown target 'nxli'; valid: bucc, mlqa"),
        (
            lambda p: p["settings"][2]["data"].update(mnli="/nowhere"),
            "settings[2] (mnli-multilingual).data.mnli: folder /nowhere not found",
        ),
        (lambda p: p.update(targets=["pawsx"]), "targets: pawsx (data folder)"),
        (lambda p: p.pop("retrieval_raw"), "retrieval_raw.tatoeba"),
        (lambda p: p.update(seeds=[1, 1]), "seeds: named more than once: 1"),
        (lambda p: p.pop("model"), "plan lacks key(s) model"),
        (
            lambda p: p["settings"][2].update(languages=["en", "es"]),
            "settings[2] (mnli-multilingual).languages: ['es'] not in the training data of",
        ),
        (lambda p: p["settings"][2].update(languages=["en", "es"]), "valid: en, de, fr"),
        (
            lambda p: p["settings"][1].update(languages=["de"]),
            "valid: en (stilts-prepare --train-languages adds languages)",
        ),
        (
            lambda p: p["settings"][3].update(languages=["en"]),
            "apply to a setting of one supervised task",
        ),
        (
            lambda p: p["settings"][3].update(tasks=["squad"], languages=["en"]),
            "squad/manifest.json records no training languages; prepare",
        ),
        (lambda p: p.update(targets=["squad"]), "unknown target 'squad'"),
        (
            lambda p: (Path(p["data"]) / "xnli" / "manifest.json").unlink(),
            "targets: xnli (data folder): {data}/xnli/manifest.json: not found; make the data folder with stilts-prepare xnli",
        ),
        (
            lambda p: p.update(target_options={"xnli": ["--lr", 1]}),
            "target_options.xnli: flags as one string, got ['--lr', 1]",
        ),
        (
            lambda p: p["settings"][1].update(options={"lr": 1}),
            "settings[1] (mnli).options: flags as one string",
        ),
        (
            lambda p: p["settings"][1].update(tasks=["squad"], data={"squad": p["data"] + "/mnli"}),
            "settings[1] (mnli).tasks: squad: "
            + "{data}/mnli/manifest.json: data was prepared for task 'mnli', not 'squad'",
        ),
        (
            lambda p: p.update(target_options={"pawsx": "--lr 1"}),
            "target_options: ['pawsx'] not among the targets",
        ),
        (lambda p: p.update(target_options={"tatoeba": "--lr 1"}), "scored with stilts-retrieve"),
        (
            lambda p: p.update(results_store="csv"),
            "results_store: unknown format 'csv'; valid: jsonl, sqlite",
        ),
    ],
)
def test_bad_plans_name_the_key(tmp_path, change, message):
    plan = world(tmp_path)
    change(plan)
    with pytest.raises(StiltsError) as err:
        parse_plan(plan)
    assert message.format(data=plan["data"]) in str(err.value)


def test_expansion_shares_intermediate_runs(tmp_path):
    plan = parse_plan(world(tmp_path))
    chains = expand(plan, tmp_path / "grid")
    ids = [[run.id for run in chain] for chain in chains]
    assert ids[0] == ["none/s1/xnli", "none/s1/tatoeba"]
    assert ids[2] == ["mnli/s1", "mnli/s1/xnli", "mnli/s1/tatoeba"]
    assert len(chains) == 10 and sum(map(len, ids)) == 10 * 2 + 8  # 8 intermediate trainings
    intermediate, xnli, tatoeba = chains[2]
    train = list(intermediate.commands[0])
    assert train[:2] == ["fairseq-train", str(tmp_path / "data" / "mnli")]
    assert train[train.index("--task") + 1] == "mnli"
    assert train[train.index("--criterion") + 1] == "stilts_classification"
    assert train[train.index("--finetune-from-model") + 1] == str(tmp_path / "model" / "model.pt")
    checkpoint = str(
        tmp_path / "grid" / "runs" / "mnli" / "s1" / "checkpoints" / "checkpoint_last.pt"
    )
    assert xnli.needs == tatoeba.needs == "mnli/s1"
    target = list(xnli.commands[0])
    assert target[target.index("--finetune-from-model") + 1] == checkpoint
    assert target[target.index("--criterion") + 1] == "stilts_classification"
    assert target[-2:] == ["--lr", "2e-5"] and target.index("--lr") > target.index("--max-update")
    assert xnli.commands[1][:2] == ("stilts-eval", "xnli")
    assert tatoeba.commands[0][:2] == ("stilts-retrieve", "tatoeba")
    assert tatoeba.commands[0][tatoeba.commands[0].index("--path") + 1] == checkpoint
    none_xnli = list(chains[0][0].commands[0])
    assert none_xnli[none_xnli.index("--finetune-from-model") + 1] == str(
        tmp_path / "model" / "model.pt"
    )
    mt = list(chains[4][0].commands[0])
    assert mt[1] == str(tmp_path / "data" / "mnli-mt")
    assert mt[mt.index("--train-languages") + 1] == "en,de" and "--train-languages" not in train
    languages = {chain[0].setting: chain[0].intermediate_languages for chain in chains}
    assert languages == {
        "none": (),
        "mnli": ("en",),
        "mnli-multilingual": ("en", "de"),
        "multitask": ("en",),
        "mnli-mlm": ("en",),
    }
    multi = list(chains[6][0].commands[0])
    assert (
        multi[multi.index("--task") + 1]
        == multi[multi.index("--criterion") + 1]
        == "stilts_multitask"
    )
    assert multi[multi.index("--tasks") + 1] == "mnli,squad"
    assert multi[-2:] == ["--sampler", "uniform"] and "--max-update" in multi
    assert "--lr" not in multi and "--lr" not in list(chains[6][2].commands[0])  # tatoeba
    mlm = list(chains[8][0].commands[0])
    assert mlm[mlm.index("--tasks") + 1] == "mnli,mlm"
    assert (
        mlm[mlm.index("--task-data") + 1]
        == f"mnli={tmp_path / 'data' / 'mnli'},mlm={tmp_path / 'data' / 'mlm'}"
    )


def test_dry_run_writes_commands_and_refuses_another_plan(tmp_path, capsys):
    plan = world(tmp_path)
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(plan))
    grid = tmp_path / "grid"
    main([str(path), "--out", str(grid), "--dry-run"])
    assert "mnli/s2/xnli: to run" in capsys.readouterr().out
    script = (grid / "runs" / "mnli" / "s1" / "xnli" / "commands.sh").read_text()
    assert "fairseq-train" in script and "stilts-eval xnli" in script
    assert (grid / "plan.yaml").read_text() == path.read_text()
    plan["seeds"] = [1, 2, 3]
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump(plan))
    with pytest.raises(SystemExit) as exit_:
        main([str(other), "--out", str(grid), "--dry-run"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "different plan" in err and f"stilts-grid {grid / 'plan.yaml'} --out {grid}" in err
    claim(
        grid, path, yaml.safe_dump({**plan_of(path), "resources": {"timeout_min": 5}})
    )  # resources may change


def plan_of(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


@pytest.mark.slow  # starts processes
def test_done_runs_are_skipped_and_dependents_of_failures_blocked(tmp_path):
    plan = parse_plan(world(tmp_path))
    grid = tmp_path / "grid"
    intermediate, xnli, tatoeba = expand(plan, grid)[2]
    done_marker(grid, intermediate.id).parent.mkdir(parents=True)
    done_marker(grid, intermediate.id).write_text("")
    done_marker(grid, xnli.id).parent.mkdir(parents=True)
    done_marker(grid, xnli.id).write_text("")
    outcomes = run_chain(grid, [intermediate, xnli], grid / "results.jsonl")
    assert outcomes == [Outcome("mnli/s1", "skipped"), Outcome("mnli/s1/xnli", "skipped")]
    done_marker(grid, intermediate.id).unlink()  # the intermediate's data folder is empty: it fails
    outcomes = run_chain(grid, [intermediate, xnli, tatoeba], grid / "results.jsonl")
    assert [o.status for o in outcomes] == ["failed", "skipped", "blocked"]
    assert "log: " + str(grid / "runs" / "mnli" / "s1" / "log.txt") in outcomes[0].detail


def tiny_train_options() -> str:
    """The fast tiny-model options of conftest.train_args, less what the grid sets per run."""
    args = train_args("xnli", Path("DATA"), Path("INIT"), Path("SAVE"), 6)[1:]
    per_run = {"--task", "--criterion", "--finetune-from-model", "--seed", "--save-dir"}
    keep = [a for i, a in enumerate(args) if a not in per_run and args[i - 1] not in per_run]
    return " ".join(keep)


@pytest.mark.slow
def test_tiny_grid_end_to_end(tmp_path, tiny_model, prepared, capsys):
    prepared("mnli")
    data = prepared("xnli").parent
    broken = tmp_path / "broken-mnli"  # a manifest, but no data: fairseq-train fails
    broken.mkdir()
    _fake_manifest(broken, "mnli", {"en": 4})
    plan = {
        "model": str(tiny_model),
        "data": str(data),
        "settings": [{"name": "none", "tasks": []}, {"name": "mnli", "tasks": ["mnli"]}],
        "targets": ["xnli", "tatoeba"],
        "seeds": [1],
        "train": tiny_train_options(),
        "retrieval_raw": {"tatoeba": str(DATA_DIR / "tatoeba")},
    }
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(plan))
    grid = tmp_path / "grid"
    main([str(path), "--out", str(grid), "--parallel", "2"])
    out = capsys.readouterr().out
    assert "grid: 5/5 runs done" in out and "5 done, 0 skipped, 0 failed" in out
    assert f"started: mnli/s1 (log: {grid / 'runs/mnli/s1/log.txt'})" in out
    assert re.search(r"\d\d:\d\d:\d\d done: mnli/s1/xnli in \d+(m\d\d)?s\n", out)
    rows = read_rows(grid / "results.jsonl")
    assert {r.run for r in rows} == {
        "none/s1/xnli",
        "none/s1/tatoeba",
        "mnli/s1/xnli",
        "mnli/s1/tatoeba",
    }
    xnli = [r for r in rows if r.run == "mnli/s1/xnli"]
    assert {r.language for r in xnli} == {"en", "de", "es", "fr"} and xnli[0].metric == "accuracy"
    assert xnli[0].intermediate_languages == ("en",) and xnli[0].data_manifest_sha256
    assert all(r.intermediate_languages == () for r in rows if r.setting == "none")
    assert all(r.seed == 1 and r.split == "test" for r in rows)
    for run in ("none/s1/xnli", "none/s1/tatoeba", "mnli/s1", "mnli/s1/xnli", "mnli/s1/tatoeba"):
        assert done_marker(grid, run).is_file()
    count = len(rows)
    main([str(path), "--out", str(grid)])
    out = capsys.readouterr().out
    assert "grid: 5/5 runs done" in out and "0 done, 5 skipped, 0 failed" in out
    assert "started:" not in out
    assert len(read_rows(grid / "results.jsonl")) == count

    # a failing run is reported with its log; the other chain runs on
    plan["settings"] = [
        {"name": "broken", "tasks": ["mnli"], "data": {"mnli": str(broken)}},
        {"name": "none", "tasks": []},
    ]
    plan["targets"] = ["tatoeba"]
    plan["results_store"] = "sqlite"
    path.write_text(yaml.safe_dump(plan))
    grid = tmp_path / "grid-broken"
    with pytest.raises(SystemExit) as exit_:
        main([str(path), "--out", str(grid)])
    assert exit_.value.code == 1
    out = capsys.readouterr().out
    assert (
        f"failed: broken/s1: fairseq-train exited with 1; log: {grid / 'runs/broken/s1/log.txt'}"
        in out
    )
    assert "blocked: broken/s1/tatoeba: broken/s1 failed" in out
    assert "grid: 1/3 runs done" in out
    assert {r.run for r in read_rows(grid / "results.sqlite")} == {"none/s1/tatoeba"}
    assert not (grid / "results.jsonl").exists()


def test_slurm_submission_carries_the_plan_resources(tmp_path, monkeypatch):
    """Up to the cluster boundary: a fake sbatch records what submitit hands SLURM."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "sbatch").write_text(
        f'#!/bin/sh\ncp "$1" {tmp_path / "submitted.sh"}\necho "Submitted batch job 4242"\n'
    )
    for tool in ("srun", "sbatch"):
        (bin_dir / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    raw = world(tmp_path)
    raw["resources"] = {"timeout_min": 600, "slurm_partition": "gpu", "gpus_per_node": 1}
    plan = parse_plan(raw)
    grid = tmp_path / "grid"
    chain = expand(plan, grid)[2]
    executor = make_executor(grid, "slurm", plan.resources)
    job = executor.submit(run_chain, grid, chain, grid / plan.results_store)
    assert job.job_id == "4242"
    script = (tmp_path / "submitted.sh").read_text()
    for line in ("#SBATCH --partition=gpu", "#SBATCH --gpus-per-node=1", "#SBATCH --time=600"):
        assert line in script
    assert "submitit.core._submit" in script and str(grid / "submitit") in script


def test_paper_plan_expands_with_the_hydra_configs_recipe(tmp_path, monkeypatch):
    """examples/xtreme/plan_xlmr_large.yaml over stand-in folders: every run's flags (the last
    given wins) carry the update counts, batches and metric of the matching Hydra config."""
    monkeypatch.chdir(tmp_path)
    raw = read_plan(EXAMPLES / "plan_xlmr_large.yaml")
    (tmp_path / "xlmr.large").mkdir()
    (tmp_path / "xlmr.large" / "model.pt").write_bytes(b"")
    mnli_mt = next(s for s in raw["settings"] if s["name"] == "mnli-multilingual")
    folders = {t: (t, None) for s in raw["settings"] for t in s["tasks"]}
    folders["mnli-mt"] = ("mnli", {lang: 1 for lang in mnli_mt["languages"]})
    for name, (task, languages) in folders.items():
        (tmp_path / "data" / name).mkdir(parents=True)
        _fake_manifest(tmp_path / "data" / name, task, languages)
    for target in raw["targets"]:
        (tmp_path / "data" / target).mkdir(exist_ok=True)
        _fake_manifest(tmp_path / "data" / target, target, None)
    for folder in raw["retrieval_raw"].values():
        (tmp_path / folder).mkdir(parents=True)
    plan = parse_plan(raw)
    chains = expand(plan, tmp_path / "grid")
    assert len(chains) == 13 * 3 and all(len(c) == (9 if c[0].target else 10) for c in chains)
    checked = set()
    for run in (run for chain in chains for run in chain):
        if run.target in ("bucc", "tatoeba"):
            continue
        tasks = run_tasks(run)
        if run.target is None and len(tasks) > 1:
            config = "intermediate_multitask" if "mlm" not in tasks else None
        elif run.target is None:
            config = f"intermediate_{tasks[0]}"
        else:
            config = "target_qa" if run.target in ("xquad", "mlqa") else f"target_{run.target}"
        if config is None or config in checked:
            continue
        checked.add(config)
        recipe = yaml.safe_load((EXAMPLES / "config" / f"{config}.yaml").read_text())
        flags = last_flags(run.commands[0])
        assert flags["--max-update"] == str(recipe["optimization"]["max_update"]), config
        assert flags["--total-num-update"] == str(recipe["lr_scheduler"]["total_num_update"]), (
            config
        )
        assert flags["--warmup-updates"] == str(recipe["lr_scheduler"]["warmup_updates"]), config
        assert float(flags["--lr"]) == float(recipe["optimization"]["lr"][0]), config
        assert flags["--update-freq"] == str(recipe["optimization"]["update_freq"][0]), config
        assert flags["--batch-size"] == str(recipe["dataset"]["batch_size"]), config
        assert (
            flags["--best-checkpoint-metric"] == recipe["checkpoint"]["best_checkpoint_metric"]
        ), config
    assert len(checked) == 9 + 6 + 1  # nine tasks, six target configs, multi-task


def run_tasks(run) -> list[str]:
    command = list(run.commands[0])
    if "--tasks" in command:
        return command[command.index("--tasks") + 1].split(",")
    return [command[command.index("--task") + 1]]


def last_flags(command: tuple[str, ...]) -> dict[str, str]:
    """Each ``--flag value`` of a command line, the last occurrence winning (as argparse)."""
    return {a: command[i + 1] for i, a in enumerate(command[:-1]) if a.startswith("--")}


@pytest.mark.slow
def test_an_interrupted_run_resumes_from_checkpoint_last(tmp_path, tiny_model, prepared):
    prepared("mnli")
    plan = {
        "model": str(tiny_model),
        "data": str(prepared("xnli").parent),
        "settings": [{"name": "mnli", "tasks": ["mnli"]}],
        "targets": ["xnli"],
        "seeds": [1],
        "train": tiny_train_options(),
    }
    grid = tmp_path / "grid"
    intermediate, xnli = expand(parse_plan(plan), grid)[0]
    # the job died after 3 of its 6 updates: checkpoint_last.pt is there, the done marker not
    command = intermediate.commands[0]
    subprocess.run(
        [fairseq_executable(command[0]), *command[1:], "--max-update", "3"],
        check=True,
        capture_output=True,
    )
    outcomes = run_chain(grid, [intermediate, xnli], grid / "results.jsonl")
    assert [o.status for o in outcomes] == ["done", "done"]
    log = (grid / "runs" / "mnli" / "s1" / "log.txt").read_text()
    checkpoint = grid / "runs" / "mnli" / "s1" / "checkpoints" / "checkpoint_last.pt"
    assert f"Loaded checkpoint {checkpoint} (epoch 1 @ 3 updates)" in log
    assert f"Saved checkpoint {checkpoint} (epoch 1 @ 6 updates" in log


HOLD = """
import sys
from pathlib import Path
from fairseq_stilts.grid.lock import grid_lock
with grid_lock(Path(sys.argv[1])):
    print("held", flush=True)
    sys.stdin.read()  # until the test closes this process's stdin
"""


def hold(grid: Path) -> subprocess.Popen:
    """Another process holding the grid folder's lock (through the grid's own lock code)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(grid)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline() == "held\n"
    return holder


@pytest.mark.slow  # starts processes
def test_a_grid_folder_is_worked_on_by_one_stilts_grid_at_a_time(tmp_path, capsys):
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(world(tmp_path)))
    grid = tmp_path / "grid"
    holder = hold(grid)
    try:
        with pytest.raises(SystemExit) as exit_:
            main([str(path), "--out", str(grid), "--dry-run"])
        assert exit_.value.code == 2
        err = capsys.readouterr().err
        named = f"pid {holder.pid} on {socket.gethostname()}, started "
        assert err.count("\n") == 1 and f"{grid} is in use by another stilts-grid: {named}" in err
        assert f"lock {grid / 'grid.lock'}" in err and "pass --wait" in err
        assert not (grid / "plan.yaml").exists()  # refused before touching the folder

        # --wait: a second stilts-grid process waits for the holder, then goes on
        waiter = subprocess.Popen(
            [
                fairseq_executable("stilts-grid"),
                str(path),
                "--out",
                str(grid),
                "--dry-run",
                "--wait",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        first = waiter.stdout.readline()
        assert f"is in use by {named}" in first and "waiting for it to finish (--wait)" in first
        time.sleep(1.5)
        assert waiter.poll() is None and not (grid / "plan.yaml").exists()  # still waiting
        holder.stdin.close()
        assert holder.wait(timeout=30) == 0
        rest = waiter.communicate(timeout=120)[0]
        assert waiter.returncode == 0, rest
        assert "is free; starting" in rest and "mnli/s2/xnli: to run" in rest
        assert (grid / "plan.yaml").is_file() and (grid / "grid.lock").read_text() == ""
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.slow  # starts processes
def test_the_lock_of_a_killed_stilts_grid_does_not_block(tmp_path, capsys):
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(world(tmp_path)))
    grid = tmp_path / "grid"
    holder = hold(grid)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    left = json.loads((grid / "grid.lock").read_text())  # its details stay behind, unlocked
    assert left["pid"] == holder.pid and left["host"] == socket.gethostname()
    main([str(path), "--out", str(grid), "--dry-run"])
    assert "mnli/s1/xnli: to run" in capsys.readouterr().out


class ThreadJob:
    """A submitit job stand-in: the job function runs in a thread of this process."""

    job_id = "thread"

    def __init__(self, function, *args):
        self.value = None
        self.thread = threading.Thread(target=self._run, args=(function, *args))
        self.thread.start()

    def _run(self, function, *args):
        self.value = function(*args)

    def done(self) -> bool:
        return not self.thread.is_alive()

    def result(self):
        self.thread.join()
        return self.value


class ThreadExecutor:
    def __init__(self):
        self.jobs: list[ThreadJob] = []

    def submit(self, function, *args):
        self.jobs.append(ThreadJob(function, *args))
        return self.jobs[-1]


def python_run(run_id: str, code: str, needs: str | None = None) -> Run:
    """A run whose one command is the venv's python (found beside fairseq-train)."""
    return Run(run_id, "x", 1, None, (("python", "-c", code),), needs, ())


@pytest.mark.slow  # starts processes
def test_each_run_is_reported_as_it_starts_and_ends(tmp_path):
    grid = tmp_path / "grid"
    chain = [
        python_run("x/s1", "import time; time.sleep(1.2)"),
        python_run("x/s1/a", "import time; time.sleep(0.6); raise SystemExit(3)", needs="x/s1"),
        python_run("x/s1/a/b", "pass", needs="x/s1/a"),
        python_run("x/s1/c", "import time; time.sleep(0.6)", needs="x/s1"),
    ]
    executor = ThreadExecutor()
    lines: list[tuple[str, bool]] = []  # (line, whether the chain's job had ended by then)

    def report(line: str) -> None:
        lines.append((line, bool(executor.jobs) and executor.jobs[0].done()))

    outcomes = schedule(grid, [chain], executor, grid / "results.jsonl", report=report, poll_s=0.1)
    assert [o.status for o in outcomes] == ["done", "failed", "blocked", "done"]
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d "
    log = grid / "runs" / "x" / "s1" / "a" / "log.txt"
    expected = [
        re.escape(f"started: x/s1 (log: {grid / 'runs/x/s1/log.txt'})"),
        r"done: x/s1 in \ds",
        r"started: x/s1/a \(log: .*\)",
        re.escape(f"failed: x/s1/a: python exited with 3; log: {log} (after ") + r"\ds\)",
        r"started: x/s1/c \(log: .*\)",
        r"done: x/s1/c in \ds",
        r"blocked: x/s1/a/b: x/s1/a failed",
    ]
    events = [(line, ended) for line, ended in lines if not line.startswith("grid: ")]
    assert len(events) == len(expected), lines
    for (line, _), pattern in zip(events, expected, strict=True):
        assert re.fullmatch(stamp + pattern, line), (line, pattern)
    assert not any(ended for _, ended in events[:4])  # reported while the job went on
    counted = [line for line, _ in lines if line.startswith("grid: ")]
    assert counted[0] == "grid: 0/4 runs done" and counted[-1] == "grid: 2/4 runs done"
    assert json.loads(log.with_name("failed").read_text())["seconds"] >= 0.6

    # run again: the done runs are skipped unreported, the failed one starts afresh
    lines.clear()
    schedule(grid, [chain], ThreadExecutor(), grid / "results.jsonl", report=report, poll_s=0.1)
    events = [line.split(" ", 2)[2] for line, _ in lines if not line.startswith("grid: ")]
    assert [" ".join(line.split(" ")[:2]) for line in events] == [
        "started: x/s1/a",
        "failed: x/s1/a:",
        "blocked: x/s1/a/b:",
    ]
