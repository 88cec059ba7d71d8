"""Local Hugging Face datasets (save_to_disk folders, parquet) for multiple choice and tagging:
the same prepared folders as from the raw files, and the same errors naming dataset, split, row."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pytest

from fairseq_stilts.cli import prepare as prepare_cli
from fairseq_stilts.data.prepare.examples import parts_from_hf
from fairseq_stilts.data.prepare.folder import prepare_task
from fairseq_stilts.data.prepare.hf_local import read_hf_choices, read_hf_tagged
from fairseq_stilts.data.prepare.readers import get_reader
from fairseq_stilts.errors import DataError
from fairseq_stilts.families.multiple_choice import read_hf
from fairseq_stilts.families.tagging.prepare import tagging_parts_from_hf
from fairseq_stilts.registry import get_spec
from fairseq_stilts.specs.xtreme import NER_TAGS, UPOS_TAGS
from fairseq_stilts.tiny import DATA_DIR

LANGS = ("de", "en", "es", "fr")
STRINGS = datasets.Sequence(datasets.Value("string"))


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _sentences(task: str, name: str, lang: str) -> list:
    return list(get_reader("token_tags")(DATA_DIR / task / name, {}, ("tokens",), False, lang=lang))


def _save(folder: Path, splits: dict[str, datasets.Dataset]) -> Path:
    datasets.DatasetDict(splits).save_to_disk(str(folder))
    return folder


def _tagged(sentences: list, names: tuple[str, ...] | None, column: str = "pos_tags"):
    """A dataset of (tokens, tags): ClassLabel ids when ``names`` is given, else strings."""
    tags = [[names.index(t) if names else t for t in s.tags] for s in sentences]
    tag_feature = datasets.Sequence(datasets.ClassLabel(names=list(names))) if names else STRINGS
    features = datasets.Features({"tokens": STRINGS, column: tag_feature})
    return datasets.Dataset.from_dict(
        {"tokens": [list(s.tokens) for s in sentences], column: tags}, features=features
    )


def _same_folders(hf_out: Path, raw_out: Path) -> None:
    """Every binarized file and dictionary equal; the manifests equal but for their sources."""
    files = sorted(p.relative_to(raw_out) for p in raw_out.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(hf_out) for p in hf_out.rglob("*") if p.is_file())
    for name in files:
        if name.name != "manifest.json":
            assert (hf_out / name).read_bytes() == (raw_out / name).read_bytes(), name
    manifests = [json.loads((out / "manifest.json").read_text()) for out in (hf_out, raw_out)]
    for manifest in manifests:
        del manifest["sources"]
    assert manifests[0] == manifests[1]


# ---------------------------------------------------------------- multiple choice


def _hellaswag_rows(records: list[dict]) -> dict[str, list]:
    """Rowan/hellaswag's columns; its labels are strings ("" in the unlabelled test split)."""
    columns = ("ind", "activity_label", "ctx_a", "ctx_b", "ctx", "endings", "source_id", "label")
    rows = {c: [r[c] for r in records] for c in columns}
    rows["label"] = [str(label) for label in rows["label"]]
    return rows


def test_prepare_hellaswag_from_hf_equals_raw(tmp_path, tiny_model, prepared):
    raw = DATA_DIR / "hellaswag"
    train, val = _jsonl(raw / "hellaswag_train.jsonl"), _jsonl(raw / "hellaswag_val.jsonl")
    test = _hellaswag_rows(val[:3])
    test["label"] = ["", "", ""]
    folder = _save(
        tmp_path / "hellaswag_en",
        {
            "train": datasets.Dataset.from_dict(_hellaswag_rows(train)),
            "validation": datasets.Dataset.from_dict(_hellaswag_rows(val)),
            "test": datasets.Dataset.from_dict(test),
        },
    )
    out = tmp_path / "out"
    manifest = prepare_task("hellaswag", out, tiny_model, hf={"en": folder}, workers=1).to_json()
    assert set(manifest["subsets"]) == {"train", "valid", "valid.en"}  # no gold: test left out
    _same_folders(out, prepared("hellaswag"))


def test_commonsenseqa_and_cosmosqa_from_hf_equal_raw(tmp_path):
    raw = DATA_DIR / "commonsenseqa" / "dev_rand_split.jsonl"
    records = _jsonl(raw)
    # tau/commonsense_qa: question, choices {label, text} as columns of lists, answerKey
    rows = {
        "question": [r["question"]["stem"] for r in records],
        "choices": [
            {
                "label": [c["label"] for c in r["question"]["choices"]],
                "text": [c["text"] for c in r["question"]["choices"]],
            }
            for r in records
        ],
        "answerKey": [r["answerKey"] for r in records],
    }
    csqa = tmp_path / "csqa"
    csqa.mkdir()
    datasets.Dataset.from_dict(rows).to_parquet(str(csqa / "validation-00000-of-00001.parquet"))
    for task, folder, path in (
        ("commonsenseqa", csqa, raw),
        ("cosmosqa", tmp_path / "cosmos", DATA_DIR / "cosmosqa" / "valid.jsonl"),
    ):
        if task == "cosmosqa":  # cosmos_qa's columns are the raw records' keys
            records = _jsonl(path)
            _save(folder, {"validation": datasets.Dataset.from_list(records)})
        spec = get_spec(task)
        expected = get_reader(spec.sources[1].reader)(path, {}, spec.field_names, False)
        dev = read_hf_choices(folder, spec.sources[1].reader, spec.field_names)["dev"]
        assert [(e.texts, e.label) for e in dev] == [(e.texts, e.label) for e in expected]


GOOD_ROWS = {
    "hellaswag": {"ctx": "Jan buys boxes.", "endings": ["a.", "b.", "c.", "d."], "label": "2"},
    "commonsenseqa": {
        "question": "Q?",
        "choices": {"label": list("ABCDE"), "text": list("vwxyz")},
        "answerKey": "B",
    },
    "cosmosqa": {
        "context": "C.",
        "question": "Q?",
        **{f"answer{i}": "a." for i in range(4)},
        "label": 1,
    },
}


@pytest.mark.parametrize(
    ("task", "change", "message"),
    [
        (
            "hellaswag",
            {"endings": ["a.", "b.", "c."]},
            "found 3 choices; every example of this task has 4",
        ),
        ("hellaswag", {"label": "4"}, "label 4 out of range: expected an integer 0..3"),
        ("commonsenseqa", {"answerKey": "F"}, "answerKey 'F' is not one of the choice labels"),
        ("cosmosqa", {"label": 7}, "label 7 out of range"),
        ("cosmosqa", {"question": None}, "no column 'question'"),
    ],
)
def test_bad_multiple_choice_names_dataset_split_and_row(tmp_path, task, change, message):
    """Row 2 is bad; a column missing altogether is reported on row 1."""
    good = GOOD_ROWS[task]
    bad = {key: value for key, value in {**good, **change}.items() if value is not None}
    if len(bad) < len(good):
        good = bad
    folder = _save(tmp_path / task, {"validation": datasets.Dataset.from_list([good, bad])})
    with pytest.raises(DataError, match=message) as info:
        parts_from_hf(get_spec(task), {"en": folder}, read_hf)
    line = 1 if good is bad else 2
    assert str(info.value).startswith(f"{folder}[validation]:{line}: ")


# ---------------------------------------------------------------- tagging


def test_prepare_udpos_from_hf_equals_raw(tmp_path, tiny_model, prepared):
    """English and German as save_to_disk folders, Spanish and French as parquet files; German's
    translated train split is ignored (zero-shot)."""
    folders = {}
    for lang in LANGS:
        splits = {
            split: _tagged(_sentences("udpos", f"{name}-{lang}.tsv", lang), UPOS_TAGS)
            for split, name in (("train", "train"), ("validation", "dev"), ("test", "test"))
            if (DATA_DIR / "udpos" / f"{name}-{lang}.tsv").is_file()
        }
        if lang == "de":
            splits["train"] = splits["test"]
        folder = tmp_path / f"udpos_{lang}"
        if lang in ("de", "en"):
            _save(folder, splits)
        else:
            folder.mkdir()
            for split, ds in splits.items():
                ds.to_parquet(str(folder / f"{split}-00000-of-00001.parquet"))
        folders[lang] = folder
    out = tmp_path / "out"
    hf = [arg for lang, folder in folders.items() for arg in ("--hf", f"{lang}={folder}")]
    prepare_cli.main(
        ["udpos", *hf, "--model", str(tiny_model), "--out", str(out), "--workers", "1"]
    )
    _same_folders(out, prepared("udpos"))


def test_panx_ner_tags_and_ccg_string_tags(tmp_path):
    panx = _tagged(_sentences("panx", "dev-de.tsv", "de"), NER_TAGS, column="ner_tags")
    panx = panx.add_column("langs", [["de"] * len(t) for t in panx["tokens"]])
    folder = _save(tmp_path / "panx_de", {"validation": panx})
    expected = _sentences("panx", "dev-de.tsv", "de")
    sentences = read_hf_tagged(folder)["dev"]
    assert [(s.tokens, s.tags) for s in sentences] == [(s.tokens, s.tags) for s in expected]

    ccg = {
        split: _tagged(_sentences("ccg", f"{name}.tsv", "en"), None, column="tags")
        for split, name in (("train", "train"), ("validation", "dev"))
    }
    parts, labels = tagging_parts_from_hf(get_spec("ccg"), {"en": _save(tmp_path / "ccg", ccg)})
    train_tags = [t for s in _sentences("ccg", "train.tsv", "en") for t in s.tags]
    assert labels == tuple(dict.fromkeys(train_tags))  # in order of first appearance
    assert [p.split for p in parts] == ["train", "dev"]


def test_bad_tagging_names_dataset_split_and_row(tmp_path):
    sentences = _sentences("udpos", "test-fr.tsv", "fr")[:3]
    bad = _tagged(sentences, None)
    tags = [list(t) for t in bad["pos_tags"]]
    tags[1][0] = "NOUNISH"
    bad = bad.remove_columns("pos_tags").add_column("pos_tags", tags)
    folder = _save(tmp_path / "udpos_fr", {"test": bad})
    with pytest.raises(DataError, match="unknown tag 'NOUNISH'; expected one of") as info:
        tagging_parts_from_hf(get_spec("udpos"), {"fr": folder})
    assert str(info.value).startswith(f"{folder}[test]:2: ")

    missing = _save(tmp_path / "words", {"test": bad.rename_column("tokens", "words")})
    with pytest.raises(DataError, match="expected a 'tokens' column") as info:
        tagging_parts_from_hf(get_spec("udpos"), {"fr": missing})
    assert str(info.value).startswith(f"{missing}[test]: ")
