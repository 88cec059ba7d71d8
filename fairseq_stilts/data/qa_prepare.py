"""stilts-prepare for span QA: SQuAD-format files -> windows, answer positions, decoding data.

Layout of the data folder (subsets as for every task: ``train``, with multilingual training data
also ``train.<lang>``, ``valid``, ``valid.<lang>``, ``test.<lang>``):

- ``input0/<subset>``: one row per window, ``<s> question </s> </s> context piece </s>``;
- ``windows.<subset>.npy``: per window (question index, doc_start, doc_len, context_offset,
  answer start position, answer end position), positions 0 (``<s>``) when the answer is not in
  the window or the question has none;
- for evaluation subsets, ``questions.<subset>.jsonl`` (id, language, context, gold answers) and
  ``offsets/<subset>``: per question, its context tokens' character starts then ends.

Only training examples use ``answer_start``: there an answer whose text is not at its offset in
the context is an error, or (``skip_mismatched_answers``) a question dropped and counted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fairseq_stilts.data.encoder import PieceEncoder
from fairseq_stilts.data.examples import ENGLISH, Part, source_files
from fairseq_stilts.data.indexed import write_indexed
from fairseq_stilts.data.qa_windows import answer_token_span, tokenize_with_offsets, windows
from fairseq_stilts.data.squad_json import Question, read_squad_json
from fairseq_stilts.data.train_languages import TrainLanguages
from fairseq_stilts.errors import StiltsError
from fairseq_stilts.registry import TaskSpec

ID_LANGUAGE = "from_id"  # Source.lang of multilingual files whose ids name the language (TyDiQA)
WINDOW_COLUMNS = (
    "question",
    "doc_start",
    "doc_len",
    "context_offset",
    "start_position",
    "end_position",
)
OFFSETS_DTYPE_BOUND = 2**32 - 2  # offsets are stored as uint32


@dataclass(frozen=True)
class QAOptions:
    """How stilts-prepare cuts contexts into windows and treats misplaced training answers."""

    doc_stride: int = 128
    max_query_length: int = 64
    skip_mismatched_answers: bool = False


def qa_parts(
    spec: TaskSpec,
    raw: Path,
    languages: set[str] | None,
    skip_mismatched_answers: bool,
    train: TrainLanguages = ENGLISH,
) -> list[Part]:
    """Questions of every file of the spec's layout (training files: those of ``train``),
    checked; a multilingual training file (TyDiQA's) gives its English questions only."""
    parts = []
    for source, lang, path in source_files(spec, raw, languages, train):
        by_lang: dict[str, list[Question]] = {}
        for question in read_squad_json(path):
            q_lang = question.id_language if lang == ID_LANGUAGE else lang
            by_lang.setdefault(q_lang, []).append(question)
        for q_lang, questions in sorted(by_lang.items()):
            if source.split == "train" and lang == ID_LANGUAGE and q_lang != "en":
                continue
            if source.split != "train" and languages is not None and q_lang not in languages:
                continue
            part = Part(source.split, q_lang, str(path))
            for question in questions:
                if source.split == "train" and not _answer_is_at_its_offset(
                    question, skip_mismatched_answers
                ):
                    part.skipped += 1
                else:
                    part.texts.append(question)
            if source.split != "train":
                _check_unique_ids(part.texts)
            parts.append(part)
    return parts


def _answer_is_at_its_offset(question: Question, skip: bool) -> bool:
    if not question.answers:
        return True
    text, start = question.answers[0], question.answer_starts[0]
    if not 0 <= start <= start + len(text) <= len(question.context):
        problem = (
            f"answer_start {start} with answer length {len(text)} lies outside the context "
            f"({len(question.context)} characters)"
        )
    elif question.context[start : start + len(text)] != text:
        found = question.context[start : start + len(text)]
        problem = f"answer text {text!r} is not at answer_start {start} (the context has {found!r})"
    else:
        return True
    if skip:
        return False
    raise question.error(f"{problem}; pass --skip-mismatched-answers to drop such questions")


def _check_unique_ids(questions: list[Question]) -> None:
    seen: set[str] = set()
    for question in questions:
        if question.id in seen:
            raise question.error("duplicate question id")
        seen.add(question.id)


def write_qa_subset(
    encoder: PieceEncoder,
    questions: list[Question],
    lang_of: list[str],
    out: Path,
    subset: str,
    max_length: int,
    stride: int,
    max_query_length: int,
) -> int:
    """Write one subset's windows (and decoding data unless it is for training); return the
    windows."""
    dictionary = encoder.dictionary
    contexts: dict[str, object] = {}
    rows, table, offsets, records = [], [], [], []
    for index, question in enumerate(questions):
        context = contexts.get(question.context)
        if context is None:
            context = contexts[question.context] = tokenize_with_offsets(encoder, question.context)
        question_ids = encoder.lookup[encoder.processor.encode(question.question)]
        span = None
        if question.answers:
            start = question.answer_starts[0]
            span = answer_token_span(context, start, start + len(question.answers[0]))
        for window in windows(
            question_ids,
            context.ids,
            dictionary.bos(),
            dictionary.eos(),
            max_length,
            stride,
            max_query_length,
        ):
            positions = window.answer_positions(*span) if span else (0, 0)
            rows.append(window.tokens)
            table.append(
                (index, window.doc_start, window.doc_len, window.context_offset, *positions)
            )
        if not is_training_subset(subset):
            offsets.append(np.concatenate([context.starts, context.ends]))
            records.append(
                {
                    "id": question.id,
                    "lang": lang_of[index],
                    "context": question.context,
                    "answers": list(question.answers),
                }
            )
    write_indexed(out / "input0" / subset, rows, len(dictionary))
    np.save(out / f"windows.{subset}.npy", np.array(table, dtype=np.int64).reshape(-1, 6))
    if not is_training_subset(subset):
        write_indexed(out / "offsets" / subset, offsets, OFFSETS_DTYPE_BOUND)
        lines = (json.dumps(r, ensure_ascii=False) for r in records)
        (out / f"questions.{subset}.jsonl").write_text("".join(f"{line}\n" for line in lines))
    return len(rows)


def is_training_subset(subset: str) -> bool:
    """``train`` and the per-language ``train.<lang>``: no decoding data."""
    return subset == "train" or subset.startswith("train.")


def check_window_options(max_length: int, stride: int, max_query_length: int) -> None:
    if max_length < max_query_length + 5:
        raise StiltsError(
            f"--max-seq-length {max_length} leaves no room for the context after a question of "
            f"up to --max-query-length {max_query_length} tokens"
        )
    if stride < 1:
        raise StiltsError(f"--doc-stride must be positive, got {stride}")
