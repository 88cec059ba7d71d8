"""Time per update of the multi-task task against the single-task task on the same data.

One XLM-R shape (``classification_speed.SIZE``: 4 layers, 256 hidden, the tiny model's
vocabulary, ``--arch xlmr_tiny``) is trained with ``fairseq-train --user-dir fairseq_stilts`` on
CPU (``--threads``, default 2, ``--cpu --num-workers 0``), batches of 32 pairs, ``stilts_adamw`` at a fixed lr,
seed 1, for ``--warmup`` + ``--updates`` updates, three ways:

- (a) single task: ``fairseq-train DATA/mnli --task mnli --criterion stilts_classification``;
- (b) multi-task, one task: ``fairseq-train DATA --task stilts_multitask --tasks mnli
  --task-data mnli=DATA/mnli --criterion stilts_multitask`` (same data, same model);
- (c) multi-task, two tasks: ``--tasks mnli,xnli`` on two copies of the same pairs (prepared once
  as MNLI, once as XNLI), proportional sampler, so about every other update switches task and
  head (the other head is switched off: no gradient, no optimizer step).

The runs alternate (a, b, c, a, b, c, ... for ``--repeats``) so that drift in the machine's load
falls on all three alike. Data: the synthetic sentence pairs of ``classification_speed.make_raw``
(random words of the tiny world's MLM text), keeping only pairs of at least ``--length`` tokens
and truncating all to ``--length`` (``--max-seq-length`` / ``--task-max-seq-lengths``), so that
every batch is exactly 32 x ``--length`` tokens whichever batches a run draws: the single-task
and multi-task samplers order batches differently, and with varied lengths the mean batch cost of
60 updates differs by several percent between them. The training set holds more batches than a
run takes, so no run crosses an epoch boundary.

s/update: wall time between the ends of consecutive updates after the warmup, i.e. when each
update's ``train_inner`` JSON line (``--log-interval 1``) reaches this process, as in
``classification_speed.py`` (fairseq's ``wall``/``train_wall`` fields count whole seconds). It
leaves out start-up, model building, data loading and the first ``--warmup`` updates (the
multi-task schedule is built before the first update) and keeps all per-update work: fetching and
collating the batch, the task switch, forward, backward, optimizer step, metrics bookkeeping.
ratio: mean s/update of (b) or (c) over that of (a), all timed updates of all repeats pooled
(also printed for the medians, which a burst of load moves less); the per-repeat ratios (each
pair of neighbouring runs) show the noise. switches: timed updates of (c) whose task differs
from the previous update's (from the non-null ``<task>_loss`` of each ``train_inner`` line). others: share of the CPUs
that other processes took meanwhile (/proc/stat); rerun when it is not ~0%.

``--profile`` then works in this process on the same data: the median cost of each piece of the
multi-task machinery (building an epoch's batches and task schedule, fetching and collating one
batch, switching heads in ``MultiTaskTask.train_step``, ``reduce_metrics`` with the per-task
prefixing plus the smoothed values logged after every update) next to the single task's, and
fairseq's own ``Trainer.train_step`` (with the fetch of its batch) for a, b and c taking turns
update by update (rotating which goes first), which cancels drift in the load far better than
whole runs in turn; the same ``--warmup`` and ``--updates``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from classification_speed import (  # noqa: E402
    BATCH,
    SIZE,
    THREADS,
    cpu_clock,
    make_raw,
    others_share,
    work_folder,
)
from record import Aim, Table, save  # noqa: E402

CONFIGS = {
    "a": "(a) single task --task mnli",
    "b": "(b) stilts_multitask --tasks mnli",
    "c": "(c) stilts_multitask --tasks mnli,xnli",
}
MNLI_HEADER = "sentence1\tsentence2\tgold_label\n"


@dataclass
class Runs:
    """The timed updates of one configuration, per repeat."""

    name: str
    seconds: list[list[float]] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)  # non-pad tokens (wpb) of every timed update
    tasks: list[str] = field(default_factory=list)  # the task of every timed update (multi-task)
    others: list[float] = field(default_factory=list)

    @property
    def pooled(self) -> list[float]:
        return [s for run in self.seconds for s in run]


def prepare(workdir: Path, model_dir: Path, examples: int, length: int, seed: int) -> Path:
    """DATA/mnli and DATA/xnli: the same ``examples`` pairs of >= ``length`` tokens."""
    from fairseq_stilts.data.prepare.encoder import PieceEncoder
    from fairseq_stilts.data.prepare.folder import prepare_task

    raw = workdir / "raw-xnli"
    make_raw(raw, model_dir, examples * 6, seed)  # ~1/4 of the log-normal lengths reach 48
    encode = PieceEncoder(model_dir).processor.encode
    keep = []
    for line in (raw / "train-en.tsv").read_text().splitlines(keepends=True):
        first, second, _ = line.split("\t")
        if len(encode(first)) + len(encode(second)) + 4 >= length:
            keep.append(line)
    if len(keep) < examples:
        sys.exit(f"only {len(keep)} of the pairs have >= {length} tokens; lower --length")
    (raw / "train-en.tsv").write_text("".join(keep[:examples]))
    mnli = workdir / "raw-mnli"  # the GLUE layout: header row, dev_matched.tsv
    mnli.mkdir(exist_ok=True)
    (mnli / "train.tsv").write_text(MNLI_HEADER + "".join(keep[:examples]))
    (mnli / "dev_matched.tsv").write_text(MNLI_HEADER + (raw / "dev-en.tsv").read_text())
    data = workdir / "data"
    prepare_task("mnli", data / "mnli", model_dir, raw=mnli, force=True)
    prepare_task("xnli", data / "xnli", model_dir, raw=raw, force=True)
    return data


def argv(config: str, data: Path, total: int, length: int, save_dir: Path) -> list[str]:
    """fairseq-train arguments of configuration a, b or c; all but the task part are shared."""
    from fairseq_stilts.runtime import USER_DIR

    common = [
        "--user-dir",
        USER_DIR,
        "--arch",
        "xlmr_tiny",
        *SIZE,
        "--batch-size",
        str(BATCH),
        "--optimizer",
        "stilts_adamw",
        "--lr",
        "1e-4",
        "--lr-scheduler",
        "fixed",
        "--max-update",
        str(total),
        "--seed",
        "1",
        "--cpu",
        "--num-workers",
        "0",
        "--disable-validation",
        "--no-save",
        "--save-dir",
        str(save_dir),
        "--log-format",
        "json",
        "--log-interval",
        "1",
    ]
    if config == "a":
        return [
            str(data / "mnli"),
            "--task",
            "mnli",
            "--criterion",
            "stilts_classification",
            "--max-seq-length",
            str(length),
            *common,
        ]
    names = ["mnli"] if config == "b" else ["mnli", "xnli"]
    return [
        str(data),
        "--task",
        "stilts_multitask",
        "--tasks",
        ",".join(names),
        "--task-data",
        ",".join(f"{n}={data / n}" for n in names),
        "--task-max-seq-lengths",
        ",".join(f"{n}={length}" for n in names),
        "--criterion",
        "stilts_multitask",
        *common,
    ]


def run(config: str, runs: Runs, data: Path, workdir: Path, args: argparse.Namespace) -> None:
    """One fairseq-train run; time each update by when its train_inner line arrives."""
    from fairseq_stilts.runtime import fairseq_executable

    total = args.warmup + args.updates
    repeat = len(runs.seconds) + 1
    command = [
        fairseq_executable("fairseq-train"),
        *argv(config, data, total, args.length, workdir / f"save-{config}"),
    ]
    log = workdir / f"fairseq-{config}{repeat}.log"
    env = {
        **os.environ,
        "OMP_NUM_THREADS": str(args.threads),
        "MKL_NUM_THREADS": str(args.threads),
        "PYTHONUNBUFFERED": "1",
    }
    arrivals: dict[int, float] = {}
    stats: dict[int, dict] = {}
    start = cpu_clock()
    with log.open("w") as out:
        out.write(shlex.join(command) + "\n")
        proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True, bufsize=1
        )
        for line in proc.stdout:
            now = time.perf_counter()
            out.write(line)
            if "| train_inner |" in line:
                update = json.loads(line[line.index("{") :])
                arrivals[int(update["num_updates"])] = now
                stats[int(update["num_updates"])] = update
        if proc.wait() != 0:
            sys.exit(f"{runs.name}: fairseq-train failed (exit {proc.returncode}); see {log}")
    runs.others.append(others_share(start))
    timed = range(args.warmup + 1, total + 1)
    runs.seconds.append([arrivals[u] - arrivals[u - 1] for u in timed])
    runs.tokens += [round(float(stats[u]["wpb"])) for u in timed]
    # the multi-task criterion logs <task>_loss (null for the tasks an update did not train)
    runs.tasks += [
        next((k[:-5] for k, v in stats[u].items() if k.endswith("_loss") and v is not None), "-")
        for u in timed
    ]


ABOUT = (
    "`benchmarks/multitask_speed.py`: time per update of `--task stilts_multitask` against the "
    "single task on the same data, model and batches (every batch 32 pairs x 48 tokens): (a) "
    "`--task mnli`, (b) `stilts_multitask --tasks mnli`, (c) `--tasks mnli,xnli` (task and head "
    "switch about every other update), whole `fairseq-train` runs alternating a, b, c."
)


def report(results: dict[str, Runs], args: argparse.Namespace) -> None:
    """The table of the three configurations and the aim for b/a, printed and recorded."""
    base = statistics.mean(results["a"].pooled)
    table = Table(
        f"{args.warmup} warmup + {args.updates} timed updates, {args.repeats} repeat(s), "
        f"{args.threads} thread(s)",
        [
            "configuration",
            "s/update",
            "median",
            "ratio to (a)",
            "per repeat",
            "task switches",
            "others",
        ],
    )
    for key, runs in results.items():
        mean = statistics.mean(runs.pooled)
        pairs = [
            statistics.mean(r) / statistics.mean(a)
            for r, a in zip(runs.seconds, results["a"].seconds, strict=True)
        ]
        per_run = [
            runs.tasks[i : i + args.updates] for i in range(0, len(runs.tasks), args.updates)
        ]
        switches = sum(sum(x != y for x, y in zip(t, t[1:], strict=False)) for t in per_run)
        table.add(
            runs.name,
            f"{mean:.4f}",
            f"{statistics.median(runs.pooled):.4f}",
            f"{mean / base:.3f}",
            " ".join(f"{p:.3f}" for p in pairs),
            switches if key == "c" else "",
            f"{max(runs.others):.0%}",
        )
    expected = BATCH * args.length
    odd = sorted({t for r in results.values() for t in r.tokens} - {expected})
    notes = [f"warning: batches of other than {expected} tokens: {odd[:5]}"] if odd else []
    aim = Aim("b/a (means)", statistics.mean(results["b"].pooled) / base, 1.03, at_most=True)
    others = max(o for r in results.values() for o in r.others)
    save(
        args.results,
        "multitask_speed",
        "Multi-task overhead",
        ABOUT,
        [table],
        [aim],
        notes,
        others=others,
    )


def timed(fn, repeats: int) -> float:
    """Median seconds of ``fn()`` over ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def profile(data: Path, workdir: Path, args: argparse.Namespace) -> None:
    """In this process: the multi-task machinery's own costs next to the single task's, then
    fairseq's ``Trainer.train_step`` of a, b and c taking turns update by update."""
    import warnings

    import torch
    from fairseq import options, tasks
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf
    from fairseq.logging import metrics
    from fairseq.trainer import Trainer

    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")  # hydra's deprecations, pinned memory on CPU, amp.autocast
    rows, trainers = [], {}
    for key in "abc":
        parsed = options.parse_args_and_arch(
            options.get_training_parser(), argv(key, data, 10**6, args.length, workdir / "p")
        )
        cfg = convert_namespace_to_omegaconf(parsed)
        logging.getLogger().setLevel(logging.WARNING)  # hydra turned the root logger up
        task = tasks.setup_task(cfg.task)
        task.load_dataset("train", combine=True, epoch=1)
        model, criterion = task.build_model(cfg.model), task.build_criterion(cfg.criterion)
        dataset = task.dataset("train")

        def iterator(task=task, dataset=dataset):
            return task.get_batch_iterator(
                dataset=dataset,
                max_sentences=BATCH,
                max_positions=task.max_positions(),
                ignore_invalid_inputs=True,
                seed=1,
                epoch=1,
            ).next_epoch_itr(shuffle=True)

        epoch = timed(iterator, 5)  # batches and schedule of an epoch, once per epoch
        batches = iterator()
        fetch = timed(lambda batches=batches: next(batches), 10)  # __getitem__ + collater
        sample = next(batches)
        with torch.no_grad():
            _, _, log = criterion(model, sample)
        head = task.subtasks[sample["task"]].head_name if key != "a" else ""

        def reduce(task=task, criterion=criterion, log=log):
            with metrics.aggregate("profile") as agg:
                task.reduce_metrics([log], criterion)
            agg.get_smoothed_values()  # what --log-interval 1 does after every update

        switch = timed(partial(task._train_only, model, head), 200) if key != "a" else 0.0
        rows.append((CONFIGS[key], epoch, fetch, switch, timed(reduce, 200)))
        trainers[key] = (Trainer(cfg, task, model, criterion), iterator, [iterator()], [])
    print(
        "\nin-process costs, medians (ms): the epoch's batches/schedule are built once per epoch;"
    )
    print("fetch = one batch's __getitem__ + collater; the other two run once per update")
    head = ("configuration", "epoch setup", "fetch", "head switch", "reduce+log")
    print("{:<42}{:>12}{:>8}{:>13}{:>12}".format(*head))
    for name, *costs in rows:
        widths = (12, 8, 13, 12)
        print(
            f"{name:<42}"
            + "".join(f"{c * 1e3:>{w}.3f}" for c, w in zip(costs, widths, strict=True))
        )
    order = list(trainers)
    for step in range(args.warmup + args.updates):
        for key in order[step % 3 :] + order[: step % 3]:  # each goes first, second, third alike
            trainer, iterator, batches, seconds = trainers[key]
            start = time.perf_counter()
            sample = next(batches[0], None)
            if sample is None:
                batches[0] = iterator()
                sample = next(batches[0])
            trainer.train_step([sample])
            if step >= args.warmup:
                seconds.append(time.perf_counter() - start)
    base = statistics.mean(trainers["a"][3])
    print(
        f"\nin-process Trainer.train_step (with the batch's fetch), a, b, c taking turns every "
        f"update; {args.warmup} warmup + {args.updates} timed updates each:"
    )
    print("{:<42}{:>9}{:>9}{:>7}".format("configuration", "s/update", "median", "ratio"))
    for key, (_, _, _, seconds) in trainers.items():
        mean = statistics.mean(seconds)
        print(
            f"{CONFIGS[key]:<42}{mean:>9.4f}{statistics.median(seconds):>9.4f}{mean / base:>7.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--updates", type=int, default=60, help="timed updates per run")
    parser.add_argument("--warmup", type=int, default=5, help="untimed updates first (>= 1)")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each configuration")
    parser.add_argument("--length", type=int, default=48, help="tokens of every pair")
    parser.add_argument("--threads", type=int, default=THREADS, help="OpenMP threads per run")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="then time the multi-task machinery's own steps in-process",
    )
    parser.add_argument("--quick", action="store_true", help="10 updates, 2 warmup, 1 repeat")
    parser.add_argument("--model", type=Path, help="a tiny model folder (default: build one)")
    parser.add_argument("--workdir", type=Path, help="keep all files here (default: a temp dir)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the synthetic data")
    parser.add_argument("--results", type=Path, help="also record the run in this JSON file")
    args = parser.parse_args()
    if args.quick:
        args.updates, args.warmup, args.repeats = 10, 2, 1
    if args.warmup < 1 or args.updates < 2 or args.repeats < 1:
        parser.error("--warmup and --repeats must be >= 1, --updates >= 2")
    logging.basicConfig(level=logging.WARNING)
    from fairseq_stilts.cli.tiny_model import build_tiny_model

    with work_folder(args.workdir, "stilts-mt-bench-") as workdir:
        model_dir = args.model
        if model_dir is None:
            print("building the tiny model (its dictionary and sentencepiece model) ...")
            model_dir = build_tiny_model(workdir / "model", updates=10)
        examples = BATCH * (args.warmup + args.updates + 2)  # no run reaches the epoch's end
        data = prepare(workdir, model_dir, examples, args.length, args.seed)
        print(
            f"{examples} pairs of {args.length} tokens; {args.warmup} warmup + {args.updates} "
            f"timed updates of {BATCH}, {args.repeats} repeat(s), runs alternating a, b, c"
        )
        results = {key: Runs(name) for key, name in CONFIGS.items()}
        for repeat in range(args.repeats):
            for key, runs in results.items():
                print(f"running {runs.name} ({repeat + 1}/{args.repeats}) ...", flush=True)
                run(key, runs, data, workdir, args)
        report(results, args)
        if args.profile:
            profile(data, workdir, args)


if __name__ == "__main__":
    main()
