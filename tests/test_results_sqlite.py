"""The SQLite results store: atomic appends, concurrent writers, corrupt rows, bad files."""

from __future__ import annotations

import multiprocessing
import sqlite3

import pytest
from test_report import make_rows

from fairseq_stilts.errors import StiltsError
from fairseq_stilts.results.row import FIELDS
from fairseq_stilts.results.store import append_rows, load_rows, read_rows


def count(path) -> int:
    with sqlite3.connect(path) as connection:
        return connection.execute("SELECT COUNT(*) FROM results").fetchone()[0]


@pytest.mark.parametrize("suffix", [".sqlite", ".sqlite3", ".db"])
def test_sqlite_gives_the_rows_of_json_lines(tmp_path, suffix):
    append_rows(tmp_path / "results.jsonl", make_rows())
    append_rows(tmp_path / f"results{suffix}", make_rows()[:7])
    append_rows(tmp_path / f"results{suffix}", make_rows()[7:])
    from_sqlite = read_rows(tmp_path / f"results{suffix}")
    assert len(from_sqlite) == len(make_rows())
    assert from_sqlite == read_rows(tmp_path / "results.jsonl")
    assert from_sqlite[-1].intermediate_languages == ("en", "de", "fr")
    assert any(row.data_manifest_sha256 is None for row in from_sqlite)
    with sqlite3.connect(tmp_path / f"results{suffix}") as connection:
        columns = {c[1]: c[2] for c in connection.execute("PRAGMA table_info(results)")}
    assert columns == {
        "rowid": "INTEGER",
        **{name: "TEXT" for name in FIELDS},
        "value": "REAL",
        "seed": "INTEGER",
    }


def test_append_is_all_or_none(tmp_path):
    path = tmp_path / "results.sqlite"
    good, bad = make_rows()[:2]
    bad["value"] = "high"
    with pytest.raises(StiltsError, match="'value'"):
        append_rows(path, [good, bad])
    assert not path.exists()  # checked before anything is written
    append_rows(path, [good])
    with pytest.raises(StiltsError, match="'seed'"):
        append_rows(path, [good, {**good, "seed": None}])
    assert count(path) == 1
    # a failure inside the transaction (here a trigger) rolls back the rows already inserted
    with sqlite3.connect(path) as connection:
        connection.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON results WHEN NEW.run = 'poison' BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
    with pytest.raises(StiltsError, match=f"{path}.*refused"):
        append_rows(path, [good, good, {**good, "run": "poison"}])
    assert count(path) == 1
    rows, problems = load_rows(path)
    assert [r.run for r in rows] == [good["run"]] and problems == []


def test_corrupt_rows_are_reported_by_rowid_and_skipped(tmp_path):
    path = tmp_path / "results.sqlite"
    append_rows(path, make_rows())
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE results SET value = NULL WHERE rowid = 3")
        connection.execute("UPDATE results SET value = 'high' WHERE rowid = 5")
        connection.execute("UPDATE results SET intermediate_languages = '[\"en\"' WHERE rowid = 8")
        connection.execute("UPDATE results SET language = NULL WHERE rowid = 13")
    rows, problems = load_rows(path)
    assert len(rows) == len(make_rows()) - 4
    kept = [r for i, r in enumerate(make_rows(), start=1) if i not in (3, 5, 8, 13)]
    assert [(r.run, r.language, r.metric) for r in rows] == [
        (r["run"], r["language"], r["metric"]) for r in kept
    ]
    assert len(problems) == 4
    assert problems[0].startswith(f"{path}: row 3: ") and "'value'" in problems[0]
    assert problems[1].startswith(f"{path}: row 5: ") and "'high'" in problems[1]
    assert problems[2].startswith(f"{path}: row 8: invalid JSON in 'intermediate_languages'")
    assert problems[3].startswith(f"{path}: row 13: ") and "'language'" in problems[3]
    assert all(p.endswith("; row skipped") for p in problems)


def test_files_that_are_not_a_results_database(tmp_path):
    text = tmp_path / "results.sqlite"
    text.write_text('{"run": "a json line in the wrong file"}\n')
    for call in (lambda: load_rows(text), lambda: append_rows(text, make_rows()[:1])):
        with pytest.raises(StiltsError, match=f"{text} is not a SQLite database"):
            call()
    assert text.read_text() == '{"run": "a json line in the wrong file"}\n'  # left alone
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as connection:
        connection.execute("CREATE TABLE runs (name TEXT)")
    with pytest.raises(StiltsError, match=f"{other} has no 'results' table"):
        load_rows(other)
    partial = tmp_path / "partial.sqlite3"
    with sqlite3.connect(partial) as connection:
        connection.execute("CREATE TABLE results (rowid INTEGER PRIMARY KEY, run TEXT, value REAL)")
    for call in (lambda: load_rows(partial), lambda: append_rows(partial, make_rows()[:1])):
        with pytest.raises(
            StiltsError,
            match=f"{partial}: table 'results' lacks column\\(s\\) setting, intermediate_languages",
        ):
            call()
    with pytest.raises(StiltsError, match=f"no results store at {tmp_path / 'absent.sqlite'}"):
        load_rows(tmp_path / "absent.sqlite")


@pytest.mark.parametrize("name", ["results.csv", "results.json", "results"])
def test_unknown_suffix_is_refused(tmp_path, name):
    path = tmp_path / name
    with pytest.raises(
        StiltsError, match=f"{path}: unknown suffix .*valid: .jsonl, .sqlite, .sqlite3, .db"
    ):
        append_rows(path, make_rows()[:1])
    assert not path.exists()
    path.write_text("")
    with pytest.raises(StiltsError, match="unknown suffix"):
        load_rows(path)


def append_in_batches(path, worker: int, start) -> None:
    start.wait()  # both writers begin together
    for first in range(0, 50, 5):  # 10 transactions of 5 rows: each one fsyncs
        append_rows(
            path,
            [
                {**make_rows()[0], "run": f"writer{worker}", "seed": seed}
                for seed in range(first, first + 5)
            ],
        )


def test_concurrent_writers_wait_for_each_other(tmp_path):
    path = tmp_path / "grid" / "results.sqlite"
    context = multiprocessing.get_context("fork")  # spawn would re-import torch, for seconds
    start = context.Barrier(2)
    writers = [context.Process(target=append_in_batches, args=(path, w, start)) for w in (1, 2)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=60)
    assert [w.exitcode for w in writers] == [0, 0]
    rows, problems = load_rows(path)
    assert problems == [] and len(rows) == 100
    for worker in (1, 2):
        assert sorted(r.seed for r in rows if r.run == f"writer{worker}") == list(range(50))
