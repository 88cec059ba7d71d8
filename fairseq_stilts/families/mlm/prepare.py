"""Raw multilingual text -> the data folder of the ``mlm`` task (masked-LM co-training).

The raw folder holds one UTF-8 file per language, ``<lang>.txt``, one sentence per line; blank
lines are skipped (and counted). Every 50th sentence of a language (its 50th, 100th, ... non-blank
line) is held out for validation; a language of fewer than 50 sentences has no held-out ones.
The data folder holds ``dict.txt`` (the model's), ``train.<lang>`` and ``valid.<lang>`` (fairseq
indexed datasets of ``pieces </s>``, encoded with the model's sentencepiece) and
``manifest.json`` (languages, line counts, sha256 of every source and of the dictionary).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from fairseq_stilts.data.prepare.encode import encode_all
from fairseq_stilts.data.prepare.encoder import PieceEncoder
from fairseq_stilts.data.prepare.indexed import write_indexed
from fairseq_stilts.data.prepare.manifest import Manifest, SourceInfo, SubsetInfo
from fairseq_stilts.data.prepare.readers import read_lines
from fairseq_stilts.data.prepare.request import PrepareRequest
from fairseq_stilts.errors import DataError, StiltsError
from fairseq_stilts.runtime import DICT_FILE, SPM_FILE, file_sha256
from fairseq_stilts.writes import folder_written_atomically

VALID_EVERY = 50  # every 50th sentence of a language is held out for validation


def text_files(raw: Path, languages: list[str] | None) -> dict[str, Path]:
    """``{lang: RAW/<lang>.txt}`` for the requested languages (default: every file there)."""
    found = {path.stem: path for path in sorted(Path(raw).glob("*.txt"))}
    if not found:
        raise StiltsError(f"{raw}: no <lang>.txt files (one sentence per line) found")
    missing = sorted(set(languages or ()) - set(found))
    if missing:
        names = ", ".join(path.name for path in found.values())
        raise StiltsError(f"--languages: no text file for {missing} in {raw}; found: {names}")
    return {lang: found[lang] for lang in sorted(languages or found)}


def read_sentences(path: Path) -> tuple[list[str], int]:
    """The non-blank lines of ``path`` (stripped) and the number of blank ones."""
    lines = [text for _, text in read_lines(path)]
    sentences = [line.strip() for line in lines if line.strip()]
    if not sentences:
        raise DataError(path, "no text: the file is empty or holds only blank lines")
    return sentences, len(lines) - len(sentences)


def prepare_text(request: PrepareRequest) -> Manifest:
    """Encode ``RAW/<lang>.txt`` into the masked-LM data folder ``request.out``, atomically;
    return the manifest. Every file is read and checked before anything is written."""
    raw, model_dir, languages = request.raw, request.model_dir, request.languages
    encoder = PieceEncoder(model_dir)
    files = text_files(Path(raw), languages)
    texts = {lang: read_sentences(path) for lang, path in files.items()}
    with folder_written_atomically(request.out) as tmp:
        subsets, sources = {}, []
        for lang, (sentences, blank) in texts.items():
            encoded = encode_all([(s,) for s in sentences], encoder, request.workers, request.quiet)
            held_out = set(range(VALID_EVERY - 1, len(encoded), VALID_EVERY))
            split = {
                "train": [ids for i, ids in enumerate(encoded) if i not in held_out],
                "valid": [encoded[i] for i in sorted(held_out)],
            }
            for name, rows in split.items():
                if rows:
                    write_indexed(tmp / f"{name}.{lang}", rows, len(encoder.dictionary))
                    subsets[f"{name}.{lang}"] = SubsetInfo(count=len(rows))
            path = files[lang]
            sources.append(
                SourceInfo(
                    path=str(path),
                    split="train",
                    lang=lang,
                    count=len(sentences),
                    sha256=file_sha256(path),
                    skipped=blank,  # blank lines
                )
            )
        shutil.copyfile(Path(model_dir) / DICT_FILE, tmp / DICT_FILE)
        manifest = Manifest(
            task=request.spec.name,
            family=request.spec.family,
            languages={
                "train": sorted(files),
                "dev": sorted(lang for lang in files if f"valid.{lang}" in subsets),
                "test": [],
            },
            valid_every=VALID_EVERY,
            subsets=dict(sorted(subsets.items())),
            sources=sources,
            dictionary_sha256=file_sha256(Path(model_dir) / DICT_FILE),
            sentencepiece_sha256=file_sha256(Path(model_dir) / SPM_FILE),
        )
        manifest.write(tmp)
    return manifest
