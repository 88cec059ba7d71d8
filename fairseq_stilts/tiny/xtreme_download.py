"""The tiny world as XTREME's ``download_data.sh`` leaves it, and the labels that script removes.

``write_download`` lays the tiny targets out under XTREME's folder and file names and strips the
test sets the way its ``utils_preprocess.py`` does: XNLI and PAWS-X test rows keep two columns;
UD-POS and PAN-X test files keep the tokens; every XQuAD, MLQA test and TyDiQA-GoldP dev question
becomes its own paragraph with one blank answer; TyDiQA's dev files are renamed by ISO code and its
training file is also split per language; BUCC's ``*.test.gold`` files are deleted; Tatoeba's
English side is written sorted. ``write_gold`` writes what was removed, in the layout of XTREME's
submission folder (``<task>/test-<lang>.tsv|json``), for ``stilts-score``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from fairseq_stilts.families.span_qa.squad_json import TYDIQA_LANGUAGES
from fairseq_stilts.tiny import DATA_DIR

TYDIQA_DEV = "tydiqa-goldp-v1.1-dev"
TYDIQA_TRAIN = "tydiqa-goldp-v1.1-train"


def write_download(out: Path) -> Path:
    """The stripped download folder ``out`` (created; it must not exist)."""
    out = Path(out)
    out.mkdir(parents=True)
    for task in ("xnli", "pawsx", "udpos", "panx", "xquad", "mlqa", "tydiqa", "tatoeba"):
        shutil.copytree(DATA_DIR / task, out / task)
    shutil.copytree(DATA_DIR / "bucc", out / "bucc2018")
    (out / "squad").mkdir()
    for name in ("train-v1.1.json", "dev-v1.1.json"):
        shutil.copy(DATA_DIR / "squad" / name, out / "squad" / name)
    for task, keep in (("xnli", 2), ("pawsx", 2)):
        for path in (out / task).glob("test-*.tsv"):
            _keep_columns(path, keep)
    for task in ("udpos", "panx"):
        for path in (out / task).glob("test-*.tsv"):
            _keep_columns(path, 1)
    for path in [*(out / "xquad").glob("*.json"), *(out / "mlqa/MLQA_V1/test").glob("*.json")]:
        _blank_answers(path)
    _tydiqa(out / "tydiqa")
    for path in (out / "bucc2018").glob("*.test.gold"):
        path.unlink()
    for path in (out / "tatoeba").glob("*-en.en"):
        lines = [line.strip() for line in _lines(path)]
        path.write_text("".join(f"{line}\n" for line in sorted(lines)), encoding="utf-8")
    return out


def write_gold(out: Path) -> Path:
    """The removed test labels as a gold folder of XTREME's submission layout."""
    out = Path(out)
    for task in ("xnli", "pawsx"):
        for path in (DATA_DIR / task).glob("test-*.tsv"):
            labels = [line.split("\t")[2] for line in _lines(path)]
            _write(out / task / path.name, "".join(f"{label}\n" for label in labels))
    for task in ("udpos", "panx"):
        for path in (DATA_DIR / task).glob("test-*.tsv"):
            tags = [line.split("\t")[1] if line.strip() else "" for line in _lines(path)]
            _write(out / task / path.name, "\n".join(tags).strip("\n") + "\n")
    for path in (DATA_DIR / "xquad").glob("xquad.*.json"):
        shutil.copy(path, _mkdir(out / "xquad") / f"test-{path.name.split('.')[1]}.json")
    for path in (DATA_DIR / "mlqa/MLQA_V1/test").glob("test-context-*.json"):
        lang = path.name.split("-")[2]
        shutil.copy(path, _mkdir(out / "mlqa") / f"test-{lang}.json")
    for path in (DATA_DIR / "tydiqa" / TYDIQA_DEV).glob("tydiqa-goldp-dev-*.json"):
        iso = TYDIQA_LANGUAGES[path.stem.rsplit("-", 1)[1]]
        shutil.copy(path, _mkdir(out / "tydiqa") / f"test-{iso}.json")
    for path in (DATA_DIR / "bucc").glob("*.test.gold"):
        lang = path.name.split("-")[0]
        _write(out / "bucc2018" / f"test-{lang}.tsv", path.read_text(encoding="utf-8"))
    for path in (DATA_DIR / "tatoeba").glob("*-en.en"):
        lang = path.name.split("-")[0]
        english = [line.strip() for line in _lines(path)]
        # per sorted English line, the line of the other language it translates
        order = sorted(range(len(english)), key=lambda i: english[i])
        indices = "".join(f"{original}\n" for original in order)
        _write(out / "tatoeba" / f"test-{lang}.tsv", indices)
    return out


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _write(path: Path, text: str) -> None:
    _mkdir(path.parent)
    path.write_text(text, encoding="utf-8")


def _keep_columns(path: Path, keep: int) -> None:
    rows = ["\t".join(line.split("\t")[:keep]) if line.strip() else "" for line in _lines(path)]
    path.write_text("".join(f"{row}\n" for row in rows), encoding="utf-8")


def _blank_answers(path: Path) -> None:
    """Each question alone in a paragraph of its own, with one empty answer at offset 0."""
    document = json.loads(path.read_text(encoding="utf-8"))
    articles = [
        {
            "paragraphs": [
                {
                    "context": paragraph["context"],
                    "qas": [
                        {
                            "answers": [{"answer_start": 0, "text": ""}],
                            "question": qa["question"],
                            "id": qa["id"],
                        }
                    ],
                }
            ]
        }
        for article in document["data"]
        for paragraph in article["paragraphs"]
        for qa in paragraph["qas"]
    ]
    version = document.get("version", "")
    path.write_text(json.dumps({"data": articles, "version": version}), encoding="utf-8")


def _tydiqa(folder: Path) -> None:
    """Dev files renamed ``tydiqa.goldp.<iso>.dev.json`` and blanked; the training file split
    into ``tydiqa.goldp.<iso>.train.json`` (ids cut to their last part) beside the original."""
    for path in (folder / TYDIQA_DEV).glob("tydiqa-goldp-dev-*.json"):
        iso = TYDIQA_LANGUAGES[path.stem.rsplit("-", 1)[1]]
        renamed = path.rename(path.with_name(f"tydiqa.goldp.{iso}.dev.json"))
        _blank_answers(renamed)
    train = folder / TYDIQA_TRAIN / "tydiqa-goldp-v1.1-train.json"
    document = json.loads(train.read_text(encoding="utf-8"))
    per_language: dict[str, list] = {}
    for article in document["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                language, short_id = qa["id"].split("-")[0], qa["id"].split("-")[-1]
                entry = {"context": paragraph["context"], "qas": [qa | {"id": short_id}]}
                per_language.setdefault(language, []).append({"paragraphs": [entry]})
    for language, articles in per_language.items():
        path = folder / TYDIQA_TRAIN / f"tydiqa.goldp.{TYDIQA_LANGUAGES[language]}.train.json"
        path.write_text(json.dumps({"data": articles, "version": document.get("version", "")}))
