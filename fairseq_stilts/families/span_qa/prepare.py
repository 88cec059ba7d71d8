"""stilts-prepare for span QA: SQuAD-format files -> windows, answer positions, decoding data.

Layout of the data folder (subsets as for every task: ``train``, with multilingual training data
also ``train.<lang>``, ``valid``, ``valid.<lang>``, ``test.<lang>``):

- ``input0/<subset>``: one row per window, ``<s> question </s> </s> context piece </s>``;
- ``windows.<subset>.npy``: a structured array of
  :data:`~fairseq_stilts.families.span_qa.windows.WINDOW_FIELDS`, one record per window
  (answer positions 0, ``<s>``, when the answer is not in the window or the question has none);
- for evaluation subsets, ``questions.<subset>.jsonl`` (id, language, context, gold answers) and
  ``offsets/<subset>``: per question, its context tokens' character starts then ends.

Only training examples use ``answer_start``: there an answer whose text is not at its offset in
the context is an error, or (``skip_mismatched_answers``) a question dropped and counted.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from fairseq_stilts.data.prepare.encoder import PieceEncoder
from fairseq_stilts.data.prepare.examples import source_files
from fairseq_stilts.data.prepare.indexed import write_indexed
from fairseq_stilts.data.prepare.manifest import Manifest, build_manifest
from fairseq_stilts.data.prepare.request import ENGLISH, PrepareRequest, QAOptions
from fairseq_stilts.data.prepare.subsets import Part, group_subsets
from fairseq_stilts.data.prepare.train_languages import TrainLanguages
from fairseq_stilts.errors import StiltsError
from fairseq_stilts.families.span_qa.squad_json import Question, read_squad_json
from fairseq_stilts.families.span_qa.windows import (
    WINDOW_FIELDS,
    answer_token_span,
    tokenize_with_offsets,
    windows,
)
from fairseq_stilts.progress import progress
from fairseq_stilts.registry import TaskSpec
from fairseq_stilts.runtime import DICT_FILE
from fairseq_stilts.writes import folder_written_atomically

ID_LANGUAGE = "from_id"  # Source.lang of multilingual files whose ids name the language (TyDiQA)
OFFSETS_DTYPE_BOUND = 2**32 - 2  # offsets are stored as uint32


def prepare_questions(request: PrepareRequest) -> Manifest:
    """Read, check and cut a span-QA task's questions into windows in ``request.out``."""
    spec, qa = request.spec, request.qa
    encoder = PieceEncoder(request.model_dir)  # checks the model folder before any data is read
    parts = qa_parts(
        spec,
        request.raw,
        request.wanted_languages,
        qa.skip_mismatched_answers,
        request.train,
        request.quiet,
    )
    subsets = group_subsets(parts, request)
    with folder_written_atomically(request.out) as tmp:
        return write_span_qa(
            spec,
            subsets,
            encoder,
            spec.sequence_length(request.max_seq_length),
            qa,
            tmp,
            request.model_dir,
        )


def qa_parts(
    spec: TaskSpec,
    raw: Path,
    languages: set[str] | None,
    skip_mismatched_answers: bool,
    train: TrainLanguages = ENGLISH,
    quiet: bool = False,
) -> list[Part]:
    """Questions of every file of the spec's layout (training files: those of ``train``),
    checked; a multilingual training file (TyDiQA's) gives its English questions only."""
    parts = []
    stripped_dev = False
    files = source_files(spec, raw, languages, train)
    for source, lang, path in progress(files, desc="reading", unit="files", quiet=quiet):
        by_lang: dict[str, list[Question]] = {}
        for question in read_squad_json(path):
            q_lang = question.id_language if lang == ID_LANGUAGE else lang
            by_lang.setdefault(q_lang, []).append(question)
        for q_lang, questions in sorted(by_lang.items()):
            if source.split == "train" and lang == ID_LANGUAGE and q_lang != "en":
                continue
            if source.split != "train" and languages is not None and q_lang not in languages:
                continue
            if source.split == "dev" and _is_stripped_test(spec, source, questions):
                stripped_dev = True  # TyDiQA-GoldP: its dev file is its test file
                continue
            part = Part(source.split, q_lang, str(path))
            _check_gold(questions, part)
            for question in questions:
                if source.split == "train" and not _answer_is_at_its_offset(
                    question, skip_mismatched_answers
                ):
                    part.skipped += 1
                else:
                    part.examples.append(question)
            _check_unique_ids(part.examples)
            parts.append(part)
    if stripped_dev:
        parts.append(_held_out_dev(parts))
    return parts


HELD_OUT_EVERY = 10


def _held_out_dev(parts: list[Part]) -> Part:
    """English dev from every 10th English training question, for a task whose only dev file
    is its test file without gold (TyDiQA-GoldP as XTREME's download leaves it)."""
    train = next((p for p in parts if p.split == "train" and p.lang == "en"), None)
    if train is None:
        raise StiltsError("no English training questions to hold English dev out from")
    dev = Part("dev", "en", f"{train.origin} (every {HELD_OUT_EVERY}th question, held out)")
    dev.examples = train.examples[HELD_OUT_EVERY - 1 :: HELD_OUT_EVERY]
    del train.examples[HELD_OUT_EVERY - 1 :: HELD_OUT_EVERY]
    return dev


def _is_stripped_test(spec: TaskSpec, source, questions: list[Question]) -> bool:
    """A dev file that is also the spec's test file, without gold answers."""
    tests = {s.pattern for s in spec.sources if s.split == "test"}
    return source.pattern in tests and not any(q.gold for q in questions)


def _check_gold(questions: list[Question], part: Part) -> None:
    """A file gives gold answers for every question, or (a test file) for none."""
    without = [q for q in questions if not q.gold]
    if not without:
        return
    if len(without) < len(questions):
        raise without[0].error("no answers (and not marked is_impossible)")
    part.mark_unlabelled(without[0].path)


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
    np.save(out / f"windows.{subset}.npy", np.array(table, dtype=WINDOW_FIELDS))
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


def write_span_qa(
    spec: TaskSpec,
    subsets: dict[str, list[Part]],
    encoder: PieceEncoder,
    max_length: int,
    qa: QAOptions,
    tmp: Path,
    model_dir: Path,
) -> Manifest:
    """Write every subset's windows (and decoding data), the dictionary and the manifest."""
    check_window_options(max_length, qa.doc_stride, qa.max_query_length)
    windows = {}
    for subset, members in subsets.items():
        questions = [q for p in members for q in p.examples]
        langs = [p.lang for p in members for _ in p.examples]
        windows[subset] = write_qa_subset(
            encoder, questions, langs, tmp, subset, max_length, qa.doc_stride, qa.max_query_length
        )
    shutil.copyfile(model_dir / DICT_FILE, tmp / "input0" / DICT_FILE)
    manifest = build_manifest(
        spec,
        subsets,
        model_dir,
        rows=windows,
        input_fields=["window"],  # question and context piece in one row
        max_seq_length=max_length,
        doc_stride=qa.doc_stride,
        max_query_length=qa.max_query_length,
        no_answer=any(not q.answers for p in subsets["train"] for q in p.examples),
    )
    manifest.write(tmp)
    return manifest
