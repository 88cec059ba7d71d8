"""stilts-eval: reading fairseq-validate's output, and refusing what it cannot evaluate."""

from __future__ import annotations

import pytest

from fairseq_stilts.cli import evaluate as evaluate_cli
from fairseq_stilts.cli.evaluate import _parse_validate_output, evaluate, format_table
from fairseq_stilts.errors import StiltsError

VALIDATE_OUTPUT = """\
2026-11-26 12:40:25 | INFO | fairseq_cli.validate | {'_name': None, 'common': {'_name': None}}
2026-11-26 12:40:25 | INFO | test.en | {"test.en_loss": "0.9", "test.en_accuracy": "80"}
2026-11-26 12:40:25 | INFO | fairseq_stilts.tasks.classification | xnli: loaded test.de with 30 examples
2026-11-26 12:40:25 | INFO | test.de | {"test.de_loss": "2.5", "test.de_accuracy": "46.6667"}
"""


def test_the_json_line_of_each_subset_is_read_and_other_lines_ignored():
    stats = _parse_validate_output(VALIDATE_OUTPUT, ["test.en", "test.de"])
    assert stats == {
        "test.en": {"test.en_loss": "0.9", "test.en_accuracy": "80"},
        "test.de": {"test.de_loss": "2.5", "test.de_accuracy": "46.6667"},
    }


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
    with pytest.raises(StiltsError, match="not implement yet"):
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
