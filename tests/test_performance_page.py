"""benchmarks/results.json and the performance page generated from it (no benchmark runs here)."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import performance_page  # noqa: E402
import record  # noqa: E402


def _run(commit: str, value: float = 1.0) -> dict:
    table = record.Table("t", ["method", "ratio"])
    table.add("(a)", f"{value:.2f}")
    return {
        "date": "2026-12-04 05:00 UTC",
        "commit": commit,
        "command": "python benchmarks/x.py",
        "machine": {"cpu": "a CPU", "cores": 2, "bf16_flags": [], "python": "3.11", "torch": "2"},
        "others": 0.01,
        "tables": [asdict(table)],
        "aims": [
            {"name": "ratio", "value": value, "target": 1.3, "at_most": False, "met": value >= 1.3}
        ],
        "notes": [],
    }


def test_the_page_is_what_the_results_file_gives():
    document = json.loads(record.RESULTS.read_text(encoding="utf-8"))
    assert record.PAGE.read_text(encoding="utf-8") == performance_page.render(document), (
        "docs/performance.md is stale: run python benchmarks/performance_page.py"
    )


def test_runs_at_one_commit_are_kept_and_another_commit_replaces_them(tmp_path):
    path = tmp_path / "results.json"
    for value in (1.0, 1.1):
        record.merge(path, "speed", "Speed", "about", _run("aaa", value))
    assert [
        r["aims"][0]["value"] for r in json.loads(path.read_text())["benchmarks"]["speed"]["runs"]
    ] == [1.0, 1.1]
    record.merge(path, "other", "Other", "about", _run("aaa"))
    record.merge(path, "speed", "Speed", "about", _run("bbb", 1.4))
    benchmarks = json.loads(path.read_text())["benchmarks"]
    assert [r["commit"] for r in benchmarks["speed"]["runs"]] == ["bbb"]
    assert [r["commit"] for r in benchmarks["other"]["runs"]] == ["aaa"]  # untouched
    for value in (1, 2, 3, 4):
        record.merge(path, "speed", "Speed", "about", _run("bbb", value))
    assert len(json.loads(path.read_text())["benchmarks"]["speed"]["runs"]) == record.KEPT_RUNS


def test_the_page_gives_each_run_its_commit_machine_table_and_verdict(tmp_path):
    path = tmp_path / "results.json"
    record.merge(path, "speed", "Speed", "What it times.", _run("aaa", 1.31))
    record.merge(path, "speed", "Speed", "What it times.", _run("aaa", 0.97))
    page = performance_page.render(json.loads(path.read_text()))
    assert "## Speed\n\nWhat it times." in page
    assert page.count("commit `aaa`") == 2 and "a CPU, 2 logical CPUs, no bf16 instructions" in page
    assert "| method | ratio |\n|---|---:|\n| (a) | 1.31 |" in page
    assert "- ratio: 1.31 (aim >= 1.3): met" in page
    assert "- ratio: 0.97 (aim >= 1.3): **not met**" in page


@pytest.mark.parametrize(
    ("aim", "met"),
    [
        (record.Aim("x", 1.3, 1.3), True),
        (record.Aim("x", 1.29, 1.3), False),
        (record.Aim("t", 59.0, 60, at_most=True), True),
        (record.Aim("t", 61.0, 60, at_most=True), False),
    ],
)
def test_an_aim_is_met_at_its_target_and_on_its_side(aim, met):
    assert aim.met is met
    assert aim.line().endswith("met" if met else "NOT met")


def test_spread_is_median_min_max():
    assert record.spread([1.2, 0.9, 1.0]) == "1.00 (0.90, 1.20)"


def test_check_mode_tells_a_stale_page(tmp_path, monkeypatch, capsys):
    results = tmp_path / "results.json"
    record.merge(results, "speed", "Speed", "about", _run("aaa"))
    out = tmp_path / "performance.md"
    argv = ["performance_page.py", "--results", str(results), "--out", str(out)]
    monkeypatch.setattr(sys, "argv", argv)
    performance_page.main()
    monkeypatch.setattr(sys, "argv", [*argv, "--check"])
    with pytest.raises(SystemExit) as done:
        performance_page.main()
    assert done.value.code == 0
    out.write_text(out.read_text() + "edited by hand\n")
    with pytest.raises(SystemExit) as done:
        performance_page.main()
    assert "is not what" in str(done.value.code)
