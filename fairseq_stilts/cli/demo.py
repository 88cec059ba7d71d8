"""stilts-demo: X-STILTs end to end on the tiny world, through the stock fairseq executables.

Phase 1 pretrains a tiny XLM-R-shaped model with masked LM; phase 2 trains it on MNLI
(intermediate task); phase 3 trains on English XNLI, both from the MNLI checkpoint and, as the
baseline, straight from the pretrained model; then every XNLI language is evaluated zero-shot.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from fairseq_stilts.cli.evaluate import evaluate
from fairseq_stilts.cli.fairseq_tools import run_fairseq
from fairseq_stilts.cli.main import cli
from fairseq_stilts.cli.tiny_model import build_tiny_model
from fairseq_stilts.data.prepare import prepare_task, read_manifest
from fairseq_stilts.tiny import DATA_DIR
from fairseq_stilts.writes import write_atomic


def finetune(task: str, data: Path, init: Path, save_dir: Path, updates: int, seed: int) -> Path:
    """One fine-tuning phase with fairseq-train; returns the best checkpoint (English dev)."""
    data_languages = read_manifest(data, task)["languages"]["dev"]
    valid = ["valid"] + [f"valid.{lang}" for lang in data_languages if lang != "en"]
    run_fairseq(
        "fairseq-train",
        [str(data), "--task", task, "--criterion", "stilts_classification", "--arch", "xlmr_tiny",
         "--finetune-from-model", str(init), "--valid-subset", ",".join(valid),
         "--optimizer", "stilts_adamw", "--weight-decay", "0.01",
         "--lr", "5e-4", "--lr-scheduler", "polynomial_decay", "--warmup-updates", str(updates // 10),
         "--total-num-update", str(updates), "--max-update", str(updates), "--clip-norm", "1.0",
         "--batch-size", "16", "--seed", str(seed), "--cpu", "--num-workers", "0",
         "--best-checkpoint-metric", "accuracy", "--maximize-best-checkpoint-metric",
         "--save-dir", str(save_dir), "--no-epoch-checkpoints", "--no-save-optimizer-state",
         "--log-format", "simple", "--log-interval", "10"],
        save_dir / "train.log",
    )  # fmt: skip
    return save_dir / "checkpoint_best.pt"


def run_demo(out: Path, pretrain_updates: int = 1000, updates: int = 150, seed: int = 1) -> dict:
    """All three phases; returns {setting: {language: accuracy}} and writes results.json."""
    out = Path(out)
    model = build_tiny_model(out / "model", pretrain_updates, seed)
    print(f"phase 1: pretrained tiny XLM-R -> {model}")
    data = {}
    for task in ("mnli", "xnli"):
        data[task] = out / "data" / task
        prepare_task(task, data[task], model, raw=DATA_DIR / task, workers=1, force=True)
    mnli = finetune(
        "mnli", data["mnli"], model / "model.pt", out / "checkpoints" / "mnli", updates, seed
    )
    print(f"phase 2: intermediate task MNLI -> {mnli}")
    table, rows = {}, []
    for setting, init in (("none", model / "model.pt"), ("mnli", mnli)):
        save_dir = out / "checkpoints" / f"{setting}-xnli"
        best = finetune("xnli", data["xnli"], init, save_dir, updates, seed)
        print(f"phase 3: XNLI from {setting!r} intermediate -> {best}")
        results = evaluate("xnli", data["xnli"], best, "test", cpu=True)
        rows += [dict(r, intermediate=setting) for r in results]
        table[setting] = {r["language"]: r["value"] for r in results}
    write_atomic(out / "results.json", json.dumps(rows, indent=2) + "\n")
    return table


def format_comparison(table: dict[str, dict[str, float]]) -> str:
    settings = list(table)
    languages = list(next(iter(table.values())))
    lines = ["XNLI test accuracy (zero-shot except en), by intermediate task:"]
    lines.append(f"{'language':<10}" + "".join(f"{s:>10}" for s in settings))
    for lang in languages:
        lines.append(f"{lang:<10}" + "".join(f"{table[s][lang]:>10.2f}" for s in settings))
    means = [sum(table[s].values()) / len(table[s]) for s in settings]
    lines.append(f"{'mean':<10}" + "".join(f"{m:>10.2f}" for m in means))
    return "\n".join(lines)


@cli
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="stilts-demo", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("demo_out"))
    parser.add_argument("--pretrain-updates", type=int, default=1000)
    parser.add_argument("--updates", type=int, default=150, help="updates per fine-tuning phase")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    start = time.time()
    table = run_demo(args.out, args.pretrain_updates, args.updates, args.seed)
    print()
    print(format_comparison(table))
    print(f"\nresults: {args.out / 'results.json'}; checkpoints, data and logs under {args.out}/")
    print(f"demo took {time.time() - start:.0f} s")
