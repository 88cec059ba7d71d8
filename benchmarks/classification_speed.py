"""Training speed of the plugin's classification task against stock fairseq and HF ``Trainer``.

One XLM-R shape (4 layers, 256 hidden, 4 heads, 1024 FFN, the tiny model's vocabulary) is
trained on one prepared data folder for ``--warmup`` + ``--updates`` updates of 32 pairs at a
fixed lr, on CPU with 2 threads, four ways: (a) the plugin, ``fairseq-train --user-dir
fairseq_stilts --task xnli --optimizer stilts_adamw`` (batches of similar length; torch's AdamW,
as the recipe trains); (b) stock ``fairseq-train --task sentence_prediction --arch roberta`` with
stock fairseq's ``adam`` (random batches); (c) HF ``Trainer`` with
``XLMRobertaForSequenceClassification`` (torch's AdamW), random order, padding to the longest in
the batch; (d) the same with ``train_sampling_strategy="group_by_length"`` and a ``length``
column. Weight decay is 0 everywhere. The four run one after another in each of ``--rounds``
rounds, each round starting with the next method (a b c d, b c d a, ...), so that a slow spell
of the machine does not fall on one method alone; the ratios are per round, reported as median
(min, max).
Data: ~4,000 pairs of random words from the tiny world's MLM text with log-normal tokenized
lengths (``<s> a </s></s> b </s>``: median 36, sigma 0.6, clipped to [8, 250]), written as
XTREME TSVs and binarized by ``prepare_task("xnli", ...)``.

s/update: wall time between the ends of consecutive updates after the warmup. That leaves out
start-up, model building and data loading for all four alike and keeps all per-update work
(fetching and collating the batch, forward, backward, optimizer step, bookkeeping). A fairseq
update ends when its ``train_inner`` JSON line (``--log-interval 1``) reaches this process
(fairseq's own ``wall``/``train_wall`` are whole seconds); a Trainer step at ``on_step_end``.
tokens/s: non-pad tokens of those updates (fairseq's ``wpb``, the collator's lengths) per second.
padding: pad / all tokens of the timed batches, for fairseq rebuilt in-process with the task's
own ``get_batch_iterator`` (checked against ``wpb``), for HF recorded by the collator.
others: share of the CPUs that other processes took meanwhile (/proc/stat); 2 OpenMP threads
slow down many times over when another process holds a core, so rerun when it is not ~0%.
A short run of (d) covers part of its first mega-batch (50 batches, sorted longest first).
``--bf16``: (a), (c) and (d) train in bf16 autocast (the plugin's ``--bf16-autocast``, the
Trainer's ``bf16=True``; weights and optimizer state fp32 in both), and (b) is replaced by (e) the
plugin in fp32 (stock fairseq's ``--bf16`` implies ``--tpu``): a/d compares bf16 like for like,
a/e is what bf16 gains the plugin.
Needs ``accelerate`` for ``Trainer``.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import importlib.util
import itertools
import json
import logging
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from record import Aim, Table, save, spread

THREADS = 2
METHODS = (
    "(a) plugin xnli, fairseq-train",
    "(b) stock sentence_prediction, fairseq-train",
    "(c) HF Trainer, random",
    "(d) HF Trainer, group_by_length",
)
BF16_METHODS = (
    "(a) plugin xnli, fairseq-train, bf16 autocast",
    "(e) plugin xnli, fairseq-train, fp32",
    "(c) HF Trainer, random, bf16",
    "(d) HF Trainer, group_by_length, bf16",
)
SIZE = [
    "--encoder-layers",
    "4",
    "--encoder-embed-dim",
    "256",
    "--encoder-ffn-embed-dim",
    "1024",
    "--encoder-attention-heads",
    "4",
]
ABOUT = (
    "`benchmarks/classification_speed.py`: an XLM-R shape of 4 layers x 256 hidden trained on "
    "about 4,000 synthetic pairs (log-normal lengths, median 36 tokens), batch 32, CPU with 2 "
    "threads, fp32: (a) the plugin's `fairseq-train --task xnli` with `stilts_adamw`, (b) stock "
    "fairseq's `sentence_prediction` with its `adam`, (c) Hugging Face `Trainer` in random order "
    "and (d) `Trainer` with `group_by_length` (both torch's AdamW). Non-pad tokens/s ratios."
)
ABOUT_BF16 = (
    "`benchmarks/classification_speed.py --bf16`: the same in bf16 autocast with fp32 weights and "
    "optimizer state on both sides: (a) the plugin with `--bf16-autocast`, (c) and (d) `Trainer` "
    "with `bf16=True`; (e) is the plugin in fp32, so a/e is what bf16 gains the plugin."
)
LABELS = ("entailment", "neutral", "contradiction")
BATCH = 32


@dataclass
class Result:
    """Per timed update: duration (s), non-pad tokens and all tokens (incl. pad) fed."""

    name: str
    seconds: list[float]
    tokens: list[int]
    padded: list[int]
    others: float = float("nan")  # share of all CPUs that other processes used meanwhile


@contextlib.contextmanager
def work_folder(kept: Path | None, prefix: str = "stilts-bench-"):
    """``kept`` (made if needed, left in place and named at the end), or a temporary folder
    removed at the end."""
    workdir = kept or Path(tempfile.mkdtemp(prefix=prefix))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        yield workdir
    finally:
        if kept is None:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"files kept in {workdir}")


def cpu_clock() -> tuple[float, float, float]:
    """(wall s, busy s of all CPUs incl. steal, CPU s of this process and its waited children)."""
    try:
        ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:9]]
        busy = (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError):  # not Linux
        busy = float("nan")
    usage = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return time.perf_counter(), busy, sum(u.ru_utime + u.ru_stime for u in usage)


def others_share(start: tuple[float, float, float]) -> float:
    """Share of the machine's CPU time that other processes (or the host) took since ``start``."""
    wall, busy, own = (b - a for a, b in zip(start, cpu_clock(), strict=True))
    return max(0.0, (busy - own) / (wall * (os.cpu_count() or 1)))


def make_raw(raw: Path, model_dir: Path, examples: int, seed: int) -> None:
    """Write train-en.tsv/dev-en.tsv of random-word pairs with log-normal token lengths."""
    from fairseq_stilts.data.prepare.encoder import PieceEncoder
    from fairseq_stilts.tiny import DATA_DIR

    encoder = PieceEncoder(model_dir)
    words = {w for p in sorted((DATA_DIR / "mlm").glob("*.txt")) for w in p.read_text().split()}
    by_size = sorted((len(encoder.processor.encode(w)), w) for w in sorted(words))
    sizes = [s for s, _ in by_size]
    rng = np.random.default_rng(seed)

    def sentence(pieces: int) -> str:
        out = []
        while pieces > 0:  # a random word among those that still fit
            size, word = by_size[rng.integers(max(1, bisect.bisect_right(sizes, pieces)))]
            out.append(word)
            pieces -= size
        return " ".join(out)

    def rows(n: int) -> str:
        lengths = np.clip(np.rint(rng.lognormal(np.log(36), 0.6, n)), 8, 250).astype(int)
        lines = []
        for total in lengths:  # total = |a| + |b| + 4 (<s>, </s> after a, </s> before/after b)
            first = max(1, round(0.6 * (total - 4)))
            label = LABELS[rng.integers(len(LABELS))]
            lines.append(f"{sentence(first)}\t{sentence(total - 4 - first)}\t{label}\n")
        return "".join(lines)

    raw.mkdir(parents=True, exist_ok=True)
    (raw / "train-en.tsv").write_text(rows(examples))
    (raw / "dev-en.tsv").write_text(rows(64))


def fairseq_argv(method: str, data: Path, total: int, save_dir: Path, bf16: bool) -> list[str]:
    """fairseq-train arguments for (a) or (e) the plugin or (b) stock sentence_prediction."""
    from fairseq_stilts.runtime import USER_DIR

    common = [
        str(data),
        *SIZE,
        "--batch-size",
        str(BATCH),
        "--lr",
        "1e-4",
        "--lr-scheduler",
        "fixed",
        "--max-update",
        str(total),
        "--seed",
        "1",
        "--cpu",
        "--disable-validation",
        "--no-save",
        "--save-dir",
        str(save_dir),
        "--num-workers",
        "0",
        "--log-format",
        "json",
        "--log-interval",
        "1",
    ]
    if method in "ae":
        return [
            *common,
            *(["--bf16-autocast"] if bf16 and method == "a" else []),
            "--user-dir",
            USER_DIR,
            "--task",
            "xnli",
            "--criterion",
            "stilts_classification",
            "--arch",
            "xlmr_tiny",
            "--optimizer",
            "stilts_adamw",
            "--weight-decay",
            "0",
        ]
    return [
        *common,
        "--optimizer",
        "adam",
        "--task",
        "sentence_prediction",
        "--criterion",
        "sentence_prediction",
        "--arch",
        "roberta",
        "--num-classes",
        "3",
        "--init-token",
        "0",
        "--separator-token",
        "2",
        "--max-positions",
        "512",
        "--required-batch-size-multiple",
        "1",
    ]


def run_fairseq(
    name: str, data: Path, workdir: Path, total: int, warmup: int, bf16: bool
) -> Result:
    """Run fairseq-train; time each update by when its train_inner line arrives."""
    from fairseq_stilts.runtime import fairseq_executable

    argv = fairseq_argv(name[1], data, total, workdir / f"save-{name[1]}", bf16)
    log = workdir / f"fairseq-{name[1]}.log"
    env = {
        **os.environ,
        "OMP_NUM_THREADS": str(THREADS),
        "MKL_NUM_THREADS": str(THREADS),
        "PYTHONUNBUFFERED": "1",
    }
    command = [fairseq_executable("fairseq-train"), *argv]
    arrivals: dict[int, float] = {}
    wpb: dict[int, int] = {}
    with log.open("w") as out:
        out.write(" ".join(command) + "\n")
        proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True, bufsize=1
        )
        for line in proc.stdout:
            now = time.perf_counter()
            out.write(line)
            if "| train_inner |" in line:
                stats = json.loads(line[line.index("{") :])
                update = int(stats["num_updates"])
                arrivals[update], wpb[update] = now, round(float(stats["wpb"]))
        if proc.wait() != 0:
            sys.exit(f"{name}: fairseq-train failed (exit {proc.returncode}); see {log}")
    timed = range(warmup + 1, total + 1)
    batches = fairseq_batches(argv, total)[warmup:]
    if [n for n, _ in batches] != [wpb[u] for u in timed]:
        print(f"warning: {name}: rebuilt batches differ from the logged wpb")
    seconds = [arrivals[u] - arrivals[u - 1] for u in timed]
    return Result(name, seconds, [wpb[u] for u in timed], [p for _, p in batches])


def fairseq_batches(argv: list[str], count: int) -> list[tuple[int, int]]:
    """(non-pad, all) tokens of the first ``count`` training batches fairseq-train feeds."""
    from fairseq import options, tasks
    from fairseq.dataclass.utils import convert_namespace_to_omegaconf

    with warnings.catch_warnings():  # hydra's deprecation notices
        warnings.simplefilter("ignore")
        cfg = convert_namespace_to_omegaconf(
            options.parse_args_and_arch(options.get_training_parser(), argv)
        )
    logging.getLogger().setLevel(logging.WARNING)  # hydra turned the root logger up
    task = tasks.setup_task(cfg.task)
    task.load_dataset(cfg.dataset.train_subset, combine=True, epoch=1)
    # As fairseq's Trainer.get_train_iterator for epoch 1 (lengths <= 250: nothing is filtered).
    epoch_itr = task.get_batch_iterator(
        dataset=task.dataset(cfg.dataset.train_subset),
        max_tokens=cfg.dataset.max_tokens,
        max_sentences=cfg.dataset.batch_size,
        max_positions=task.max_positions(),
        ignore_invalid_inputs=True,
        seed=cfg.common.seed,
        num_workers=0,
        epoch=1,
        required_batch_size_multiple=cfg.dataset.required_batch_size_multiple,
    )
    pad = task.source_dictionary.pad()
    with warnings.catch_warnings():  # fairseq asks for pinned memory on CPU
        warnings.simplefilter("ignore")
        batches = list(itertools.islice(epoch_itr.next_epoch_itr(shuffle=True), count))
    return [
        (int((b["net_input"]["src_tokens"] != pad).sum()), b["net_input"]["src_tokens"].numel())
        for b in batches
    ]


def load_pairs(data: Path) -> tuple[list[list[int]], list[int], int]:
    """Token ids ``<s> a </s></s> b </s>``, labels and vocabulary size (with <mask>)."""
    from fairseq.data import Dictionary, data_utils

    vocab = Dictionary.load(str(data / "input0" / "dict.txt"))
    vocab.add_symbol("<mask>")
    first, second, label = (
        data_utils.load_indexed_dataset(str(data / sub / "train"), None)
        for sub in ("input0", "input1", "label")
    )
    ids = [
        [vocab.bos(), *first[i].tolist(), vocab.eos(), *second[i].tolist()]
        for i in range(len(first))
    ]
    nspecial = Dictionary.load(str(data / "label" / "dict.txt")).nspecial
    return ids, [int(label[i][0]) - nspecial for i in range(len(label))], len(vocab)


class PadCollator:
    """Pad to the longest in the batch (DataCollatorWithPadding-style); record the batches."""

    def __init__(self, pad: int) -> None:
        self.pad = pad
        self.batches: list[tuple[int, int]] = []

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        rows = [torch.tensor(f["input_ids"]) for f in features]
        ids = torch.nn.utils.rnn.pad_sequence(rows, batch_first=True, padding_value=self.pad)
        lengths = torch.tensor([len(r) for r in rows])
        mask = (torch.arange(ids.size(1)) < lengths[:, None]).long()
        self.batches.append((int(lengths.sum()), ids.numel()))
        labels = torch.tensor([f["labels"] for f in features])
        return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def run_trainer(
    name: str, pairs: tuple, workdir: Path, total: int, warmup: int, bf16: bool
) -> Result:
    """Train XLMRobertaForSequenceClassification with HF Trainer; time each step's end."""
    import transformers as hf
    from datasets import Dataset

    ids, labels, vocab = pairs
    config = hf.XLMRobertaConfig(
        vocab_size=vocab,
        hidden_size=256,
        num_hidden_layers=4,
        num_attention_heads=4,
        intermediate_size=1024,
        max_position_embeddings=514,
        type_vocab_size=1,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        layer_norm_eps=1e-5,
        num_labels=3,
    )
    torch.manual_seed(1)
    model = hf.XLMRobertaForSequenceClassification(config)
    dataset = Dataset.from_dict({"input_ids": ids, "labels": labels, "length": list(map(len, ids))})
    args = hf.TrainingArguments(
        output_dir=str(workdir / f"hf-{name[1]}"),
        per_device_train_batch_size=BATCH,
        max_steps=total,
        learning_rate=1e-4,
        lr_scheduler_type="constant",
        weight_decay=0.0,
        max_grad_norm=0.0,
        use_cpu=True,
        bf16=bf16,
        report_to=[],
        save_strategy="no",
        logging_strategy="no",
        disable_tqdm=True,
        seed=1,
        dataloader_num_workers=0,
        dataloader_pin_memory=False,
        remove_unused_columns=False,
        train_sampling_strategy="group_by_length" if name[1] == "d" else "random",
    )
    ends: list[float] = []

    class Clock(hf.TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            ends.append(time.perf_counter())

    collator = PadCollator(pad=1)
    trainer = hf.Trainer(
        model=model, args=args, train_dataset=dataset, data_collator=collator, callbacks=[Clock()]
    )
    trainer.train()
    if len(collator.batches) < total:
        sys.exit(f"{name}: the collator saw {len(collator.batches)} batches, expected {total}")
    seconds = [b - a for a, b in itertools.pairwise(ends[warmup - 1 : total])]
    fed = collator.batches[warmup:total]
    return Result(name, seconds, [n for n, _ in fed], [p for _, p in fed])


def report(results: list[Result]) -> dict:
    """Print one round's table and ratios; return its per-method rows and its ratios."""
    rate, rows = {}, []
    head = ("method", "s/update", "median", "tokens/s", "tok/upd", "padding", "others")
    print("\n{:<44}{:>10}{:>9}{:>10}{:>9}{:>9}{:>8}".format(*head))
    for r in results:
        mean = sum(r.seconds) / len(r.seconds)
        rate[r.name[:3]] = sum(r.tokens) / sum(r.seconds)
        share = 1 - sum(r.tokens) / sum(r.padded)
        rows.append(
            [r.name, f"{mean:.3f}", f"{rate[r.name[:3]]:.0f}", f"{share:.1%}", f"{r.others:.0%}"]
        )
        print(
            f"{r.name:<44}{mean:>10.4f}{statistics.median(r.seconds):>9.4f}"
            f"{rate[r.name[:3]]:>10.0f}{sum(r.tokens) / len(r.tokens):>9.0f}{share:>9.1%}{r.others:>8.0%}"
        )
    other = "(b)" if "(b)" in rate else "(e)"
    ratios = {f"a/{other[1]}": rate["(a)"] / rate[other], "a/d": rate["(a)"] / rate["(d)"]}
    print("\ntokens/s ratio " + ", ".join(f"{k} = {v:.2f}" for k, v in ratios.items()))
    if any(r.others > 0.1 for r in results):
        print("warning: other processes took over 10% of the CPUs during a run (column 'others')")
    padding = 1 - sum(results[-1].tokens) / sum(results[-1].padded)
    others = max(r.others for r in results)
    return {
        "ratios": ratios,
        "rows": rows,
        "rate": rate["(a)"],
        "padding_d": padding,
        "others": others,
    }


def summarize(rounds: list[dict], bf16: bool, results: Path | None) -> None:
    """The per-round ratios with their median (min, max) against the aims; the round in which
    the plugin was fastest, method by method; recorded in ``results`` when given."""
    keys = list(rounds[0]["ratios"])
    per_round = Table("Per-round tokens/s ratios", ["round", *keys])
    for number, one in enumerate(rounds, 1):
        per_round.add(number, *(f"{one['ratios'][k]:.2f}" for k in keys))
    per_round.add("median (min, max)", *(spread([r["ratios"][k] for r in rounds]) for k in keys))
    best = max(rounds, key=lambda r: r["rate"])
    methods = Table(
        f"Round {rounds.index(best) + 1}, the plugin's fastest",
        ["method", "s/update (mean)", "non-pad tokens/s", "padding", "others"],
        best["rows"],
    )
    median = {k: statistics.median(r["ratios"][k] for r in rounds) for k in keys}
    aims = [Aim("median a/d", median["a/d"], 1.3)]
    if bf16:
        aims.insert(0, Aim("median a/e (bf16 over fp32)", median["a/e"], 1.6))
    bound = 1 / (1 - statistics.median(r["padding_d"] for r in rounds))
    notes = [
        f"(d) pads {1 - 1 / bound:.1%} of its tokens: removing all padding is worth at most "
        f"{bound:.2f}x over it, so a/d above that needs a faster model or trainer per token."
    ]
    save(
        results,
        "classification_speed" + ("_bf16" if bf16 else ""),
        "Classification training" + (", bf16 autocast" if bf16 else ", fp32"),
        ABOUT_BF16 if bf16 else ABOUT,
        [per_round, methods],
        aims,
        notes,
        others=max(r["others"] for r in rounds),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--updates", type=int, default=30, help="timed updates per method")
    parser.add_argument("--warmup", type=int, default=5, help="untimed updates first (>= 1)")
    parser.add_argument("--examples", type=int, default=4000, help="training pairs to synthesise")
    parser.add_argument("--model", type=Path, help="a tiny model folder (default: build one)")
    parser.add_argument("--workdir", type=Path, help="keep all files here (default: a temp dir)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the synthetic data")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the four methods")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast (see above)")
    parser.add_argument("--results", type=Path, help="also record the run in this JSON file")
    args = parser.parse_args()
    if args.warmup < 1 or args.updates < 1 or args.rounds < 1:
        parser.error("--warmup, --updates and --rounds must be >= 1")
    if importlib.util.find_spec("accelerate") is None:
        sys.exit("HF Trainer needs accelerate>=1.1 (pip install 'accelerate>=1.1'); not found")
    torch.set_num_threads(THREADS)
    logging.basicConfig(level=logging.WARNING)
    from fairseq_stilts.cli.tiny_model import build_tiny_model
    from fairseq_stilts.data.prepare.folder import prepare_task

    total = args.warmup + args.updates
    with work_folder(args.workdir) as workdir:
        model_dir = args.model
        if model_dir is None:
            print("building the tiny model (its dictionary and sentencepiece model) ...")
            model_dir = build_tiny_model(workdir / "model", updates=10)
        make_raw(workdir / "raw", model_dir, args.examples, args.seed)
        data = workdir / "data"
        prepare_task("xnli", data, model_dir, raw=workdir / "raw", force=True)
        pairs = load_pairs(data)
        lengths = [len(x) for x in pairs[0]]
        print(
            f"{len(lengths)} pairs, tokens per pair: median {statistics.median(lengths):.0f}, "
            f"mean {statistics.mean(lengths):.1f}, max {max(lengths)}; "
            f"{args.warmup} warmup + {args.updates} timed updates of {BATCH}"
        )
        rounds = []
        methods = BF16_METHODS if args.bf16 else METHODS
        for number in range(args.rounds):
            order = methods[number % 4 :] + methods[: number % 4]
            results = {}
            for name in order:
                print(f"round {number + 1}: running {name} ...", flush=True)
                start = cpu_clock()
                run = run_fairseq if name[1] in "abe" else run_trainer
                source = data if name[1] in "abe" else pairs
                results[name] = run(name, source, workdir, total, args.warmup, args.bf16)
                results[name].others = others_share(start)
            rounds.append(report([results[name] for name in methods]))
        summarize(rounds, args.bf16, args.results)


if __name__ == "__main__":
    main()
