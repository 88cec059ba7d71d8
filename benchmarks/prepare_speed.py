"""Speed of ``stilts-prepare`` against sentencepiece's own batch encoding of the same texts.

Data: ``--pairs`` (default 100,000) XNLI-format training pairs of random words from the tiny
world's MLM text with log-normal tokenized lengths (median 36 tokens a pair; the generator of
``classification_speed.py``), plus 64 dev pairs, tokenized with the tiny model's sentencepiece.
Each round times, one after the other on 2 threads: (raw) ``SentencePieceProcessor.encode`` of
all premises and hypotheses as one list with ``num_threads=2``, ids only; (prepare) the
in-process ``prepare_task("xnli", ..., workers=2)``: read, check, encode, binarize and write the
folder; (cli) the ``stilts-prepare xnli`` command, start-up and imports included. The ratios are
raw / prepare and raw / cli (1.0: as fast as sentencepiece alone) over ``--rounds`` rounds
(median, min, max); the same at half the pairs shows whether the cost is linear in size.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from classification_speed import make_raw, work_folder  # noqa: E402  (shared with it)

THREADS = 2


def texts_of(raw: Path) -> list[str]:
    texts = []
    for name in ("train-en.tsv", "dev-en.tsv"):
        with (raw / name).open(encoding="utf-8", newline="") as rows:
            for row in csv.reader(rows, delimiter="\t", quoting=csv.QUOTE_NONE):
                texts.extend(row[:2])
    return texts


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def measure(raw: Path, model_dir: Path, out: Path, rounds: int) -> dict[str, list[float]]:
    from fairseq_stilts.data.prepare.encoder import load_sentencepiece
    from fairseq_stilts.data.prepare.folder import prepare_task

    processor = load_sentencepiece(model_dir / "sentencepiece.bpe.model")
    texts = texts_of(raw)
    command = [str(Path(sys.executable).with_name("stilts-prepare")), "xnli", str(raw)]
    command += ["--model", str(model_dir), "--out", str(out), "--workers", str(THREADS)]
    seconds: dict[str, list[float]] = {"raw": [], "prepare": [], "cli": []}
    for _ in range(rounds):
        seconds["raw"].append(timed(lambda: processor.encode(texts, num_threads=THREADS)))
        seconds["prepare"].append(
            timed(
                lambda: prepare_task(
                    "xnli", out, model_dir, raw=raw, workers=THREADS, force=True, quiet=True
                )
            )
        )
        shutil.rmtree(out)
        seconds["cli"].append(
            timed(lambda: subprocess.run([*command, "--quiet"], check=True, capture_output=True))
        )
        shutil.rmtree(out)
    return seconds


def summary(values: list[float]) -> str:
    return f"median {statistics.median(values):.2f} (min {min(values):.2f}, max {max(values):.2f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=100_000, help="training pairs to generate")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the three timings")
    parser.add_argument("--model", type=Path, help="a tiny model folder (default: build one)")
    parser.add_argument("--workdir", type=Path, help="keep all files here (default: a temp dir)")
    args = parser.parse_args()
    from fairseq_stilts.cli.tiny_model import build_tiny_model

    with work_folder(args.workdir) as workdir:
        model_dir = args.model
        if model_dir is None:
            print(
                "building the tiny model (its dictionary and sentencepiece model) ...", flush=True
            )
            model_dir = build_tiny_model(workdir / "model", updates=10)
        for pairs in (args.pairs // 2, args.pairs):
            raw = workdir / f"raw-{pairs}"
            make_raw(raw, model_dir, pairs, seed=1)
            seconds = measure(raw, model_dir, workdir / "data", args.rounds)
            print(f"{pairs} pairs: seconds per run over {args.rounds} rounds", flush=True)
            for name, values in seconds.items():
                print(f"  {name:<8} {summary(values)}")
            for name in ("prepare", "cli"):
                ratios = [r / t for r, t in zip(seconds["raw"], seconds[name], strict=True)]
                print(f"  raw/{name:<4} {summary(ratios)}")


if __name__ == "__main__":
    main()
