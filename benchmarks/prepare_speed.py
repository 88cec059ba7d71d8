"""Speed of ``stilts-prepare`` against sentencepiece's own batch encoding of the same texts.

Three preparers, each on generated data made from the tiny world's words and tokenized with the
tiny model's sentencepiece:
- ``xnli`` (sentence pairs): ``--pairs`` (default 100,000) XNLI-format training pairs with
  log-normal tokenized lengths (median 36 tokens a pair; the generator of
  ``classification_speed.py``), plus 64 dev pairs; also at half the pairs, to show whether the
  cost is linear in size;
- ``mlm`` (masked-LM text): the same pairs' premises as ``en.txt`` and their hypotheses as
  ``de.txt``, one sentence per line;
- ``squad`` (span QA): ``--questions`` (default 20,000) SQuAD v1.1 questions, 5 to a context of
  120-400 words (the generator of ``qa_speed.py``), plus 200 dev questions; windows of 384
  tokens with stride 128.

Each round times, one after the other on 2 threads: (raw) ``SentencePieceProcessor.encode`` of
all the texts the preparer encodes (premises and hypotheses; sentences; distinct contexts and
questions) as one list with ``num_threads=2``, ids only; (prepare) the in-process
``prepare_task(task, ..., workers=2)``: read, check, encode, binarize and write the folder;
(cli, for xnli) the ``stilts-prepare xnli`` command, start-up and imports included. The ratios
are raw / prepare and raw / cli (1.0: as fast as sentencepiece alone) over ``--rounds`` rounds
(median, min, max).
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from classification_speed import cpu_clock, make_raw, others_share, work_folder  # noqa: E402
from qa_speed import squad_document, word_list  # noqa: E402
from record import Aim, Table, save, spread  # noqa: E402

ABOUT = (
    "`benchmarks/prepare_speed.py`: `stilts-prepare` of generated data with 2 workers (xnli "
    "pairs of median 36 tokens, the same texts as masked-LM sentences, SQuAD questions on "
    "contexts of 120-400 words) against sentencepiece's own batch encoding of the same texts on "
    "2 threads (raw), in the same rounds: raw / prepare is the in-process `prepare_task` (read, "
    "check, encode, binarize, write), raw / cli the command with its start-up and imports; 1.0 "
    "would be as fast as sentencepiece alone. Half the pairs shows whether the cost is linear."
)
THREADS = 2


def pair_texts(raw: Path) -> list[str]:
    """The premises and hypotheses of an XNLI-format raw folder, in order."""
    texts = []
    for name in ("train-en.tsv", "dev-en.tsv"):
        with (raw / name).open(encoding="utf-8", newline="") as rows:
            for row in csv.reader(rows, delimiter="\t", quoting=csv.QUOTE_NONE):
                texts.extend(row[:2])
    return texts


def make_mlm(raw: Path, pairs: Path) -> list[str]:
    """``en.txt``: the pairs' premises, ``de.txt``: their hypotheses; return all sentences."""
    texts = pair_texts(pairs)
    raw.mkdir(parents=True, exist_ok=True)
    (raw / "en.txt").write_text("\n".join(texts[0::2]) + "\n", encoding="utf-8")
    (raw / "de.txt").write_text("\n".join(texts[1::2]) + "\n", encoding="utf-8")
    return texts


def make_squad(raw: Path, questions: int) -> list[str]:
    """train-v1.1.json and dev-v1.1.json; return the distinct contexts and all questions."""
    raw.mkdir(parents=True, exist_ok=True)
    words, texts = word_list(), []
    for name, count, seed in (("train-v1.1.json", questions, 1), ("dev-v1.1.json", 200, 2)):
        document = squad_document(words, count, 5, seed)
        (raw / name).write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
        for paragraph in document["data"][0]["paragraphs"]:
            texts += [paragraph["context"], *(q["question"] for q in paragraph["qas"])]
    return texts


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def measure(
    task: str, raw: Path, texts: list[str], model_dir: Path, out: Path, rounds: int, cli: bool
) -> dict[str, list[float]]:
    """Seconds of each step in each round: raw, prepare and (with ``cli``) the command."""
    from fairseq_stilts.data.prepare.encoder import load_sentencepiece
    from fairseq_stilts.data.prepare.folder import prepare_task

    processor = load_sentencepiece(model_dir / "sentencepiece.bpe.model")
    command = [str(Path(sys.executable).with_name("stilts-prepare")), task, str(raw)]
    command += ["--model", str(model_dir), "--out", str(out), "--workers", str(THREADS)]
    seconds: dict[str, list[float]] = {"raw": [], "prepare": [], **({"cli": []} if cli else {})}
    for _ in range(rounds):
        seconds["raw"].append(timed(lambda: processor.encode(texts, num_threads=THREADS)))
        seconds["prepare"].append(
            timed(
                lambda: prepare_task(
                    task, out, model_dir, raw=raw, workers=THREADS, force=True, quiet=True
                )
            )
        )
        shutil.rmtree(out)
        if cli:
            seconds["cli"].append(
                timed(
                    lambda: subprocess.run([*command, "--quiet"], check=True, capture_output=True)
                )
            )
            shutil.rmtree(out)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=100_000, help="training pairs to generate")
    parser.add_argument("--questions", type=int, default=20_000, help="SQuAD questions to generate")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the three timings")
    parser.add_argument("--model", type=Path, help="a tiny model folder (default: build one)")
    parser.add_argument("--workdir", type=Path, help="keep all files here (default: a temp dir)")
    parser.add_argument("--results", type=Path, help="also record the run in this JSON file")
    args = parser.parse_args()
    from fairseq_stilts.cli.tiny_model import build_tiny_model

    table = Table(
        "Seconds per run and ratios, median (min, max)",
        ["task", "examples", "raw s", "prepare s", "cli s", "raw / prepare", "raw / cli"],
    )
    aims = []
    start = cpu_clock()
    with work_folder(args.workdir) as workdir:
        model_dir = args.model
        if model_dir is None:
            print(
                "building the tiny model (its dictionary and sentencepiece model) ...", flush=True
            )
            model_dir = build_tiny_model(workdir / "model", updates=10)
        runs = []
        for pairs in (args.pairs // 2, args.pairs):
            make_raw(workdir / f"xnli-{pairs}", model_dir, pairs, seed=1)
            texts = pair_texts(workdir / f"xnli-{pairs}")
            runs.append(("xnli", workdir / f"xnli-{pairs}", texts, f"{pairs:,} pairs"))
        texts = make_mlm(workdir / "mlm", workdir / f"xnli-{args.pairs}")
        runs.append(("mlm", workdir / "mlm", texts, f"{len(texts):,} sentences"))
        texts = make_squad(workdir / "squad", args.questions)
        runs.append(("squad", workdir / "squad", texts, f"{args.questions:,} questions"))
        for task, raw, texts, size in runs:
            print(f"timing {task}, {size}, over {args.rounds} rounds ...", flush=True)
            cli = task == "xnli"
            seconds = measure(task, raw, texts, model_dir, workdir / "data", args.rounds, cli)
            ratios = {
                name: [r / t for r, t in zip(seconds["raw"], seconds[name], strict=True)]
                for name in seconds
                if name != "raw"
            }
            table.add(
                task,
                size,
                *(
                    spread(seconds[name]) if name in seconds else ""
                    for name in ("raw", "prepare", "cli")
                ),
                *(spread(ratios[name]) if name in ratios else "" for name in ("prepare", "cli")),
            )
            aim = Aim(
                f"{task}, {size}: median raw / prepare", statistics.median(ratios["prepare"]), 0.5
            )
            aims = [a for a in aims if not a.name.startswith(f"{task},")] + [aim]
    save(
        args.results,
        "prepare_speed",
        "Data preparation",
        ABOUT,
        [table],
        aims,
        others=others_share(start),
    )


if __name__ == "__main__":
    main()
