"""stilts-demo: the X-STILTs research question as a mini grid on the tiny world.

Phase 1 pretrains a tiny XLM-R-shaped model with masked LM. The grid (stilts-grid, submitit's local
executor) then compares three intermediate settings: none, MNLI in English, and MNLI in English,
German, Spanish and French (XNLI-MT translations); each is followed by phase 3 on English XNLI and
PAWS-X with zero-shot evaluation in every language, and by Tatoeba retrieval; two seeds each.
stilts-report then prints the report (its opening paragraph, the tables with intervals) and
writes the figures.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from fairseq_stilts.cli.grid import main as grid_main
from fairseq_stilts.cli.main import argument_parser, cli
from fairseq_stilts.cli.report import main as report_main
from fairseq_stilts.cli.tiny_model import build_tiny_model
from fairseq_stilts.data.prepare.folder import prepare_task
from fairseq_stilts.data.prepare.train_languages import choose_train_languages
from fairseq_stilts.grid.plan import RESULTS_STORES
from fairseq_stilts.tiny import DATA_DIR
from fairseq_stilts.writes import write_atomic

TARGETS = ("xnli", "pawsx", "tatoeba")
MNLI_LANGUAGES = ("en", "de", "es", "fr")
ENGLISH, MULTILINGUAL = "mnli", "mnli-multilingual"


def tiny_training(updates: int) -> str:
    """The fairseq-train flags every run of the demo shares (tiny model, CPU)."""
    return (
        f"--arch xlmr_tiny --optimizer stilts_adamw --weight-decay 0.01 --lr 5e-4 "
        f"--lr-scheduler polynomial_decay --warmup-updates {updates // 10} "
        f"--total-num-update {updates} --max-update {updates} --clip-norm 1.0 --batch-size 16 "
        "--cpu --num-workers 0 --best-checkpoint-metric accuracy --maximize-best-checkpoint-metric "
        "--no-epoch-checkpoints --log-format simple --log-interval 10"
    )


def demo_plan(model: Path, data: Path, updates: int, seeds: tuple[int, ...]) -> dict:
    """The mini grid: none vs English MNLI vs multilingual MNLI, x XNLI, PAWS-X, Tatoeba."""
    return {
        "model": str(model),
        "data": str(data),
        "settings": [
            {"name": "none", "tasks": []},
            {"name": ENGLISH, "tasks": ["mnli"], "languages": ["en"]},
            {"name": MULTILINGUAL, "tasks": ["mnli"], "languages": list(MNLI_LANGUAGES)},
        ],
        "targets": list(TARGETS),
        "seeds": list(seeds),
        "train": tiny_training(updates),
        "retrieval_raw": {"tatoeba": str(DATA_DIR / "tatoeba")},
        "checkpoint": "checkpoint_best.pt",
    }


@contextmanager
def environment(**variables: str) -> Iterator[None]:
    """Set environment variables that are not set yet, for the duration of the block."""
    added = {k: v for k, v in variables.items() if k not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)


def run_demo(
    out: Path,
    pretrain_updates: int = 1000,
    updates: int = 100,
    seeds: tuple[int, ...] = (1, 2),
    parallel: int = 2,
) -> Path:
    """Pretrain, prepare, run the grid and report; returns the report folder."""
    out = Path(out).absolute()
    print(f"phase 1: pretraining the tiny XLM-R ({pretrain_updates} masked-LM updates)")
    model = build_tiny_model(out / "model", pretrain_updates, seeds[0], progress=True)
    print(f"phase 1: pretrained tiny XLM-R -> {model}")
    data = out / "data"
    translated = choose_train_languages(MNLI_LANGUAGES)
    for task in ("mnli", "xnli", "pawsx"):
        train = translated if task == "mnli" else choose_train_languages()
        prepare_task(
            task, data / task, model, raw=DATA_DIR / task, workers=1, force=True, train=train
        )
    print(f"prepared mnli (en, de, es, fr), xnli, pawsx -> {data}")
    plan = out / "plan.yaml"
    write_atomic(plan, yaml.safe_dump(demo_plan(model, data, updates, seeds), sort_keys=False))
    grid = out / "grid"
    shutil.rmtree(grid, ignore_errors=True)  # its runs were made with the model replaced above
    # the chains share the cores: each run's torch gets its share (runs inherit the environment)
    with environment(OMP_NUM_THREADS=str(max(1, (os.cpu_count() or 1) // parallel))):
        grid_main([str(plan), "--out", str(grid), "--parallel", str(parallel)])
    report = out / "report"
    report_main(
        [
            str(grid / RESULTS_STORES["jsonl"]),
            "--out",
            str(report),
            "--english",
            ENGLISH,
            "--multilingual",
            MULTILINGUAL,
        ]
    )
    return report


@cli
def main(argv: list[str] | None = None) -> None:
    parser = argument_parser("stilts-demo", __doc__)
    parser.add_argument("--out", type=Path, default=Path("demo_out"), help="folder for everything")
    parser.add_argument(
        "--pretrain-updates", type=int, default=1000, help="masked-LM updates of the tiny model"
    )
    parser.add_argument("--updates", type=int, default=100, help="updates per fine-tuning phase")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2], help="seeds of every run")
    parser.add_argument("--parallel", type=int, default=2, help="grid chains running at once")
    args = parser.parse_args(argv)
    if args.parallel < 1:
        parser.error("--parallel must be at least 1")
    if len(set(args.seeds)) != len(args.seeds):
        parser.error("--seeds: each seed once")
    start = time.time()
    report = run_demo(
        args.out, args.pretrain_updates, args.updates, tuple(args.seeds), args.parallel
    )
    print(f"\nplan, grid runs (commands, logs, checkpoints) and results under {args.out}/")
    print(f"report: {report / 'report.md'}")
    print(f"demo took {time.time() - start:.0f} s")
