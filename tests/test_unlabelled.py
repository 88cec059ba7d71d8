"""Test sets without gold labels, as XTREME's download ships them: prepared, predicted, not scored."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import fairseq, train_args

from fairseq_stilts.cli import evaluate as evaluate_cli
from fairseq_stilts.data.prepare.folder import prepare_task
from fairseq_stilts.data.prepare.manifest import read_manifest
from fairseq_stilts.data.prepare.readers import read_token_tags, read_tsv
from fairseq_stilts.errors import DataError
from fairseq_stilts.tiny import DATA_DIR

PAIRS = {"sentence1": 0, "sentence2": 1, "label": 2}
FIELDS = ("sentence1", "sentence2")


def strip_tsv(path: Path) -> None:
    """XNLI / PAWS-X: the label column removed."""
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("".join("\t".join(line.split("\t")[:2]) + "\n" for line in lines))


def strip_tags(path: Path) -> None:
    """UDPOS / PANX: tokens only, blank lines between sentences kept."""
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("".join(line.split("\t")[0] + "\n" for line in lines))


def strip_answers(path: Path) -> None:
    """Span QA: every question's answers removed."""
    document = json.loads(path.read_text(encoding="utf-8"))
    for article in document["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                qa["answers"] = []
    path.write_text(json.dumps(document, ensure_ascii=False))


STRIPPED = {  # task -> (tiny-world folders to copy, test files, how to strip them)
    "xnli": (("xnli",), "xnli/test-*.tsv", strip_tsv),
    "udpos": (("udpos",), "udpos/test-*.tsv", strip_tags),
    "xquad": (("xquad", "squad"), "xquad/xquad.*.json", strip_answers),
}
CRITERIA = {"xnli": "stilts_classification", "udpos": "stilts_tagging", "xquad": "stilts_span_qa"}


def stripped_copy(tmp_path: Path, task: str) -> Path:
    folders, pattern, strip = STRIPPED[task]
    for folder in folders:
        shutil.copytree(DATA_DIR / folder, tmp_path / "raw" / folder)
    for path in sorted((tmp_path / "raw").glob(pattern)):
        strip(path)
    return tmp_path / "raw" / task


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_a_tsv_without_its_label_column_is_read_as_unlabelled(tmp_path):
    path = write(tmp_path / "test-de.tsv", "Ein Satz.\tNoch einer.\nZwei.\tDrei.\n")
    examples = list(read_tsv(path, PAIRS, FIELDS, False))
    assert [e.label for e in examples] == [None, None]
    assert examples[1].texts == ("Zwei.", "Drei.")


def test_a_labelled_tsv_missing_one_label_names_file_and_line(tmp_path):
    path = write(tmp_path / "test-de.tsv", "A.\tB.\tneutral\nC.\tD.\nE.\tF.\tneutral\n")
    with pytest.raises(
        DataError, match=r"test-de\.tsv:2: expected 3 tab-separated columns, found 2"
    ):
        list(read_tsv(path, PAIRS, FIELDS, False))


def test_an_unlabelled_tsv_with_a_labelled_row_names_file_and_line(tmp_path):
    path = write(tmp_path / "test-de.tsv", "A.\tB.\nC.\tD.\tneutral\n")
    with pytest.raises(DataError, match=r"test-de\.tsv:2: expected 2 tab-separated columns"):
        list(read_tsv(path, PAIRS, FIELDS, False))


def test_a_token_only_file_is_read_as_unlabelled(tmp_path):
    path = write(tmp_path / "test-de.tsv", "Das\nist\n\ngut\n")
    sentences = list(read_token_tags(path, {}, ("tokens",), False))
    assert [(s.tokens, s.tags) for s in sentences] == [(("Das", "ist"), None), (("gut",), None)]


def test_a_tagged_file_missing_one_tag_names_file_and_line(tmp_path):
    path = write(tmp_path / "test-de.tsv", "Das\tPRON\nist\n")
    with pytest.raises(DataError, match=r"test-de\.tsv:2: expected token<TAB>tag, found no tag"):
        list(read_token_tags(path, {}, ("tokens",), False))


@pytest.mark.parametrize("task", sorted(STRIPPED))
def test_stripped_test_files_make_unlabelled_subsets(tmp_path, tiny_model, task):
    raw = stripped_copy(tmp_path, task)
    manifest = prepare_task(task, tmp_path / "data", tiny_model, raw=raw, workers=1)
    labelled = {name: info.labelled for name, info in manifest.subsets.items()}
    assert {name for name, flag in labelled.items() if not flag} == {
        f"test.{lang}" for lang in manifest.languages["test"]
    }
    assert read_manifest(tmp_path / "data", task).subsets == manifest.subsets


@pytest.mark.parametrize(
    ("task", "split_file"), [("xnli", "dev-de.tsv"), ("udpos", "train-en.tsv")]
)
def test_only_a_test_file_may_come_without_labels(tmp_path, tiny_model, task, split_file):
    raw = stripped_copy(tmp_path, task)
    STRIPPED[task][2](raw / split_file)
    with pytest.raises(DataError, match=f"{split_file}:1: no gold labels in a (dev|train) file"):
        prepare_task(task, tmp_path / "data", tiny_model, raw=raw, workers=1)
    assert not (tmp_path / "data").exists()


def test_a_qa_test_file_with_answers_for_some_questions_only_is_an_error(tmp_path, tiny_model):
    raw = stripped_copy(tmp_path, "xquad")
    shutil.copy(DATA_DIR / "xquad" / "xquad.de.json", raw / "xquad.de.json")
    path = raw / "xquad.de.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    document["data"][0]["paragraphs"][0]["qas"][1]["answers"] = []
    path.write_text(json.dumps(document))
    with pytest.raises(DataError, match=r"xquad\.de\.json: .*qas\[1\].*no answers"):
        prepare_task("xquad", tmp_path / "data", tiny_model, raw=raw, workers=1)


@pytest.mark.slow
@pytest.mark.parametrize("task", sorted(STRIPPED))
def test_unlabelled_tests_get_the_same_submission_files_and_no_score(
    tmp_path, tiny_model, prepared, task, capsys
):
    labelled = prepared(task)
    unlabelled = tmp_path / "unlabelled"
    prepare_task(task, unlabelled, tiny_model, raw=stripped_copy(tmp_path, task), workers=1)
    extra = ["--criterion", CRITERIA[task]]
    fairseq(
        "fairseq-train", *train_args(task, labelled, tiny_model / "model.pt", tmp_path, 3, *extra)
    )
    checkpoint = tmp_path / "checkpoint_last.pt"
    outputs = {}
    for name, data in (("labelled", labelled), ("unlabelled", unlabelled)):
        out = tmp_path / f"{name}.json"
        evaluate_cli.main([task, str(data), "--path", str(checkpoint), "--cpu", "--out", str(out)])
        outputs[name] = capsys.readouterr().out
        files = sorted(out.with_suffix(".predictions").iterdir())
        outputs[name, "files"] = {p.name: p.read_text(encoding="utf-8") for p in files}
        outputs[name, "rows"] = json.loads(out.read_text())
    assert outputs["unlabelled", "files"] == outputs["labelled", "files"]
    assert len(outputs["labelled", "files"]) == len(read_manifest(labelled, task).languages["test"])
    assert outputs["unlabelled", "rows"] == []
    assert outputs["labelled", "rows"]
    assert "no gold labels for " in outputs["unlabelled"]
    log = (tmp_path / "unlabelled.log").read_text()
    assert "_unlabelled" in log
    metrics = {row["metric"] for row in outputs["labelled", "rows"]}
    assert not any(f"_{metric}" in log for metric in metrics)  # no score printed for them
