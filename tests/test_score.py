"""stilts-score: a hand-made submission and gold folder in XTREME's layout, scored with the
leaderboard's rules; every expected number below is computed by hand in its comment."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fairseq_stilts.cli.score import main
from fairseq_stilts.errors import DataError
from fairseq_stilts.registry import get_spec
from fairseq_stilts.results.categories import XTREME_TASKS, category_scores, overall_score
from fairseq_stilts.results.submission import score_submission


def squad(*questions: tuple[str, list[str]]) -> str:
    """A SQuAD-format gold file: (question id, gold answers) per question."""
    qas = [
        {
            "id": qid,
            "question": "Which?",
            "answers": [{"text": text, "answer_start": 0} for text in answers],
        }
        for qid, answers in questions
    ]
    return json.dumps({"version": "1.1", "data": [{"paragraphs": [{"context": "c", "qas": qas}]}]})


# task -> (gold text, prediction text) per language; the first language of some tasks differs.
UDPOS_GOLD = "DET\nNOUN\nVERB\n\nPRON\nVERB\nPUNCT\n"
PANX_GOLD = "B-PER\nI-PER\nO\nB-LOC\n\nO\nB-ORG\n"
BUCC_GOLD = "s-1\te-1\ns-2\te-2\ns-3\te-3\ns-4\te-4\n"


def files(task: str, lang: str) -> tuple[str, str]:
    first = lang == get_spec(task).languages[0]
    if task == "pawsx":  # 3 of 4 right; de (first): all right, with a BOM, CRLF, no final newline
        return "1\n0\n1\n0\n", "\ufeff1\r\n0\r\n1\r\n0" if first else "1\n0\n0\n0\n"
    if task == "xnli":  # 2 of 3 right; ar (first): all right
        gold = "entailment\nneutral\ncontradiction\n"
        return gold, gold if first else "entailment\nneutral\nneutral\n"
    if task == "udpos":
        # seqeval on raw UPOS: a run of one tag is one chunk. Gold has 6 chunks; the prediction
        # "DET NOUN NOUN" merges NOUN NOUN into one (wrong) chunk: 5 predicted, 4 correct,
        # F1 = 2*4/(5+6) = 8/11. af (first): the gold tags.
        return UDPOS_GOLD, UDPOS_GOLD if first else UDPOS_GOLD.replace("VERB\n\n", "NOUN\n\n")
    if task == "panx":  # gold PER, LOC, ORG; predicted PER (right), LOC (wrong): F1 2*1/(2+3)
        return PANX_GOLD, "B-PER\nI-PER\nO\nO\n\nO\nB-LOC"
    if task == "xquad":
        # q1 exact after normalisation; q2 "1889" vs "in 1889": EM 0, F1 2/3 (score (50 + 250/3)
        # / 2 = 200/3). ar (first): q2 unanswered, scored 0: EM 50, F1 50.
        gold = squad(("q1", ["the Eiffel Tower", "Eiffel Tower"]), ("q2", ["in 1889"]))
        answers = {"q1": "Eiffel tower!"} if first else {"q1": "Eiffel tower!", "q2": "1889"}
        return gold, json.dumps(answers)
    if task == "mlqa":
        # q1 right, q2 wrong: EM 50, F1 50. In German, MLQA's rules drop "der" (SQuAD's do not).
        gold = squad(("q1", ["Turm"]), ("q2", ["rot"]))
        return gold, json.dumps({"q1": "der Turm" if lang == "de" else "Turm", "q2": "blau"})
    if task == "tydiqa":  # right (100, 100); ar (first): wrong (0, 0)
        return squad(("q1", ["42"])), json.dumps({"q1": "forty-two" if first else "42"})
    if task == "bucc":  # 2 distinct predicted pairs (one twice), 1 of the 4 gold: F1 2*1/(2+4)
        return BUCC_GOLD, "s-1\te-1\ns-2\te-9\ns-1\te-1\n"
    if task == "tatoeba":  # 3 of 5 right
        return "0\n1\n2\n3\n4\n", "0\n1\n2\n4\n3\n"
    raise AssertionError(task)


TASK_SCORES = {
    "pawsx": (100 + 6 * 75) / 7,
    "xnli": (100 + 14 * 200 / 3) / 15,
    "udpos": (100 + 32 * 800 / 11) / 33,
    "panx": 40.0,
    "xquad": (10 * 200 / 3 + 50) / 11,
    "mlqa": 50.0,
    "tydiqa": 8 * 100 / 9,
    "bucc": 100 / 3,
    "tatoeba": 60.0,
}


@pytest.fixture
def world(tmp_path) -> tuple[Path, Path]:
    """(predictions, gold): every language of the nine tasks."""
    predictions, gold = tmp_path / "predictions", tmp_path / "gold"
    for task in XTREME_TASKS:
        spec = get_spec(task)
        suffix = ".json" if spec.family == "span_qa" else ".tsv"
        for root in (predictions, gold):
            (root / spec.xtreme_name).mkdir(parents=True)
        for lang in spec.languages:
            gold_text, predicted_text = files(task, lang)
            name = f"{spec.xtreme_name}/test-{lang}{suffix}"
            (gold / name).write_bytes(gold_text.encode())
            (predictions / name).write_bytes(predicted_text.encode())
    return predictions, gold


def test_every_task_its_categories_and_the_xtreme_score(world):
    result = score_submission(*world)
    assert {task: s.score for task, s in result.tasks.items()} == pytest.approx(TASK_SCORES)
    assert list(result.tasks) == list(XTREME_TASKS) and result.missing == {}
    langs = {task: s.languages for task, s in result.tasks.items()}
    assert langs["pawsx"]["de"]["accuracy"] == 100 and langs["pawsx"]["en"]["accuracy"] == 75
    assert langs["udpos"]["en"]["seqeval_f1"] == pytest.approx(800 / 11)
    assert langs["udpos"]["en"]["token_accuracy"] == pytest.approx(500 / 6)
    assert langs["panx"]["en"]["seqeval_precision"] == 50
    assert langs["xquad"]["de"] == pytest.approx(
        {"exact_match": 50, "f1": 250 / 3, "count": 2, "missing": 0, "score": 200 / 3}
    )
    assert langs["xquad"]["ar"]["missing"] == 1 and langs["xquad"]["ar"]["score"] == 50
    assert langs["mlqa"]["de"]["exact_match"] == 50  # "der Turm" == "Turm" by MLQA's German rules
    assert langs["bucc"]["fr"] == pytest.approx(
        {"bucc_f1": 100 / 3, "bucc_precision": 50, "bucc_recall": 25, "score": 100 / 3}
    )
    s = TASK_SCORES
    assert result.categories == pytest.approx(
        {
            "sentence classification": (s["pawsx"] + s["xnli"]) / 2,
            "structured prediction": (s["udpos"] + s["panx"]) / 2,
            "question answering": (s["xquad"] + s["mlqa"] + s["tydiqa"]) / 3,
            "sentence retrieval": (s["bucc"] + s["tatoeba"]) / 2,
        }
    )
    assert result.overall == pytest.approx(sum(s.values()) / 9)
    assert result.warnings == (
        f"{world[0]}/xquad/test-ar.json: 1 of the 2 gold questions have no answer (scored 0)",
    )


def test_the_cli_prints_the_table_and_writes_the_json(world, tmp_path, capsys):
    out = tmp_path / "scores.json"
    main([*map(str, world), "--out", str(out)])
    printed = capsys.readouterr().out
    assert "  sentence retrieval        46.67\n" in printed  # (33.33 + 60) / 2
    assert f"XTREME score {sum(TASK_SCORES.values()) / 9:.2f}\n" in printed
    assert "udpos and panx F1 follow seqeval 1.x" in printed
    written = json.loads(out.read_text())
    assert written["tasks"]["bucc"]["folder"] == "bucc2018"
    assert written["overall"] == pytest.approx(sum(TASK_SCORES.values()) / 9)
    assert "seqeval 1.x" in written["notes"][0]


def test_without_all_nine_tasks_there_is_no_xtreme_score(world, capsys):
    predictions, gold = world
    shutil.rmtree(predictions / "bucc2018")
    shutil.rmtree(gold / "tatoeba")
    result = score_submission(predictions, gold)
    assert result.overall is None
    assert result.missing == {
        "bucc": "no bucc2018/ in the predictions",
        "tatoeba": "no tatoeba/ in the gold folder",
    }
    assert "sentence retrieval" not in result.categories and len(result.categories) == 3
    main([str(predictions), str(gold)])
    printed = capsys.readouterr().out
    assert "XTREME score: not computed; missing: bucc, tatoeba\n" in printed
    assert "sentence retrieval            -  (needs bucc, tatoeba)" in printed


def test_category_rules():
    scores = dict.fromkeys(XTREME_TASKS, 60.0) | {"pawsx": 80.0}
    assert category_scores(scores)["sentence classification"] == 70
    assert overall_score(scores) == pytest.approx((8 * 60 + 80) / 9)
    del scores["xnli"]
    assert "sentence classification" not in category_scores(scores)
    assert overall_score(scores) is None


def error(world) -> str:
    with pytest.raises(DataError) as caught:
        score_submission(*world)
    return str(caught.value)


def test_a_line_count_mismatch_names_the_file(world):
    path = world[0] / "xnli" / "test-de.tsv"
    path.write_text(path.read_text() + "neutral\n")
    assert error(world) == f"{path}: 4 lines, but {world[1] / 'xnli' / 'test-de.tsv'} has 3"


def test_a_missing_language_is_named(world):
    (world[0] / "panx" / "test-yo.tsv").unlink()
    assert error(world).startswith(
        f"{world[0] / 'panx'}: no test-yo.tsv: panx needs a file for each"
    )
    (world[0] / "panx" / "test-yo.tsv").write_text(PANX_GOLD)
    (world[1] / "tydiqa" / "test-sw.json").unlink()
    assert "tydiqa: no test-sw.json" in error(world)


def test_a_language_the_task_does_not_have_is_ignored_with_a_warning(world):
    (world[0] / "pawsx" / "test-it.tsv").write_text("1\n")
    warnings = score_submission(*world).warnings
    assert f"{world[0]}/pawsx/test-it.tsv: pawsx has no language 'it'; ignored" in warnings


def test_bad_lines_are_named_by_file_and_line(world):
    tags = world[0] / "udpos" / "test-de.tsv"
    tags.write_text("DET\nNOUN\nVERB\n\nPRON\nVERB\n")
    assert (
        error(world)
        == f"{tags}:5: 2 tags, but the sentence at {world[1]}/udpos/test-de.tsv:5 has 3"
    )
    tags.write_text(UDPOS_GOLD)
    pairs = world[0] / "bucc2018" / "test-ru.tsv"
    pairs.write_text("s-1\te-1\ns-2 e-2\n")
    assert error(world) == f"{pairs}:2: expected a pair `source id<TAB>target id`"
    pairs.write_text(BUCC_GOLD)
    answers = world[0] / "mlqa" / "test-hi.json"
    answers.write_text('{"q1": "x",\n "q2": }')
    assert error(world).startswith(f"{answers}:2: invalid JSON")
    answers.write_text('{"q1": ["x"]}')
    assert error(world) == f"{answers}: question 'q1': the answer is a list, not a string"


def test_the_cli_reports_bad_input_as_one_error_line(world, capsys):
    path = world[0] / "tatoeba" / "test-fi.tsv"
    path.write_text("0\n1\n")
    with pytest.raises(SystemExit) as caught:
        main([*map(str, world)])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert err == f"error: {path}: 2 lines, but {world[1]}/tatoeba/test-fi.tsv has 5\n"


PROBE = """
import contextlib, io, sys
sys.argv = ["stilts-score"]
from fairseq_stilts.cli.score import main
with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.suppress(SystemExit):
    main(["--help"])
assert "usage: stilts-score" in out.getvalue()
heavy = lambda: sorted(m for m in ("torch", "fairseq") if m in sys.modules)
print(heavy())
with contextlib.redirect_stdout(io.StringIO()) as out:
    main({folders!r})
assert "XTREME score" in out.getvalue(), out.getvalue()
print(heavy())
"""


@pytest.mark.slow  # starts processes
def test_neither_help_nor_scoring_imports_torch(world):
    probe = PROBE.format(folders=[str(folder) for folder in world])
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split("\n") == ["[]", "[]", ""]
