"""Throughput of span-QA window building and answer decoding on generated SQuAD-format data.

Data: ``--questions`` seeded questions, ``--per-context`` to a context (as in SQuAD, about 5),
written as a SQuAD v1.1 JSON file and read back with ``read_squad_json``. A context is 120-400
words drawn from the tiny world's masked-LM text (``fairseq_stilts/tiny/data/mlm``: English,
German, French and Spanish, so some characters take 2 UTF-8 bytes), in sentences of 6-14 words;
a question is 8-12 such words and a ``?``; an answer is 1-4 consecutive context words with its
true ``answer_start``. Tokens: the tiny model's unigram sentencepiece (400 pieces).

(1) Window building, as ``write_qa_subset`` does it short of writing files:
``tokenize_with_offsets`` once per distinct context, the question's ids, ``answer_token_span``
and ``windows(max_length=384, stride=128, max_query_length=64)`` with each window's
``answer_positions``. Baseline: sentencepiece's own ids with character offsets
(``EncodeAsOffsetMapping``) of the same distinct contexts and the ids of the questions; a second
row gives the raw ids only (``encoder.processor.encode(text)``) of both. A breakdown row times
``tokenize_with_offsets`` alone.

(2) Decoding: ``decode_answers(n_best=20, max_answer_length=30)`` for every question over all
its windows, in batches of whole questions of up to 32 windows (``stilts-eval``'s default
``--batch-size``) as the criterion decodes them, with seeded standard-normal float32 start/end
scores for every window position.
Baseline: a plain numpy argmax of the start and of the end scores over each window's context
tokens, the window with the best sum, and its text (the cheapest possible decode).

Each time is the best of ``--repeats`` passes over all questions; examples/s = questions / s;
ratio = library examples/s / baseline examples/s (1 / slowdown). cpu/wall: this process's CPU
time over wall time in that pass (all of it is single-threaded Python); well under 100% means
other processes held the core, so rerun on an idle machine. Checks outside the timing: every
answer's token span spells the answer exactly, and with scores peaked at the gold positions
decoding returns the gold answer.
"""

from __future__ import annotations

import argparse
import gc
import json
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from record import Aim, Table, save

if TYPE_CHECKING:
    from fairseq_stilts.data.prepare.encoder import PieceEncoder
    from fairseq_stilts.families.span_qa.decode import WindowScores
    from fairseq_stilts.families.span_qa.squad_json import Question
    from fairseq_stilts.families.span_qa.windows import TokenizedText, Window

MAX_LENGTH, STRIDE, MAX_QUERY = 384, 128, 64
N_BEST, MAX_ANSWER = 20, 30
EVAL_BATCH = 32  # windows per batch: stilts-eval's --batch-size
QUICK = {"questions": 300, "repeats": 2}


@dataclass
class Timing:
    """Best pass of one measured step."""

    name: str
    seconds: float
    cpu_share: float  # process CPU time / wall time of that pass


@dataclass(frozen=True)
class Built:
    """What window building gives for one question."""

    context: TokenizedText
    windows: list[Window]
    span: tuple[int, int]


def word_list() -> list[str]:
    """Distinct words of the tiny world's MLM text, punctuation stripped, sorted."""
    from fairseq_stilts.tiny import DATA_DIR

    text = " ".join(p.read_text(encoding="utf-8") for p in sorted((DATA_DIR / "mlm").glob("*.txt")))
    return sorted({w.strip(".,;:!?\"'") for w in text.split()} - {""})


def squad_document(words: list[str], questions: int, per_context: int, seed: int) -> dict:
    """A SQuAD v1.1 document of ``questions`` questions on seeded random contexts."""
    rng = np.random.default_rng(seed)

    def pick(n: int) -> list[str]:
        return [words[i] for i in rng.integers(len(words), size=n)]

    paragraphs = []
    for p in range(-(-questions // per_context)):
        tokens: list[str] = []
        total = int(rng.integers(120, 401))
        while len(tokens) < total:
            sentence = pick(min(int(rng.integers(6, 15)), total - len(tokens)))
            tokens += [*sentence[:-1], sentence[-1] + "."]
        offsets = np.cumsum([0] + [len(t) + 1 for t in tokens[:-1]])
        context = " ".join(tokens)
        qas = []
        for q in range(min(per_context, questions - p * per_context)):
            first = int(rng.integers(len(tokens)))
            last = min(len(tokens), first + int(rng.integers(1, 5)))
            answer = " ".join(tokens[first:last]).rstrip(".")
            question = " ".join(pick(int(rng.integers(8, 13)))) + "?"
            qas.append(
                {
                    "id": f"p{p}-q{q}",
                    "question": question,
                    "answers": [{"text": answer, "answer_start": int(offsets[first])}],
                }
            )
        paragraphs.append({"context": context, "qas": qas})
    return {"version": "1.1", "data": [{"title": "generated", "paragraphs": paragraphs}]}


def best_of(name: str, repeats: int, run: Callable[[], object]) -> tuple[Timing, object]:
    """Run ``run`` ``repeats`` times; keep the fastest pass and the last result."""
    best = Timing(name, float("inf"), float("nan"))
    result = None
    for _ in range(repeats):
        gc.collect()
        wall, cpu = time.perf_counter(), time.process_time()
        result = run()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if wall < best.seconds:
            best = Timing(name, wall, cpu / wall)
    return best, result


def build_all(encoder: PieceEncoder, questions: list[Question]) -> list[Built]:
    """Window building for every question, contexts tokenized once each."""
    from fairseq_stilts.families.span_qa.windows import (
        answer_token_span,
        tokenize_with_offsets,
        windows,
    )

    bos, eos = encoder.dictionary.bos(), encoder.dictionary.eos()
    contexts: dict[str, TokenizedText] = {}
    out = []
    for q in questions:
        context = contexts.get(q.context)
        if context is None:
            context = contexts[q.context] = tokenize_with_offsets(encoder, q.context)
        question_ids = encoder.lookup[encoder.processor.encode(q.question)]
        start = q.answer_starts[0]
        span = answer_token_span(context, start, start + len(q.answers[0]))
        parts = windows(question_ids, context.ids, bos, eos, MAX_LENGTH, STRIDE, MAX_QUERY)
        for window in parts:
            window.answer_positions(*span)
        out.append(Built(context, parts, span))
    return out


def tokenize_contexts(encoder: PieceEncoder, questions: list[Question]) -> None:
    """``tokenize_with_offsets`` on each distinct context only (breakdown row)."""
    from fairseq_stilts.families.span_qa.windows import tokenize_with_offsets

    for context in dict.fromkeys(q.context for q in questions):
        tokenize_with_offsets(encoder, context)


def raw_encode(encoder: PieceEncoder, questions: list[Question], offsets: bool = False) -> None:
    """Baseline of (1): sentencepiece ids of each distinct context (with ``offsets``, ids and
    character offsets) and of every question."""
    seen: set[str] = set()
    encode_context = (
        encoder.processor.EncodeAsOffsetMapping if offsets else encoder.processor.encode
    )
    for q in questions:
        if q.context not in seen:
            seen.add(q.context)
            encode_context(q.context)
        encoder.processor.encode(q.question)


def random_scores(built: list[Built], seed: int, oracle: bool = False) -> list[list[WindowScores]]:
    """Per question, a WindowScores per window: seeded float32 noise (+10 at the gold span)."""
    from fairseq_stilts.families.span_qa.decode import WindowScores

    rng = np.random.default_rng(seed)
    out = []
    for item in built:
        scores = []
        for w in item.windows:
            start, end = rng.standard_normal((2, len(w.tokens)), dtype=np.float32)
            first, last = w.answer_positions(*item.span)
            if oracle and first:
                start[first] += 10
                end[last] += 10
            scores.append(WindowScores(start, end, w.doc_start, w.doc_len, w.context_offset))
        out.append(scores)
    return out


def decode_all(
    questions: list[Question], built: list[Built], scores: list[list[WindowScores]]
) -> list[str]:
    """``decode_answers`` over batches of whole questions of at most ``EVAL_BATCH`` windows
    (more only for a question that has more), as the criterion decodes an evaluation batch."""
    from fairseq_stilts.families.span_qa.decode import QuestionScores, decode_answers

    batches, windows = [[]], 0
    for q, b, ws in zip(questions, built, scores, strict=True):
        if windows + len(ws) > EVAL_BATCH and batches[-1]:
            batches.append([])
            windows = 0
        batches[-1].append(QuestionScores(ws, q.context, b.context.starts, b.context.ends))
        windows += len(ws)
    return [a for batch in batches for a in decode_answers(batch, N_BEST, MAX_ANSWER)]


def argmax_all(
    questions: list[Question], built: list[Built], scores: list[list[WindowScores]]
) -> list[str]:
    """Baseline of (2): argmax start and end per window, best window by their sum, its text."""
    out = []
    for q, b, ws in zip(questions, built, scores, strict=True):
        best, span = -np.inf, (0, -1)
        for w in ws:
            lo, hi = w.context_offset, w.context_offset + w.doc_len
            s, e = int(np.argmax(w.start[lo:hi])), int(np.argmax(w.end[lo:hi]))
            if w.start[lo + s] + w.end[lo + e] > best:
                best, span = w.start[lo + s] + w.end[lo + e], (w.doc_start + s, w.doc_start + e)
        first, last = span
        out.append(
            q.context[b.context.starts[first] : b.context.ends[last]] if first <= last else ""
        )
    return out


ABOUT = (
    "`benchmarks/qa_speed.py`: span-QA data handling on generated SQuAD-format data: (1) window "
    "building (`tokenize_with_offsets`, answer spans, windows of 384 / stride 128) against "
    "sentencepiece's ids with character offsets of the same texts; (2) `decode_answers` (n-best "
    "20, answers up to 30 tokens, batches of up to 32 windows as in evaluation) against a numpy "
    "argmax per window. Each time is the best of its passes; ratio = library examples/s over "
    "baseline examples/s."
)


def report(n: int, rows: list[tuple[Timing, Timing | None]]) -> Table:
    """The table: seconds, examples/s, µs/example, cpu/wall, ratio to the baseline."""
    table = Table(
        f"{n:,} questions", ["step", "best s", "examples/s", "µs/example", "cpu/wall", "ratio"]
    )
    for timing, baseline in rows:
        table.add(
            timing.name.strip(),
            f"{timing.seconds:.3f}",
            f"{n / timing.seconds:,.0f}",
            f"{1e6 * timing.seconds / n:.1f}",
            f"{timing.cpu_share:.0%}",
            f"{baseline.seconds / timing.seconds:.3f}" if baseline else "",
        )
    if any(t.cpu_share < 0.9 for row in rows for t in row if t):
        print("warning: a pass got under 90% of a CPU (column cpu/wall): rerun on an idle machine")
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--questions", type=int, default=2000, help="questions to generate")
    parser.add_argument("--per-context", type=int, default=5, help="questions per context")
    parser.add_argument("--repeats", type=int, default=3, help="passes per step; the best counts")
    parser.add_argument("--model", type=Path, help="a tiny model folder (default: build one)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the data and the scores")
    parser.add_argument("--quick", action="store_true", help="300 questions, 2 repeats (< 20 s)")
    parser.add_argument("--keep", type=Path, help="also write the generated SQuAD JSON here")
    parser.add_argument("--results", type=Path, help="also record the run in this JSON file")
    args = parser.parse_args()
    if args.quick:
        for key, value in QUICK.items():
            setattr(args, key, value)
    if min(args.questions, args.per_context, args.repeats) < 1:
        parser.error("--questions, --per-context and --repeats must be >= 1")
    print("command:", shlex.join([Path(sys.executable).name, *sys.argv]))
    from fairseq_stilts.data.prepare.encoder import PieceEncoder
    from fairseq_stilts.families.span_qa.squad_json import read_squad_json

    workdir = Path(tempfile.mkdtemp(prefix="stilts-qa-bench-"))
    try:
        model_dir = args.model
        if model_dir is None:
            from fairseq_stilts.cli.tiny_model import build_tiny_model

            print("building the tiny model (its sentencepiece model and dictionary) ...")
            model_dir = build_tiny_model(workdir / "model", updates=10)
        encoder = PieceEncoder(model_dir)
        path = args.keep or workdir / "generated-squad.json"
        document = squad_document(word_list(), args.questions, args.per_context, args.seed)
        path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
        questions = list(read_squad_json(path))
        n = len(questions)

        build, built = best_of(
            "(1) window building (library)", args.repeats, lambda: build_all(encoder, questions)
        )
        tokenize, _ = best_of(
            "    of which tokenize_with_offsets",
            args.repeats,
            lambda: tokenize_contexts(encoder, questions),
        )
        encode, _ = best_of(
            "    baseline: sentencepiece ids with offsets",
            args.repeats,
            lambda: raw_encode(encoder, questions, offsets=True),
        )
        ids_only, _ = best_of(
            "    baseline: sentencepiece ids only",
            args.repeats,
            lambda: raw_encode(encoder, questions),
        )
        scores = random_scores(built, args.seed)
        decode, _ = best_of(
            "(2) decode_answers, n_best 20, max length 30",
            args.repeats,
            lambda: decode_all(questions, built, scores),
        )
        argmax, _ = best_of(
            "    baseline: numpy argmax per window",
            args.repeats,
            lambda: argmax_all(questions, built, scores),
        )

        spelled = sum(
            q.context[b.context.starts[b.span[0]] : b.context.ends[b.span[1]]] == q.answers[0]
            for q, b in zip(questions, built, strict=True)
        )
        oracle = decode_all(questions, built, random_scores(built, args.seed, oracle=True))
        exact = sum(a == q.answers[0] for a, q in zip(oracle, questions, strict=True))
        tokens = [len(b.context) for b in built[:: args.per_context]]
        per_q = [len(b.windows) for b in built]
        print(
            f"{n} questions on {len(tokens)} contexts: context tokens median "
            f"{np.median(tokens):.0f} (max {max(tokens)}), windows/question mean "
            f"{np.mean(per_q):.2f} (max {max(per_q)}); answer spans spelled exactly "
            f"{spelled}/{n}; oracle scores decoded exactly {exact}/{n}"
        )
        table = report(
            n,
            [
                (build, encode),
                (tokenize, encode),
                (encode, None),
                (ids_only, None),
                (decode, argmax),
                (argmax, None),
            ],
        )
        aims = [
            Aim("(1) window building / ids with offsets", encode.seconds / build.seconds, 0.5),
            Aim("(2) decoding / argmax", argmax.seconds / decode.seconds, 0.3),
        ]
        notes = [
            f"{len(tokens)} contexts of median {np.median(tokens):.0f} tokens, "
            f"{np.mean(per_q):.2f} windows per question; window building against ids only: "
            f"{ids_only.seconds / build.seconds:.3f}."
        ]
        save(args.results, "qa_speed", "Span-QA data handling", ABOUT, [table], aims, notes)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
