"""Raw-file readers: TSV (GLUE with a header, XTREME without) and JSONL; errors name file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fairseq_stilts.data.prepare import readers as readers_module
from fairseq_stilts.data.prepare.readers import (
    Example,
    get_reader,
    read_jsonl,
    read_lines,
    read_tsv,
)
from fairseq_stilts.errors import DataError, StiltsError
from fairseq_stilts.tiny import DATA_DIR

PAIR = ("sentence1", "sentence2")
GLUE_COLUMNS = {"sentence1": "sentence1", "sentence2": "sentence2", "label": "gold_label"}
XTREME_COLUMNS = {"sentence1": 0, "sentence2": 1, "label": 2}
ANLI_COLUMNS = {"sentence1": "context", "sentence2": "hypothesis", "label": "label"}
GLUE_HEADER = "index\tgenre\tsentence1\tsentence2\tlabel1\tgold_label"


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, str):
        text = text.encode("utf-8")
    path.write_bytes(text)
    return path


def read_all(reader, path: Path, columns, header: bool = False) -> list[Example]:
    return list(reader(path, columns, PAIR, header))


def test_readers_are_registered():
    assert get_reader("tsv") is read_tsv
    assert get_reader("jsonl") is read_jsonl


def test_tsv_with_header_picks_columns_by_name(tmp_path):
    path = write(
        tmp_path / "train.tsv",
        f"{GLUE_HEADER}\n"
        "0\tfiction\tA cat sat.\tAn animal sat.\tentailment\tentailment\n"
        "1\tslate\tIt rains.\tThe sun shines.\tneutral\tcontradiction\n",
    )
    examples = read_all(read_tsv, path, GLUE_COLUMNS, header=True)
    assert examples == [
        Example(("A cat sat.", "An animal sat."), "entailment", str(path), 2),
        Example(("It rains.", "The sun shines."), "contradiction", str(path), 3),
    ]


def test_tsv_without_header_picks_columns_by_index(tmp_path):
    path = write(
        tmp_path / "dev-de.tsv",
        "Es regnet.\tDie Sonne scheint.\tcontradictory\nEine Katze.\tEin Tier.\tentailment\n",
    )
    examples = read_all(read_tsv, path, XTREME_COLUMNS)
    assert [(e.texts, e.label, e.line) for e in examples] == [
        (("Es regnet.", "Die Sonne scheint."), "contradictory", 1),
        (("Eine Katze.", "Ein Tier."), "entailment", 2),
    ]
    # Columns may come in any order: the spec's field order decides the order of texts.
    swapped = read_all(read_tsv, path, {"sentence1": 1, "sentence2": 0, "label": 2})
    assert swapped[0].texts == ("Die Sonne scheint.", "Es regnet.")


def test_tsv_skips_blank_lines_keeps_line_numbers_and_strips_crlf(tmp_path):
    path = write(tmp_path / "x.tsv", "a\tb\t0\r\n\r\n   \nc\td\t1\r\n")
    examples = read_all(read_tsv, path, XTREME_COLUMNS)
    assert [(e.texts, e.label, e.line) for e in examples] == [
        (("a", "b"), "0", 1),
        (("c", "d"), "1", 4),
    ]


def test_tsv_reads_the_tiny_glue_and_xtreme_files():
    mnli = DATA_DIR / "mnli" / "train.tsv"
    rows = mnli.read_text(encoding="utf-8").splitlines()
    examples = read_all(read_tsv, mnli, GLUE_COLUMNS, header=True)
    assert len(examples) == len(rows) - 1
    head = rows[0].split("\t")
    first = rows[1].split("\t")
    assert examples[0].texts == (
        first[head.index("sentence1")],
        first[head.index("sentence2")],
    )
    assert examples[0].label == first[head.index("gold_label")]

    xnli = DATA_DIR / "xnli" / "dev-de.tsv"
    examples = read_all(read_tsv, xnli, XTREME_COLUMNS)
    assert len(examples) == len(xnli.read_text(encoding="utf-8").splitlines())
    assert all(len(e.texts) == 2 and e.label for e in examples)


def test_jsonl_picks_fields_by_key_and_stringifies(tmp_path):
    path = write(
        tmp_path / "train.jsonl",
        json.dumps({"uid": "a", "context": "Der Hund bellt.", "hypothesis": "Lärm.", "label": "e"})
        + "\n\n"
        + json.dumps({"context": "Two", "hypothesis": "2", "label": 1, "extra": [1]})
        + "\n",
    )
    examples = read_all(read_jsonl, path, ANLI_COLUMNS)
    assert examples == [
        Example(("Der Hund bellt.", "Lärm."), "e", str(path), 1),
        Example(("Two", "2"), "1", str(path), 3),
    ]


def assert_data_error(info, path: Path, line: int | None) -> str:
    err = info.value
    assert isinstance(err, StiltsError)
    assert err.path == str(path)
    assert err.line == line
    where = f"{path}:{line}: " if line is not None else f"{path}: "
    assert str(err).startswith(where), str(err)
    return str(err)


@pytest.mark.parametrize("reader", [read_tsv, read_jsonl])
def test_missing_file(tmp_path, reader):
    path = tmp_path / "nowhere" / "train.tsv"
    with pytest.raises(DataError) as info:
        read_all(reader, path, GLUE_COLUMNS, header=True)
    assert "not found" in assert_data_error(info, path, None)


def test_tsv_wrong_column_count_names_the_line(tmp_path):
    path = write(tmp_path / "dev-en.tsv", "a\tb\t0\nc\td\t1\ne\t1\ng\th\t0\n")
    with pytest.raises(DataError) as info:
        read_all(read_tsv, path, XTREME_COLUMNS)
    message = assert_data_error(info, path, 3)
    assert "expected 3" in message and "found 2" in message


def test_tsv_extra_column_is_an_error(tmp_path):
    path = write(tmp_path / "dev-en.tsv", "a\tb\t0\tsurprise\n")
    with pytest.raises(DataError) as info:
        read_all(read_tsv, path, XTREME_COLUMNS)
    assert "found 4" in assert_data_error(info, path, 1)


def test_tsv_with_header_wrong_column_count_counts_the_header_line(tmp_path):
    path = write(tmp_path / "train.tsv", f"{GLUE_HEADER}\n0\tg\ta\tb\tn\tn\n1\tg\ta\tb\tn\n")
    with pytest.raises(DataError) as info:
        read_all(read_tsv, path, GLUE_COLUMNS, header=True)
    message = assert_data_error(info, path, 3)
    assert "expected 6" in message and "found 5" in message


def test_tsv_header_lacking_a_column(tmp_path):
    path = write(tmp_path / "train.tsv", "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tneutral\n")
    with pytest.raises(DataError) as info:
        read_all(read_tsv, path, GLUE_COLUMNS, header=True)
    message = assert_data_error(info, path, 1)
    assert "gold_label" in message
    assert "sentence1" in message  # lists the columns the header does have


def test_tsv_empty_file_with_expected_header(tmp_path):
    path = write(tmp_path / "train.tsv", "")
    with pytest.raises(DataError) as info:
        read_all(read_tsv, path, GLUE_COLUMNS, header=True)
    assert "header" in assert_data_error(info, path, 1)


@pytest.mark.parametrize("reader", [read_tsv, read_jsonl])
def test_invalid_utf8_names_the_line(tmp_path, reader):
    good = (
        "a\tb\t0\n" if reader is read_tsv else '{"context": "a", "hypothesis": "b", "label": "e"}\n'
    )
    columns = XTREME_COLUMNS if reader is read_tsv else ANLI_COLUMNS
    path = write(tmp_path / "bad.txt", good.encode() * 2 + b"caf\xe9\tb\t0\n" + good.encode())
    with pytest.raises(DataError) as info:
        read_all(reader, path, columns)
    message = assert_data_error(info, path, 3)
    assert "UTF-8" in message
    assert "0xe9" in message


def test_read_lines_numbers_lines_from_one(tmp_path):
    path = write(tmp_path / "x.txt", "one\r\ntwo\n\nfour")
    assert list(read_lines(path)) == [(1, "one"), (2, "two"), (3, ""), (4, "four")]


def _line_by_line(data: bytes) -> list[tuple[int, str]]:
    """The reference: each line decoded alone, BOM dropped from the first, endings stripped."""
    lines = data.removeprefix(b"\xef\xbb\xbf").split(b"\n")
    lines = lines[:-1] if lines[-1] == b"" else lines
    return [(i, line.decode("utf-8").rstrip("\r")) for i, line in enumerate(lines, start=1)]


@pytest.mark.parametrize("block", [1, 2, 5, 7, 64, 1 << 22])
@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\n",
        b"\xef\xbb\xbfcaf\xc3\xa9\r\nna\xc3\xafve\n\n\xe6\x97\xa5\xe6\x9c\xac\r\r\nlast",
        b"one line, no newline",
        b"a\nbb\nccc\n\n\n",
    ],
)
def test_read_lines_in_blocks_gives_the_lines_one_by_one(tmp_path, monkeypatch, block, data):
    monkeypatch.setattr(readers_module, "BLOCK", block)
    path = write(tmp_path / "x.txt", data)
    assert list(read_lines(path)) == _line_by_line(data)


@pytest.mark.parametrize("block", [3, 1 << 22])
def test_bad_bytes_are_named_by_line_and_column_across_blocks(tmp_path, monkeypatch, block):
    monkeypatch.setattr(readers_module, "BLOCK", block)
    path = write(tmp_path / "x.txt", b"\xef\xbb\xbfab\nc\xc3\xa9d\xffe\nf\n")
    with pytest.raises(DataError, match=r"x.txt:2: not valid UTF-8 \(byte 0xff at column 5\)"):
        list(read_lines(path))
    path = write(tmp_path / "y.txt", b"ab\ncd\n\xc3\xa9f\x00g\n")
    with pytest.raises(DataError, match=r"y.txt:3: NUL byte at column 3"):
        list(read_lines(path))


def test_jsonl_invalid_json_names_the_line(tmp_path):
    path = write(
        tmp_path / "dev.jsonl",
        '{"context": "a", "hypothesis": "b", "label": "n"}\n{"context": "a", "hypothesis": \n',
    )
    with pytest.raises(DataError) as info:
        read_all(read_jsonl, path, ANLI_COLUMNS)
    assert "invalid JSON" in assert_data_error(info, path, 2)


def test_jsonl_missing_key_names_the_line_and_key(tmp_path):
    path = write(
        tmp_path / "dev.jsonl",
        '{"context": "a", "hypothesis": "b", "label": "n"}\n'
        '{"context": "a", "hypothesis": "b", "label": "c"}\n'
        '{"context": "a", "premise": "b", "label": "c"}\n',
    )
    with pytest.raises(DataError) as info:
        read_all(read_jsonl, path, ANLI_COLUMNS)
    message = assert_data_error(info, path, 3)
    assert "hypothesis" in message
    assert "context" not in message.split(":", 2)[-1]  # only the missing key is listed


def test_jsonl_missing_label_key(tmp_path):
    path = write(tmp_path / "dev.jsonl", '{"context": "a", "hypothesis": "b", "gold": "n"}\n')
    with pytest.raises(DataError) as info:
        read_all(read_jsonl, path, ANLI_COLUMNS)
    assert "'label'" in assert_data_error(info, path, 1)


def test_readers_are_lazy_and_yield_rows_before_an_error(tmp_path):
    path = write(tmp_path / "dev-en.tsv", "a\tb\t0\nbroken\n")
    rows = read_tsv(path, XTREME_COLUMNS, PAIR, False)
    assert next(rows).texts == ("a", "b")
    with pytest.raises(DataError):
        next(rows)
