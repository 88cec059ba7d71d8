"""Build a fairseq data folder for one task, atomically.

Layout (the same that stock ``sentence_prediction`` reads): ``input0/``, ``input1/`` (one per
input field; for multiple choice ``input0`` is the context and ``input1..inputN`` the N choices)
and ``label/`` (the class, or the gold choice's index ``"0".."N-1"``), each with ``dict.txt`` and the binarized subsets ``train``, ``valid``
(English dev), ``valid.<lang>`` and ``test.<lang>``; plus ``manifest.json``. Training data in
other languages than English alone (``train``, see :class:`TrainLanguages`) also gives one
``train.<lang>`` per language, ``train`` being their concatenation.
"""

from __future__ import annotations

import json
import shutil
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from fairseq.data import Dictionary

from fairseq_stilts import __version__
from fairseq_stilts.data.encoder import DICT_FILE, SPM_FILE, PieceEncoder, file_sha256
from fairseq_stilts.data.examples import (
    ENGLISH,
    Part,
    check_languages,
    parts_from_files,
    parts_from_hf,
    tagging_parts_from_files,
    tagging_parts_from_hf,
)
from fairseq_stilts.data.indexed import write_indexed
from fairseq_stilts.data.qa_prepare import (
    QAOptions,
    check_window_options,
    qa_parts,
    write_qa_subset,
)
from fairseq_stilts.data.train_languages import TrainLanguages
from fairseq_stilts.errors import StiltsError
from fairseq_stilts.registry import get_spec
from fairseq_stilts.writes import folder_written_atomically

MANIFEST = "manifest.json"


def read_manifest(data: str | Path, task: str) -> dict:
    """The manifest of a data folder made by :func:`prepare_task` for ``task``."""
    path = Path(data) / MANIFEST
    if not path.is_file():
        raise StiltsError(f"{path}: not found; make the data folder with stilts-prepare {task}")
    manifest = json.loads(path.read_text())
    if manifest.get("task") != task:
        raise StiltsError(
            f"{path}: data was prepared for task {manifest.get('task')!r}, not {task!r}"
        )
    return manifest


def prepare_task(
    task: str,
    out: Path,
    model_dir: Path,
    raw: Path | None = None,
    hf: dict[str, Path] | None = None,
    languages: list[str] | None = None,
    workers: int = 2,
    force: bool = False,
    max_seq_length: int = 0,
    qa: QAOptions | None = None,
    train: TrainLanguages = ENGLISH,
) -> dict:
    """Read, check, encode and binarize a task's data into ``out``; return the manifest.

    ``train`` chooses the training languages and files (default: the spec's English ones).

    ``max_seq_length`` (tagging and span QA; default the spec's) is the longest input the model
    sees, ``<s>`` and ``</s>`` included: longer sentences are split into pieces at word
    boundaries, long contexts into overlapping windows (``qa``: stride, question length).
    """
    spec = get_spec(task)
    spec.require_trainable()
    out = Path(out)
    if out.exists() and not force:
        raise StiltsError(f"{out} already exists (pass --force to replace it)")
    if (raw is None) == (not hf):
        raise StiltsError("give exactly one of a raw data folder or --hf LANG=PATH datasets")
    if spec.family == "mlm":  # raw multilingual text: fairseq_stilts/data/mlm_prepare.py
        from fairseq_stilts.data.mlm_prepare import prepare_mlm  # it imports this module

        return prepare_mlm(raw, out, model_dir, languages, workers)
    if languages:
        check_languages(spec, languages, "--languages")
    if train != ENGLISH and (raw is None or spec.family == "tagging"):
        raise StiltsError(
            f"task {task!r}: --train-languages, --train-file and --no-english-train need a raw "
            "data folder of a classification, multiple-choice or span-QA task"
        )
    encoder = PieceEncoder(model_dir)  # checks the model folder before any data is read
    wanted = set(languages) | {"en"} if languages else None
    labels = spec.labels
    if spec.family == "span_qa":
        if raw is None:
            raise StiltsError(f"task {task!r}: --hf datasets are not supported for span QA yet")
        qa = qa or QAOptions()
        parts = qa_parts(spec, Path(raw), wanted, qa.skip_mismatched_answers, train)
    elif spec.family == "tagging" and raw is None:
        parts, labels = tagging_parts_from_hf(spec, hf)
    elif spec.family == "tagging":
        parts, labels = tagging_parts_from_files(spec, Path(raw), wanted)
    elif raw is not None:
        parts = parts_from_files(spec, Path(raw), wanted, train)
    else:
        parts = parts_from_hf(spec, hf)
    if languages:
        found = {p.lang for p in parts if p.split != "train"}
        absent = sorted(set(languages) - found)
        if absent:
            raise StiltsError(
                f"--languages: no dev or test data for {absent} (found: {sorted(found)})"
            )
    subsets = _subsets(parts, task)

    with folder_written_atomically(out) as tmp:
        if spec.family == "span_qa":
            manifest = _write_span_qa(
                spec, subsets, encoder, max_seq_length or spec.max_length, qa, tmp, Path(model_dir)
            )
            return manifest
        if spec.family == "tagging":
            limit = max_seq_length or spec.max_length
            manifest = _write_tagging(spec, subsets, labels, encoder, limit, tmp, Path(model_dir))
            return manifest
        # a part can be in two subsets (train and train.<lang>): encode it once
        distinct = list({id(p): p for members in subsets.values() for p in members}.values())
        encoded = iter(_encode_all([t for p in distinct for t in p.texts], encoder, workers))
        rows_of = {id(p): [[next(encoded) for _ in t] for t in p.texts] for p in distinct}
        label_dict = _label_dictionary(spec.labels, subsets["train"])
        for subset, members in subsets.items():
            rows = [row for p in members for row in rows_of[id(p)]]
            labels = [label for p in members for label in p.labels]
            for i in range(len(spec.field_names)):
                write_indexed(
                    tmp / f"input{i}" / subset, [row[i] for row in rows], len(encoder.dictionary)
                )
            write_indexed(
                tmp / "label" / subset,
                [np.array([label_dict.nspecial + y, label_dict.eos()]) for y in labels],
                len(label_dict),
            )
        for i in range(len(spec.field_names)):
            shutil.copyfile(Path(model_dir) / DICT_FILE, tmp / f"input{i}" / DICT_FILE)
        label_dict.save(str(tmp / "label" / DICT_FILE))
        manifest = _manifest(spec, subsets, Path(model_dir))
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return manifest


def _subsets(parts: list[Part], task: str) -> dict[str, list[Part]]:
    """Group parts into fairseq subsets: train (train.<lang> too unless it is English only),
    valid (English dev), valid.<lang>, test.<lang>, and valid.all (every dev language's
    examples together) where there is dev data in several languages."""
    subsets: dict[str, list[Part]] = {"train": [p for p in parts if p.split == "train"]}
    train_languages = _train_languages(subsets["train"])
    if list(train_languages) != ["en"]:
        for lang, count in train_languages.items():
            subsets[f"train.{lang}"] = [p for p in subsets["train"] if p.lang == lang]
            if not count:
                origins = ", ".join(p.origin for p in subsets[f"train.{lang}"])
                raise StiltsError(
                    f"task {task!r}: no training examples in language {lang} ({origins})"
                )
    subsets["valid"] = [p for p in parts if p.split == "dev" and p.lang == "en"]
    for split, prefix in (("dev", "valid"), ("test", "test")):
        for lang in sorted({p.lang for p in parts if p.split == split}):
            subsets[f"{prefix}.{lang}"] = [p for p in parts if p.split == split and p.lang == lang]
    if len({p.lang for p in parts if p.split == "dev"}) > 1:  # to select on every dev language
        subsets["valid.all"] = [p for p in parts if p.split == "dev"]
    for name in ("train", "valid"):
        if not any(p.texts for p in subsets[name]):
            what = "training" if name == "train" else "English dev"
            raise StiltsError(
                f"task {task!r}: no {what} examples found (subset {name!r} would be empty)"
            )
    return subsets


def _train_languages(train: list[Part]) -> dict[str, int]:
    """Training examples per language, in the order of the ``train`` subset (whose languages
    follow each other: see :func:`~fairseq_stilts.data.examples.source_files`)."""
    counts: dict[str, int] = {}
    for part in train:
        counts[part.lang] = counts.get(part.lang, 0) + len(part.texts)
    return counts


def _encode_all(
    texts: list[tuple[str, ...]], encoder: PieceEncoder, workers: int
) -> list[np.ndarray]:
    flat = [text for row in texts for text in row]
    if workers <= 1 or len(flat) < 1000:
        return [encoder.encode(t) for t in flat]
    with Pool(workers, initializer=_init_worker, initargs=(encoder.model_dir,)) as pool:
        return pool.map(_encode, flat, chunksize=256)


_worker_encoder: PieceEncoder | None = None


def _init_worker(model_dir: Path) -> None:
    global _worker_encoder
    _worker_encoder = PieceEncoder(model_dir)


def _encode(text: str) -> np.ndarray:
    return _worker_encoder.encode(text)


def _label_dictionary(labels: tuple[str, ...], train: list[Part]) -> Dictionary:
    counts = np.bincount([y for p in train for y in p.labels], minlength=len(labels))
    dictionary = Dictionary()
    for label, count in zip(labels, counts, strict=True):
        dictionary.add_symbol(label, n=int(count))
    return dictionary


def _manifest(spec, subsets: dict[str, list[Part]], model_dir: Path) -> dict:
    return {
        "task": spec.name,
        "family": spec.family,
        "input_fields": list(spec.field_names),
        "labels": list(spec.labels),
        "languages": {
            split: sorted({p.lang for ps in subsets.values() for p in ps if p.split == split})
            for split in ("train", "dev", "test")
        },
        "train_languages": _train_languages(subsets["train"]),
        "subsets": {
            name: {"count": sum(len(p.texts) for p in ps), "skipped": sum(p.skipped for p in ps)}
            for name, ps in subsets.items()
        },
        "sources": sorted(
            {
                p.origin: {
                    "path": p.origin,
                    "split": p.split,
                    "lang": p.lang,
                    "count": len(p.texts),
                    "sha256": file_sha256(p.origin) if Path(p.origin).is_file() else None,
                }
                for ps in subsets.values()
                for p in ps
            }.values(),
            key=lambda s: s["path"],
        ),
        "dictionary_sha256": file_sha256(model_dir / DICT_FILE),
        "sentencepiece_sha256": file_sha256(model_dir / SPM_FILE),
        "created_by": f"fairseq-stilts {__version__}",
    }


# Tagging: ``input0`` holds word pieces + ``</s>``, ``label`` one id per position (the tag on a
# word's first piece, the label dictionary's pad elsewhere), ``sentence_ids.<subset>.npy`` the
# (sentence index, piece index) of every stored row.


def encode_words(encoder: PieceEncoder, words: tuple[str, ...]) -> list[np.ndarray]:
    """Dictionary ids of each word's sentencepiece pieces (an empty encoding becomes ``<unk>``).

    sentencepiece splits at spaces and gives every word a leading ``▁`` piece marker, so this
    equals encoding the space-joined sentence (checked on the tiny data by a test).
    """
    out = []
    for word in words:
        ids = encoder.lookup[encoder.processor.encode(word)]
        out.append(ids if len(ids) else np.array([encoder.dictionary.unk()], dtype=np.int64))
    return out


def split_words(pieces: list[np.ndarray], budget: int) -> list[tuple[int, int]]:
    """Word ranges ``[start, end)`` whose pieces fit in ``budget`` tokens, greedily, never splitting
    a word. A single word longer than the budget keeps its first ``budget`` pieces (only the first
    carries the label)."""
    ranges, start, used = [], 0, 0
    for i, ids in enumerate(pieces):
        size = min(len(ids), budget)
        if used + size > budget and i > start:
            ranges.append((start, i))
            start, used = i, 0
        used += size
    ranges.append((start, len(pieces)))
    return ranges


def tagging_rows(
    encoder: PieceEncoder,
    words: tuple[str, ...],
    tags: list[int],
    label_dict: Dictionary,
    max_seq_length: int,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(token ids + ``</s>``, aligned label ids) of each piece of one sentence."""
    budget = max_seq_length - 2  # <s> and </s>
    if budget < 1:
        raise StiltsError(f"--max-seq-length {max_seq_length} is too small for tagging")
    pieces = encode_words(encoder, words)
    rows = []
    for start, end in split_words(pieces, budget):
        ids, labels = [], []
        for word, tag in zip(pieces[start:end], tags[start:end], strict=True):
            word = word[:budget]
            ids.extend(word)
            labels.extend([label_dict.nspecial + tag] + [label_dict.pad()] * (len(word) - 1))
        ids.append(encoder.dictionary.eos())
        labels.append(label_dict.pad())
        rows.append((np.array(ids, dtype=np.int64), np.array(labels, dtype=np.int64)))
    return rows


def _write_tagging(spec, subsets, labels, encoder, max_seq_length, tmp: Path, model_dir) -> dict:
    counts = np.zeros(len(labels), dtype=np.int64)
    for part in subsets["train"]:
        for tags in part.labels:
            counts += np.bincount(tags, minlength=len(labels))
    label_dict = Dictionary()
    for label, count in zip(labels, counts, strict=True):
        label_dict.add_symbol(label, n=int(count))
    pieces_per_subset = {}
    for subset, members in subsets.items():
        rows, ids = [], []
        sentence = 0
        for part in members:
            for words, tags in zip(part.texts, part.labels, strict=True):
                pieces = tagging_rows(encoder, words, tags, label_dict, max_seq_length)
                rows += pieces
                ids += [(sentence, k) for k in range(len(pieces))]
                sentence += 1
        write_indexed(tmp / "input0" / subset, [r[0] for r in rows], len(encoder.dictionary))
        write_indexed(tmp / "label" / subset, [r[1] for r in rows], len(label_dict))
        np.save(tmp / f"sentence_ids.{subset}.npy", np.array(ids, dtype=np.int64).reshape(-1, 2))
        pieces_per_subset[subset] = len(rows)
    shutil.copyfile(model_dir / DICT_FILE, tmp / "input0" / DICT_FILE)
    label_dict.save(str(tmp / "label" / DICT_FILE))
    manifest = _manifest(spec, subsets, model_dir)
    manifest["labels"] = list(labels)
    manifest["max_seq_length"] = max_seq_length
    for subset, count in pieces_per_subset.items():
        manifest["subsets"][subset]["pieces"] = count
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return manifest


def _write_span_qa(spec, subsets, encoder, max_length: int, qa, tmp: Path, model_dir) -> dict:
    check_window_options(max_length, qa.doc_stride, qa.max_query_length)
    windows = {}
    for subset, members in subsets.items():
        questions = [q for p in members for q in p.texts]
        langs = [p.lang for p in members for _ in p.texts]
        windows[subset] = write_qa_subset(
            encoder, questions, langs, tmp, subset, max_length, qa.doc_stride, qa.max_query_length
        )
    shutil.copyfile(model_dir / DICT_FILE, tmp / "input0" / DICT_FILE)
    manifest = _manifest(spec, subsets, model_dir)
    manifest.update(
        input_fields=["window"],  # question and context piece in one row
        max_seq_length=max_length,
        doc_stride=qa.doc_stride,
        max_query_length=qa.max_query_length,
        no_answer=any(not q.answers for p in subsets["train"] for q in p.texts),
    )
    for subset, count in windows.items():
        manifest["subsets"][subset]["windows"] = count
    (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return manifest
