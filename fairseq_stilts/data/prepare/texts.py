"""Preparation of labelled texts: classification and multiple choice.

Layout (the same that stock ``sentence_prediction`` reads): ``input0/``, ``input1/`` (one per
field of :attr:`~fairseq_stilts.registry.TaskSpec.field_names`; for multiple choice ``input0`` is
the context and ``input1..inputN`` the N choices) and ``label/`` (the class, or the gold choice's
index ``"0".."N-1"``), each with ``dict.txt`` and the binarized subsets; plus ``manifest.json``.
"""

from __future__ import annotations

import shutil

import numpy as np
from fairseq.data import Dictionary

from fairseq_stilts.data.prepare.encode import encode_all
from fairseq_stilts.data.prepare.encoder import PieceEncoder
from fairseq_stilts.data.prepare.examples import HFReader, parts_from_files, parts_from_hf
from fairseq_stilts.data.prepare.indexed import write_indexed
from fairseq_stilts.data.prepare.manifest import Manifest, build_manifest
from fairseq_stilts.data.prepare.request import PrepareRequest
from fairseq_stilts.data.prepare.subsets import distinct_parts, group_subsets
from fairseq_stilts.runtime import DICT_FILE
from fairseq_stilts.writes import folder_written_atomically


def prepare_texts(request: PrepareRequest, read_hf: HFReader) -> Manifest:
    """Read, check, encode and binarize a task of labelled texts into ``request.out``; local HF
    datasets are read with ``read_hf``."""
    spec = request.spec
    encoder = PieceEncoder(request.model_dir)  # checks the model folder before any data is read
    if request.raw is not None:
        parts = parts_from_files(
            spec, request.raw, request.wanted_languages, request.train, request.quiet
        )
    else:
        parts = parts_from_hf(spec, request.hf, read_hf)
    subsets = group_subsets(parts, request)
    with folder_written_atomically(request.out) as tmp:
        distinct = distinct_parts(subsets)  # encode a part in two subsets once
        encoded = encode_all(
            [t for p in distinct for t in p.examples], encoder, request.workers, request.quiet
        )
        width, first, columns_of = len(spec.field_names), 0, {}
        for p in distinct:  # a part's rows of field i: every width-th text from its i-th
            end = first + width * len(p.examples)
            columns_of[id(p)] = [encoded[first + i : end : width] for i in range(width)]
            first = end
        train_labels = [y for p in subsets["train"] for y in p.labels]
        label_dict = label_dictionary(
            spec.labels, np.bincount(train_labels, minlength=len(spec.labels))
        )
        for subset, members in subsets.items():
            for i in range(width):
                column = [ids for p in members for ids in columns_of[id(p)][i]]
                write_indexed(tmp / f"input{i}" / subset, column, len(encoder.dictionary))
            labels = np.array([label for p in members for label in p.labels], dtype=np.int64)
            eos = np.full_like(labels, label_dict.eos())
            write_indexed(
                tmp / "label" / subset,
                list(np.column_stack([label_dict.nspecial + labels, eos])),
                len(label_dict),
            )
        for i in range(len(spec.field_names)):
            shutil.copyfile(request.model_dir / DICT_FILE, tmp / f"input{i}" / DICT_FILE)
        label_dict.save(str(tmp / "label" / DICT_FILE))
        manifest = build_manifest(spec, subsets, request.model_dir)
        manifest.write(tmp)
    return manifest


def label_dictionary(labels: tuple[str, ...], counts: np.ndarray) -> Dictionary:
    """A fairseq dictionary of ``labels`` in order, with their training counts."""
    dictionary = Dictionary()
    for label, count in zip(labels, counts, strict=True):
        dictionary.add_symbol(label, n=int(count))
    return dictionary
