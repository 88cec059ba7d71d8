"""PieceEncoder gives what fairseq's Dictionary.encode_line gives on the sentencepiece pieces."""

from __future__ import annotations

import hashlib
import shutil

import numpy as np
import pytest
from fairseq.data import Dictionary

from fairseq_stilts.data.prepare.encoder import PieceEncoder, dictionary_fingerprint
from fairseq_stilts.errors import DataError
from fairseq_stilts.runtime import DICT_FILE, SPM_FILE, file_sha256

SENTENCES = [
    "Tom has 8 red books.",
    "Im Garten hat Tom 8 rote Stühle.",
    "¿Dónde están los libros de Ana?",
    "Le chat est là, à côté de l'école.",
    "  leading   and\ttrailing  whitespace  ",
    "Ein Smiley 😀 und 漢字 sind unbekannt.",
    "",
]
UNKNOWN_CHARS = ("😀", "漢")


@pytest.fixture(scope="module")
def encoder(tiny_model) -> PieceEncoder:
    return PieceEncoder(tiny_model)


def reference_ids(encoder: PieceEncoder, text: str) -> np.ndarray:
    pieces = encoder.processor.encode(text, out_type=str)
    line = " ".join(pieces)
    return encoder.dictionary.encode_line(line, append_eos=True, add_if_not_exist=False).numpy()


@pytest.mark.parametrize("text", SENTENCES)
def test_ids_equal_dictionary_encode_line(encoder, text):
    ids = encoder.encode(text)
    expected = reference_ids(encoder, text)
    assert ids.dtype == np.int64
    assert ids.tolist() == expected.tolist()


@pytest.mark.parametrize("text", SENTENCES)
def test_ids_end_with_eos_and_hold_no_other_specials(encoder, text):
    ids = encoder.encode(text)
    d = encoder.dictionary
    assert ids[-1] == d.eos()
    assert d.eos() not in ids[:-1]
    assert d.bos() not in ids
    assert d.pad() not in ids


def test_known_text_has_no_unk(encoder):
    ids = encoder.encode("Tom has 8 red books.")
    assert len(ids) > 2
    assert encoder.dictionary.unk() not in ids


def test_characters_outside_the_vocabulary_become_unk(encoder):
    d = encoder.dictionary
    for char in UNKNOWN_CHARS:
        assert d.index(char) == d.unk(), f"{char!r} is in the tiny vocabulary"
        ids = encoder.encode(f"Tom {char} Anna")
        assert d.unk() in ids
    ids = encoder.encode(SENTENCES[5])
    assert (ids == d.unk()).sum() >= 2
    assert ids.tolist() == reference_ids(encoder, SENTENCES[5]).tolist()


def test_xlmr_layout_maps_piece_id_to_dictionary_id_plus_one(encoder):
    # sentencepiece's <unk> <s> </s> are fairseq's own specials; every other piece is shifted by 1.
    size = encoder.processor.get_piece_size()
    assert len(encoder.lookup) == size
    assert len(encoder.dictionary) == size + 1
    assert encoder.lookup[encoder.processor.unk_id()] == encoder.dictionary.unk()
    assert encoder.lookup[3:].tolist() == list(range(4, size + 1))


@pytest.mark.parametrize("missing", [SPM_FILE, DICT_FILE])
def test_missing_model_file_names_it(tmp_path, tiny_model, missing):
    model = tmp_path / "model"
    model.mkdir()
    for name in (SPM_FILE, DICT_FILE):
        if name != missing:
            shutil.copyfile(tiny_model / name, model / name)
    with pytest.raises(DataError) as info:
        PieceEncoder(model)
    assert info.value.path == str(model / missing)
    assert str(info.value).startswith(f"{model / missing}: missing")


def _dictionary(symbols: list[str]) -> Dictionary:
    d = Dictionary()
    for symbol in symbols:
        d.add_symbol(symbol)
    return d


def test_dictionary_fingerprint_depends_on_symbols_and_order():
    base = ["▁the", "▁a", "s", "."]
    fp = dictionary_fingerprint(_dictionary(base))
    assert fp == dictionary_fingerprint(_dictionary(list(base)))
    assert 0 <= fp < 2**63
    assert dictionary_fingerprint(_dictionary(["▁the", "▁an", "s", "."])) != fp
    assert dictionary_fingerprint(_dictionary(["▁a", "▁the", "s", "."])) != fp
    assert dictionary_fingerprint(_dictionary([*base, "<mask>"])) != fp


def test_dictionary_fingerprint_ignores_counts(tmp_path, tiny_model):
    lines = (tiny_model / DICT_FILE).read_text(encoding="utf-8").splitlines()
    recounted = tmp_path / "recounted.txt"
    recounted.write_text(
        "\n".join(f"{line.split(' ')[0]} 1" for line in lines) + "\n", encoding="utf-8"
    )
    changed = tmp_path / "changed.txt"
    changed.write_text("\n".join(["▁zzzz 1", *lines[1:]]) + "\n", encoding="utf-8")

    original = dictionary_fingerprint(Dictionary.load(str(tiny_model / DICT_FILE)))
    assert dictionary_fingerprint(Dictionary.load(str(recounted))) == original
    assert dictionary_fingerprint(Dictionary.load(str(changed))) != original


def test_file_sha256(tmp_path):
    path = tmp_path / "blob.bin"
    data = bytes(range(256)) * 5000  # more than one read block
    path.write_bytes(data)
    assert file_sha256(path) == hashlib.sha256(data).hexdigest()
