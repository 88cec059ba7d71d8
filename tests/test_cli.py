"""What every stilts-* command shares: help texts with defaults, one spelling of language lists,
output that reaches a pipe as it is printed, no third-party debug lines, and the one line a
plain pip install prints without fairseq."""

from __future__ import annotations

import argparse
import ast
import os
import select
import subprocess
import sys
from pathlib import Path

import pytest

from fairseq_stilts.cli import evaluate as evaluate_cli
from fairseq_stilts.cli.main import LanguageList, argument_parser
from fairseq_stilts.errors import StiltsError
from fairseq_stilts.runtime import PROGRESS_LINE, USER_DIR

CLI = Path(USER_DIR) / "cli"


COMMANDS = (
    "tasks",
    "prepare",
    "evaluate",
    "retrieve",
    "report",
    "score",
    "submission",
    "tiny_model",
    "demo",
    "convert",
    "grid",
)
PROBE = """
import contextlib, importlib, io, sys
sys.argv = ["stilts-{name}", "--help"]
module = importlib.import_module("fairseq_stilts.cli.{name}")
with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.suppress(SystemExit):
    module.main(["--help"])
assert "usage: stilts-" in out.getvalue(), out.getvalue()
print(sorted(m for m in ("torch", "fairseq", "transformers") if m in sys.modules))
"""


@pytest.mark.parametrize("name", COMMANDS)
def test_help_imports_neither_fairseq_nor_torch(name):
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(name=name)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"


def test_listing_the_tasks_imports_neither_fairseq_nor_torch():
    probe = (
        "import contextlib, io, sys\n"
        "sys.argv = ['stilts-tasks']\n"
        "from fairseq_stilts.cli.tasks import main\n"
        "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "    main([])\n"
        "assert 'ClassificationTask' in out.getvalue(), out.getvalue()\n"
        "print(sorted(m for m in ('torch', 'fairseq', 'numpy') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "[]"


def test_every_command_is_probed():
    scripts = [line for line in (Path(USER_DIR).parent / "setup.cfg").read_text().splitlines()]
    commands = {
        line.split("fairseq_stilts.cli.")[1].split(":")[0]
        for line in scripts
        if "= fairseq_stilts.cli." in line
    }
    assert commands == set(COMMANDS)


def test_every_option_of_every_command_has_help():
    missing = []
    for path in sorted(CLI.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument":
                if not any(keyword.arg == "help" for keyword in node.keywords):
                    missing.append(f"{path.name}:{node.lineno}")
    assert missing == []


def test_help_shows_defaults_and_keeps_the_description(capsys):
    parser = argument_parser("stilts-x", "First line.\n\n- a list item\n- another")
    parser.add_argument("--batch-size", type=int, default=32, help="examples per batch")
    with pytest.raises(SystemExit):
        parser.parse_args(["--help"])
    out = capsys.readouterr().out
    assert "examples per batch (default: 32)" in out
    assert "- a list item\n- another" in out


@pytest.mark.parametrize("argv", [["--languages", "en,de", "fr"], ["--languages", "en", "de,fr"]])
def test_language_lists_accept_commas_and_spaces(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--languages", nargs="+", action=LanguageList)
    assert parser.parse_args(argv).languages == ["en", "de", "fr"]


def test_stilts_eval_passes_other_options_to_fairseq_validate(tmp_path, prepared, monkeypatch):
    calls = []

    def fake_run(name, args, log, echo=False):
        calls.append((name, args, log))
        raise StiltsError("stop here")

    monkeypatch.setattr(evaluate_cli, "run_fairseq", fake_run)
    checkpoint = tmp_path / "checkpoint.pt"
    checkpoint.write_bytes(b"")
    out = tmp_path / "results" / "xnli.json"
    argv = ["xnli", str(prepared("xnli")), "--path", str(checkpoint), "--out", str(out)]
    with pytest.raises(SystemExit):
        evaluate_cli.main([*argv, "--max-tokens", "999", "--fp16", "--quiet"])
    name, args, log = calls[0]
    assert name == "fairseq-validate"
    assert args[args.index("--max-tokens") + 1] == "999" and "--fp16" in args
    assert log == out.with_suffix(".log")  # beside --out, not beside the checkpoint


def test_only_fairseq_progress_lines_are_echoed():
    shown = [
        "2026-12-02 19:54:45 | INFO | train_inner | epoch 003:      4 / 8 loss=8.646",
        "2026-12-02 19:54:44 | INFO | train | epoch 001 | loss 8.677",
        "2026-12-02 19:55:01 | INFO | test.de | test.de | loss 1.2 | accuracy 40",
        "2026-12-02 19:55:01 | INFO | valid | epoch 001 | valid on 'valid' subset | loss 1.1",
    ]
    hidden = [
        "2026-12-02 19:54:42 | INFO | fairseq_cli.train | {'_name': None, 'common': {}}",
        "/hydra/compose.py:56: UserWarning: The strict flag in the compose API is deprecated.",
    ]
    assert [line for line in shown + hidden if PROGRESS_LINE.search(line)] == shown


def _python(code: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": ""},
        **kwargs,
    )


@pytest.mark.slow  # starts processes
def test_output_reaches_a_pipe_as_it_is_printed():
    process = _python(
        "import time\n"
        "from fairseq_stilts.cli.main import cli\n"
        "cli(lambda argv: (print('started'), time.sleep(60)))()\n"
    )
    try:
        ready, _, _ = select.select([process.stdout], [], [], 50)
        assert ready and process.stdout.readline() == "started\n"
    finally:
        process.kill()
        process.communicate()


def test_no_third_party_debug_lines():
    result = subprocess.run(
        [str(Path(sys.executable).parent / "stilts-report"), "--help"],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "LOGLEVEL"},
    )
    assert result.returncode == 0
    assert "DEBUG" not in result.stdout + result.stderr


def test_without_fairseq_the_import_stops_with_the_line_to_run():
    process = _python("import sys\nsys.modules['fairseq'] = None\nimport fairseq_stilts\n")
    out, err = process.communicate(timeout=120)
    assert process.returncode == 1
    assert err.strip().splitlines() == [err.strip()]  # one line, no traceback
    assert err.startswith(
        "error: fairseq is not installed; run `pip install --no-deps ve-fairseq==0.12.3`"
    )
