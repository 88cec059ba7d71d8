"""The demo's mini grid, shortened to one seed: every run finishes and the report is complete."""

from __future__ import annotations

import csv

import pytest

from fairseq_stilts.cli.demo import main
from fairseq_stilts.results.store import read_rows

pytestmark = pytest.mark.slow


def test_demo_runs_the_mini_grid_and_reports(tmp_path, capsys):
    out = tmp_path / "demo"
    main(["--out", str(out), "--pretrain-updates", "20", "--updates", "6", "--seeds", "1"])
    printed = capsys.readouterr().out
    assert "grid: 11/11 runs done" in printed and "11 done, 0 skipped, 0 failed" in printed
    rows = read_rows(out / "grid" / "results.jsonl")
    settings = {"none": (), "mnli": ("en",), "mnli-multilingual": ("en", "de", "es", "fr")}
    assert {r.setting: r.intermediate_languages for r in rows} == settings
    assert {(r.setting, r.target) for r in rows} == {
        (s, t) for s in settings for t in ("xnli", "pawsx", "tatoeba")
    }
    multilingual = (out / "grid" / "runs" / "mnli-multilingual" / "s1" / "commands.sh").read_text()
    assert "--train-languages en,de,es,fr" in multilingual
    report = out / "report"
    for name in (
        "report.md",
        "figures/task_deltas.png",
        "figures/category_scores.svg",
        "figures/english_vs_multilingual.png",
        "figures/multilingual_minus_english.png",
        "figures/language_deltas/mnli-multilingual.png",
    ):
        assert f"wrote {report / name}" in printed and (report / name).stat().st_size > 0
    assert "| mnli-multilingual |" in printed  # the Markdown table is printed
    # the opening paragraph, and intervals over examples: every run kept its counts
    assert "Multilingual intermediate training (mnli-multilingual) against English-only" in printed
    assert "No per-example counts" not in printed
    assert (out / "grid" / "runs" / "mnli" / "s1" / "xnli" / "results.examples.npz").is_file()
    with open(report / "english_vs_multilingual.csv", newline="") as handle:
        compared = {(row["task"], row["language"]) for row in csv.DictReader(handle)}
    assert {task for task, _ in compared} == {"xnli", "pawsx", "tatoeba"}
    assert ("xnli", "all") in compared and ("xnli", "de") in compared
