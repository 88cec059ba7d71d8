"""The demo's three phases, shortened: every phase runs and the comparison table is complete."""

from __future__ import annotations

import json

import pytest

from fairseq_stilts.cli.demo import format_comparison, run_demo

pytestmark = pytest.mark.slow


def test_demo_runs_all_phases_and_compares_intermediate_settings(tmp_path):
    table = run_demo(tmp_path, pretrain_updates=20, updates=8)
    assert list(table) == ["none", "mnli"]
    assert all(list(row) == ["en", "de", "es", "fr"] for row in table.values())
    assert all(0 <= v <= 100 for row in table.values() for v in row.values())
    rows = json.loads((tmp_path / "results.json").read_text())
    assert len(rows) == 8 and {r["intermediate"] for r in rows} == {"none", "mnli"}
    text = format_comparison(table)
    assert text.splitlines()[1].split() == ["language", "none", "mnli"]
    assert (tmp_path / "checkpoints" / "mnli-xnli" / "checkpoint_best.pt").is_file()
