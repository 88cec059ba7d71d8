"""stilts-prepare for tagging: sentences of (word, tag) -> word pieces with aligned labels.

Layout: ``input0/<subset>`` holds word pieces + ``</s>``, ``label/<subset>`` one id per position
(the tag on a word's first piece, the label dictionary's pad elsewhere),
``sentence_ids.<subset>.npy`` the (sentence index, piece index) of every stored row: a sentence
longer than ``max_seq_length`` is split into pieces at word boundaries. An example of a
:class:`~fairseq_stilts.data.prepare.subsets.Part` is a sentence's words, its label the
sentence's tag indices.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from fairseq.data import Dictionary

from fairseq_stilts.data.prepare.encoder import PieceEncoder
from fairseq_stilts.data.prepare.examples import check_languages, source_files
from fairseq_stilts.data.prepare.hf_local import read_hf_tagged
from fairseq_stilts.data.prepare.indexed import write_indexed
from fairseq_stilts.data.prepare.manifest import Manifest, build_manifest
from fairseq_stilts.data.prepare.readers import get_reader
from fairseq_stilts.data.prepare.request import PrepareRequest
from fairseq_stilts.data.prepare.subsets import Part, group_subsets
from fairseq_stilts.data.prepare.texts import label_dictionary
from fairseq_stilts.errors import DataError, StiltsError
from fairseq_stilts.progress import progress
from fairseq_stilts.registry import TaskSpec
from fairseq_stilts.runtime import DICT_FILE
from fairseq_stilts.writes import folder_written_atomically


def prepare_tags(request: PrepareRequest) -> Manifest:
    """Read, check, split and binarize a tagging task into ``request.out``."""
    spec = request.spec
    encoder = PieceEncoder(request.model_dir)  # checks the model folder before any data is read
    if request.raw is None:
        parts, labels = tagging_parts_from_hf(spec, request.hf)
    else:
        parts, labels = tagging_parts_from_files(
            spec, request.raw, request.wanted_languages, request.quiet
        )
    subsets = group_subsets(parts, request)
    limit = spec.sequence_length(request.max_seq_length)
    with folder_written_atomically(request.out) as tmp:
        return write_tagging(spec, subsets, labels, encoder, limit, tmp, request.model_dir)


def tagging_parts_from_files(
    spec: TaskSpec, raw: Path, languages: set[str] | None, quiet: bool = False
) -> tuple[list[Part], tuple[str, ...]]:
    """Read a tagging task's files; return the parts and the label set.

    The label set is the spec's; a spec without one (CCG) takes the tags of the training file,
    in order of first appearance, and dev/test tags outside it are an error.
    """
    files = source_files(spec, raw, languages)
    # training files first: they define the label set of a spec without one
    files.sort(key=lambda item: item[0].split != "train")
    labels = list(spec.labels)
    parts = []
    for source, lang, path in progress(files, desc="reading", unit="files", quiet=quiet):
        reader = get_reader(source.reader)
        sentences = reader(path, source.columns, spec.field_names, source.header, lang=lang)
        derive = not spec.labels and source.split == "train"
        part = Part(source.split, lang, str(path))
        parts.append(check_tagged(sentences, part, labels, derive, bool(spec.labels)))
    return parts, tuple(labels)


def check_tagged(
    sentences, part: Part, labels: list[str], derive: bool = False, fixed: bool = True
) -> Part:
    """Fill ``part`` with sentences whose tags are in ``labels`` (extended when ``derive``)."""
    index = {label: i for i, label in enumerate(labels)}
    for sentence in sentences:
        if sentence.tags is None:  # a token-only test file: placeholder tags
            part.mark_unlabelled(sentence.path, sentence.line)
            part.examples.append(sentence.tokens)
            part.labels.append([0] * len(sentence.tokens))
            continue
        ids = []
        for tag, line in zip(sentence.tags, sentence.lines, strict=True):
            if tag not in index:
                if not derive:
                    shown = labels if len(labels) <= 40 else [*labels[:40], "..."]
                    where = "" if fixed else " (not in the training file's tags)"
                    raise DataError(
                        sentence.path, f"unknown tag {tag!r}{where}; expected one of {shown}", line
                    )
                index[tag] = len(labels)
                labels.append(tag)
            ids.append(index[tag])
        part.examples.append(sentence.tokens)
        part.labels.append(ids)
    return part


def tagging_parts_from_hf(
    spec: TaskSpec, datasets: dict[str, Path]
) -> tuple[list[Part], tuple[str, ...]]:
    """Read a tagging task's local HF datasets given per language; return the parts and the
    label set (as :func:`tagging_parts_from_files`: a spec without one takes the training tags)."""
    check_languages(spec, datasets, "--hf")
    found = [
        (split, lang, path, sentences)
        for lang, path in sorted(datasets.items())
        for split, sentences in read_hf_tagged(path).items()
        if split != "train" or lang == "en"  # zero-shot transfer trains on English only
    ]
    found.sort(key=lambda item: item[0] != "train")  # the training tags define a derived set
    labels = list(spec.labels)
    parts = []
    for split, lang, path, sentences in found:
        derive = not spec.labels and split == "train"
        part = Part(split, lang, f"{path}[{split}]")
        parts.append(check_tagged(sentences, part, labels, derive, bool(spec.labels)))
    return parts, tuple(labels)


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


def write_tagging(
    spec: TaskSpec,
    subsets: dict[str, list[Part]],
    labels: tuple[str, ...],
    encoder: PieceEncoder,
    max_seq_length: int,
    tmp: Path,
    model_dir: Path,
) -> Manifest:
    """Write every subset's rows, the dictionaries and the manifest into ``tmp``."""
    counts = np.zeros(len(labels), dtype=np.int64)
    for part in subsets["train"]:
        for tags in part.labels:
            counts += np.bincount(tags, minlength=len(labels))
    label_dict = label_dictionary(labels, counts)
    pieces_per_subset = {}
    for subset, members in subsets.items():
        rows, ids = [], []
        sentence = 0
        for part in members:
            for words, tags in zip(part.examples, part.labels, strict=True):
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
    manifest = build_manifest(
        spec,
        subsets,
        model_dir,
        rows=pieces_per_subset,
        labels=list(labels),
        max_seq_length=max_seq_length,
    )
    manifest.write(tmp)
    return manifest
