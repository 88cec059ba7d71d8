"""Time stilts-report on a generated grid the size of the paper's: 13 settings x 9 XTREME tasks x
3 seeds x 40 languages, with per-example counts for every run (what stilts-eval writes).

Examples per language follow the order of XTREME's test sets (XNLI 5010, PAWS-X 2000, ...); the
counts are random but consistent with the rows (each row's value is its counts' metric). Reports
the seconds of each step: reading rows and counts, the bootstrap (``build_report``), the tables
and the figures. Keep ``--workdir`` to look at the figures.

    python benchmarks/report_speed.py [--resamples 1000] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from classification_speed import cpu_clock, others_share, work_folder  # noqa: E402
from record import Aim, Table, save  # noqa: E402

from fairseq_stilts.cli.report import grid_counts  # noqa: E402
from fairseq_stilts.grid.runs import RESULTS, run_dir  # noqa: E402
from fairseq_stilts.metrics.sums import metric_from_sums  # noqa: E402
from fairseq_stilts.results.categories import XTREME_TASKS  # noqa: E402
from fairseq_stilts.results.example_counts import counts_path, write_counts  # noqa: E402
from fairseq_stilts.results.languages import FAMILIES  # noqa: E402
from fairseq_stilts.results.plots import draw_figures  # noqa: E402
from fairseq_stilts.results.render import write_tables  # noqa: E402
from fairseq_stilts.results.report import build_report  # noqa: E402
from fairseq_stilts.results.scores import official_metrics  # noqa: E402
from fairseq_stilts.results.store import append_rows, load_rows  # noqa: E402

EXAMPLES = {"xnli": 5010, "pawsx": 2000, "udpos": 1500, "panx": 2000, "xquad": 1190}
EXAMPLES |= {"mlqa": 4500, "tydiqa": 700, "bucc": 3000, "tatoeba": 1000}
LANGUAGES = [lang for langs in FAMILIES.values() for lang in langs]
INTERMEDIATE = ["anli", "mnli", "qqp", "sst2", "squad", "hellaswag", "cosmosqa", "csqa", "ccg"]
SETTINGS = ["none", *INTERMEDIATE, "mnli-multilingual", "squad-multilingual", "multitask"]


def _counts(task: str, n: int, skill: float, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Random per-example counts of one run and language, better with ``skill`` in [0, 1]."""
    if task in ("udpos", "panx"):
        gold = rng.poisson(3, n)
        correct = rng.binomial(gold, skill)
        predicted = correct + rng.binomial(gold - correct, 0.5)
        tokens = gold * 2 + 1
        return {
            "chunks_gold": gold,
            "chunks_correct": correct,
            "chunks_predicted": predicted,
            "token_correct": rng.binomial(tokens, skill),
            "token_total": tokens,
        }
    if task in ("xquad", "mlqa", "tydiqa"):
        exact = rng.random(n) < skill
        return {
            "qa_exact": exact.astype(float),
            "qa_f1": np.where(exact, 1.0, rng.random(n) * skill),
            "qa_questions": np.ones(n),
        }
    if task == "bucc":
        gold = rng.binomial(1, 0.3, n)
        correct = gold * (rng.random(n) < skill)
        return {
            "pairs_gold": gold,
            "pairs_correct": correct,
            "pairs_predicted": correct + rng.binomial(1, 0.05, n),
        }
    return {"ncorrect": (rng.random(n) < skill).astype(int), "nsentences": np.ones(n, dtype=int)}


def generate(grid: Path, seed: int = 0) -> None:
    """The rows (grid/results.jsonl) and per-example counts (grid/runs/...) of the grid."""
    shutil.rmtree(grid, ignore_errors=True)
    rng = np.random.default_rng(seed)
    rows = []
    for s_index, setting in enumerate(SETTINGS):
        for run_seed in (1, 2, 3):
            for task in XTREME_TASKS:
                run = f"{setting}/s{run_seed}/{task}"
                by_language = {}
                for l_index, lang in enumerate(LANGUAGES):
                    skill = 0.5 + 0.002 * s_index - 0.005 * l_index + rng.normal(0, 0.01)
                    counts = _counts(task, EXAMPLES[task], min(max(skill, 0.05), 0.95), rng)
                    sums = {name: values.sum() for name, values in counts.items()}
                    by_language[lang] = counts
                    for metric in official_metrics(task):
                        rows.append(
                            {
                                "run": run,
                                "setting": setting,
                                "intermediate_languages": ["en"],
                                "target": task,
                                "language": lang,
                                "split": "test",
                                "metric": metric,
                                "value": metric_from_sums(metric, sums),
                                "seed": run_seed,
                                "checkpoint": f"{run}/checkpoint_best.pt",
                                "data_manifest_sha256": None,
                            }
                        )
                write_counts(counts_path(run_dir(grid, run) / RESULTS), by_language)
    append_rows(grid / "results.jsonl", rows)


ABOUT = (
    "`benchmarks/report_speed.py`: `stilts-report`'s steps on a generated grid the size of the "
    "paper's, 13 settings x 9 XTREME tasks x 3 seeds x 40 languages with per-example counts for "
    "every run. No baseline: the aim is an absolute one, under a minute on a laptop's CPU."
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--workdir", type=Path, help="keep the grid and the report here")
    parser.add_argument("--results", type=Path, help="also record the run in this JSON file")
    args = parser.parse_args()
    clock = cpu_clock()
    with work_folder(args.workdir) as workdir:
        start = time.perf_counter()
        generate(workdir / "grid")
        print(f"generated the store in {time.perf_counter() - start:.1f} s", flush=True)
        steps = {}
        start = time.perf_counter()
        rows, _ = load_rows(workdir / "grid" / "results.jsonl")
        counts, _ = grid_counts(workdir / "grid" / "results.jsonl", rows)
        steps["read rows and counts"] = time.perf_counter() - start
        start = time.perf_counter()
        report = build_report(
            rows,
            english="mnli",
            multilingual="mnli-multilingual",
            resamples=args.resamples,
            counts=counts,
        )
        steps[f"bootstrap and report ({args.resamples} resamples)"] = time.perf_counter() - start
        start = time.perf_counter()
        figures, paths = draw_figures(report, workdir / "report")
        steps[f"figures ({len(paths)} files)"] = time.perf_counter() - start
        start = time.perf_counter()
        write_tables(report, workdir / "report", figures)
        steps["report.md and CSV tables"] = time.perf_counter() - start
        table = Table(
            f"{len(rows):,} rows, {len(counts):,} (run, language) count sets", ["step", "seconds"]
        )
        for step, seconds in steps.items():
            table.add(step, f"{seconds:.2f}")
        table.add("total", f"{sum(steps.values()):.2f}")
        aim = Aim("total seconds", sum(steps.values()), 60, at_most=True)
        save(
            args.results,
            "report_speed",
            "The report",
            ABOUT,
            [table],
            [aim],
            others=others_share(clock),
        )


if __name__ == "__main__":
    main()
