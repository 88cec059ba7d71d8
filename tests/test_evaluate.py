"""stilts-eval: reading fairseq-validate's output and predictions, XTREME submission files, and
refusing what it cannot evaluate."""

from __future__ import annotations

import json

import pytest
from conftest import fairseq, train_args

from fairseq_stilts.cli import evaluate as evaluate_cli
from fairseq_stilts.cli.evaluate import (
    evaluate,
    format_table,
    read_metrics,
    read_records,
    submission_name,
)
from fairseq_stilts.errors import StiltsError
from fairseq_stilts.registry import get_family, get_spec
from fairseq_stilts.tiny import DATA_DIR
from fairseq_stilts.writes import write_folder


def test_the_metrics_of_each_subset_are_read_from_the_file_the_task_wrote(tmp_path):
    (tmp_path / "test.en.metrics.json").write_text('{"loss": 0.9, "accuracy": 80.0}')
    assert read_metrics(tmp_path, "test.en") == {"loss": 0.9, "accuracy": 80.0}
    with pytest.raises(StiltsError, match="wrote no metrics for subset 'test.de'"):
        read_metrics(tmp_path, "test.de")


def test_the_table_lists_languages_and_their_mean():
    rows = [
        {"language": "en", "metric": "accuracy", "value": 80.0},
        {"language": "de", "metric": "accuracy", "value": 40.0},
    ]
    assert format_table(rows).splitlines() == [
        "language    accuracy",
        "en             80.00",
        "de             40.00",
        "mean           60.00",
    ]


def test_missing_data_checkpoint_or_language_is_refused(tmp_path, prepared):
    with pytest.raises(StiltsError, match="manifest.json: not found"):
        evaluate("xnli", tmp_path, tmp_path / "checkpoint.pt")
    data = prepared("xnli")
    with pytest.raises(StiltsError, match="checkpoint.pt: checkpoint not found"):
        evaluate("xnli", data, tmp_path / "checkpoint.pt")
    (tmp_path / "checkpoint.pt").write_bytes(b"")
    with pytest.raises(
        StiltsError, match=r"no test data for \['ar'\]; it has \['de', 'en', 'es', 'fr'\]"
    ):
        evaluate("xnli", data, tmp_path / "checkpoint.pt", languages=["ar"])
    with pytest.raises(StiltsError, match="data was prepared for task 'xnli', not 'xquad'"):
        evaluate("xquad", data, tmp_path / "checkpoint.pt")


def test_the_command_reports_errors_in_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        evaluate_cli.main(["xnli", str(tmp_path), "--path", str(tmp_path / "c.pt")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err


def test_the_table_has_one_column_per_metric():
    rows = [
        {"language": "en", "metric": "seqeval_f1", "value": 70.0},
        {"language": "en", "metric": "token_accuracy", "value": 90.0},
        {"language": "de", "metric": "seqeval_f1", "value": 50.0},
        {"language": "de", "metric": "token_accuracy", "value": 80.0},
    ]
    assert format_table(rows).splitlines() == [
        "language    seqeval_f1  token_accuracy",
        "en               70.00           90.00",
        "de               50.00           80.00",
        "mean             60.00           85.00",
    ]


# Predictions.


def _rank_file(folder, name, records) -> None:
    (folder / name).write_text("".join(json.dumps(r) + "\n" for r in records))


def test_rank_files_are_merged_in_example_order(tmp_path):
    _rank_file(
        tmp_path, "test.de.0.jsonl", [{"id": 2, "prediction": "c"}, {"id": 0, "prediction": "a"}]
    )
    _rank_file(tmp_path, "test.de.1.jsonl", [{"id": 1, "prediction": "b"}])
    _rank_file(tmp_path, "test.en.0.jsonl", [{"id": 0, "prediction": "other subset"}])
    records = read_records(tmp_path, "test.de", 3)
    assert [r["prediction"] for r in records] == ["a", "b", "c"]
    with pytest.raises(
        StiltsError,
        match=r"predicted 3 examples of subset 'test.de', which has 4; missing ids: \[3\]",
    ):
        read_records(tmp_path, "test.de", 4)
    with pytest.raises(StiltsError, match="predicted 0 examples .* before --predictions-dir"):
        read_records(tmp_path, "test.fr", 1)
    _rank_file(
        tmp_path, "test.de.1.jsonl", [{"id": 1, "prediction": "b"}, {"id": 2, "prediction": "c"}]
    )
    with pytest.raises(
        StiltsError, match="test.de.1.jsonl: example 2 of subset 'test.de' was predicted twice"
    ):
        read_records(tmp_path, "test.de", 3)


def test_submission_files_follow_xtreme_layout():
    def family(task):
        return get_family(get_spec(task).family)

    assert submission_name(family("xnli"), "test", "de") == "test-de.tsv"
    assert submission_name(family("udpos"), "valid", "en") == "dev-en.tsv"
    assert submission_name(family("xquad"), "test", "es") == "test-es.json"
    assert family("xnli").submission_text(["neutral", "entailment"]) == "neutral\nentailment\n"
    assert family("hellaswag").submission_text([3, 0]) == "3\n0\n"
    tags = [["PRON", "VERB"], ["NOUN"]]
    assert family("udpos").submission_text(tags) == "PRON\nVERB\n\nNOUN\n"
    answers = [{"question_id": "q1", "text": "Zürich"}, {"question_id": "q2", "text": ""}]
    assert json.loads(family("xquad").submission_text(answers)) == {"q1": "Zürich", "q2": ""}


def test_the_predictions_folder_is_replaced_whole_or_not_at_all(tmp_path):
    out = tmp_path / "ckpt.xnli.test.predictions"
    write_folder(out, {"test-en.tsv": "old\n", "test-de.tsv": "old\n"})
    write_folder(out, {"test-en.tsv": "new\n"})
    assert [(p.name, p.read_text()) for p in out.iterdir()] == [("test-en.tsv", "new\n")]
    with pytest.raises(StiltsError, match="test-en.tsv: File exists"):
        write_folder(out, {"test-en.tsv": "newer\n", "test-en.tsv/inside.tsv": ""})
    assert (out / "test-en.tsv").read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]


@pytest.mark.slow
def test_stilts_eval_writes_xnli_predictions_that_give_its_accuracy(tmp_path, tiny_model, prepared):
    data = prepared("xnli")
    fairseq("fairseq-train", *train_args("xnli", data, tiny_model / "model.pt", tmp_path, 4))
    checkpoint = tmp_path / "checkpoint_last.pt"
    evaluate_cli.main(["xnli", str(data), "--path", str(checkpoint), "--cpu", "--batch-size", "8"])
    rows = json.loads(checkpoint.with_suffix(".xnli.test.json").read_text())
    folder = checkpoint.with_suffix(".xnli.test.predictions")
    assert sorted(p.name for p in folder.iterdir()) == [
        f"test-{x}.tsv" for x in ("de", "en", "es", "fr")
    ]
    for row in rows:
        gold = [
            line.split("\t")[2]
            for line in (DATA_DIR / "xnli" / f"test-{row['language']}.tsv").read_text().splitlines()
        ]
        predicted = (folder / f"test-{row['language']}.tsv").read_text().splitlines()
        assert len(predicted) == len(gold) == 30
        assert set(predicted) <= {"entailment", "neutral", "contradiction"}
        accuracy = 100 * sum(p == g for p, g in zip(predicted, gold, strict=True)) / len(gold)
        assert row["value"] == pytest.approx(accuracy, abs=1e-3)
