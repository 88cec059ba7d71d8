"""stilts-report and the results store, on a hand-made results file (no fairseq runs).

The report tests run on both store formats: the same rows give the same numbers from JSON lines
and from SQLite.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from fairseq_stilts.cli.report import main
from fairseq_stilts.errors import StiltsError
from fairseq_stilts.grid.runs import RESULTS, run_dir
from fairseq_stilts.results.categories import XTREME_TASKS, overall_score
from fairseq_stilts.results.example_counts import counts_path, write_counts
from fairseq_stilts.results.render import markdown
from fairseq_stilts.results.report import AVERAGE, average_label, build_report
from fairseq_stilts.results.row import Row, to_row
from fairseq_stilts.results.scores import official_metrics
from fairseq_stilts.results.store import CorruptRowWarning, append_rows, load_rows, read_rows

SETTINGS = {"none": [], "mnli": ["en"], "mnli-multilingual": ["en", "de", "fr"]}
# (setting, seed) -> (target, metric) -> language -> value
VALUES = {
    ("none", 1): {
        ("xnli", "accuracy"): {"en": 80.0, "de": 70.0},
        ("xquad", "f1"): {"en": 80.0, "de": 60.0},
        ("xquad", "exact_match"): {"en": 70.0, "de": 50.0},
        ("udpos", "seqeval_f1"): {"en": 90.0, "de": 80.0},
        ("udpos", "token_accuracy"): {"en": 95.0, "de": 85.0},
        ("tatoeba", "accuracy"): {"de": 50.0, "fr": 40.0},
    },
    ("none", 2): {
        ("xnli", "accuracy"): {"en": 82.0, "de": 72.0},
        ("xquad", "f1"): {"en": 82.0, "de": 62.0},
        ("xquad", "exact_match"): {"en": 72.0, "de": 52.0},
        ("udpos", "seqeval_f1"): {"en": 90.0, "de": 82.0},
        ("udpos", "token_accuracy"): {"en": 96.0, "de": 86.0},
        ("tatoeba", "accuracy"): {"de": 52.0, "fr": 42.0},
    },
    ("mnli", 1): {
        ("xnli", "accuracy"): {"en": 84.0, "de": 74.0},
        ("xquad", "f1"): {"en": 84.0, "de": 64.0},
        ("xquad", "exact_match"): {"en": 74.0, "de": 54.0},
        ("udpos", "seqeval_f1"): {"en": 91.0, "de": 81.0},
        ("udpos", "token_accuracy"): {"en": 96.0, "de": 86.0},
        ("tatoeba", "accuracy"): {"de": 50.0, "fr": 40.0},
    },
    ("mnli", 2): {
        ("xnli", "accuracy"): {"en": 86.0, "de": 76.0},
        ("xquad", "f1"): {"en": 86.0, "de": 66.0},
        ("xquad", "exact_match"): {"en": 76.0, "de": 56.0},
        ("udpos", "seqeval_f1"): {"en": 91.0, "de": 83.0},
        ("udpos", "token_accuracy"): {"en": 97.0, "de": 87.0},
        ("tatoeba", "accuracy"): {"de": 54.0, "fr": 44.0},
    },
    ("mnli-multilingual", 1): {
        ("xnli", "accuracy"): {"en": 85.0, "de": 79.0},
        ("xquad", "f1"): {"en": 85.0, "de": 71.0},
        ("xquad", "exact_match"): {"en": 75.0, "de": 61.0},
        ("udpos", "seqeval_f1"): {"en": 93.0, "de": 84.0},
        ("udpos", "token_accuracy"): {"en": 97.0, "de": 88.0},
        ("tatoeba", "accuracy"): {"de": 60.0, "fr": 50.0},
    },
    ("mnli-multilingual", 2): {
        ("xnli", "accuracy"): {"en": 85.0, "de": 81.0},
        ("xquad", "f1"): {"en": 87.0, "de": 73.0},
        ("xquad", "exact_match"): {"en": 77.0, "de": 63.0},
        ("udpos", "seqeval_f1"): {"en": 93.0, "de": 86.0},
        ("udpos", "token_accuracy"): {"en": 98.0, "de": 89.0},
        ("tatoeba", "accuracy"): {"de": 56.0, "fr": 46.0},
    },
}


def make_rows() -> list[dict]:
    rows = []
    for (setting, seed), by_metric in VALUES.items():
        for (target, metric), by_lang in by_metric.items():
            for lang, value in by_lang.items():
                rows.append(
                    {
                        "run": f"{setting}-{target}-s{seed}",
                        "setting": setting,
                        "intermediate_languages": SETTINGS[setting],
                        "target": target,
                        "language": lang,
                        "split": "test",
                        "metric": metric,
                        "value": value,
                        "seed": seed,
                        "checkpoint": f"ckpt/{setting}-{target}-s{seed}/checkpoint_best.pt",
                        "data_manifest_sha256": None if target == "tatoeba" else "ab" * 32,
                    }
                )
    return rows


def write_store(path):
    append_rows(path, make_rows()[:10])
    append_rows(path, make_rows()[10:])
    return path


@pytest.fixture(params=[".jsonl", ".sqlite"])
def store(request, tmp_path):
    return write_store(tmp_path / f"results{request.param}")


@pytest.fixture
def jsonl_store(tmp_path):
    return write_store(tmp_path / "results.jsonl")


def test_task_scores_average_deltas_and_seed_statistics(store):
    report = build_report(read_rows(store), english="mnli", multilingual="mnli-multilingual")
    scores = report.seed_scores
    assert report.tasks == ["xnli", "udpos", "xquad", "tatoeba"]
    assert report.average_tasks == report.tasks
    # accuracy: mean over languages
    assert scores["none", "xnli"] == {1: (80.0 + 70.0) / 2, 2: (82.0 + 72.0) / 2}
    # QA: (mean EM + mean F1) / 2
    assert scores["none", "xquad"][1] == ((70.0 + 50.0) / 2 + (80.0 + 60.0) / 2) / 2
    assert scores["mnli-multilingual", "xquad"][2] == ((77.0 + 63.0) / 2 + (87.0 + 73.0) / 2) / 2
    # POS: seqeval F1, not token accuracy
    assert scores["mnli-multilingual", "udpos"][1] == (93.0 + 84.0) / 2
    assert scores["mnli", "tatoeba"][2] == (54.0 + 44.0) / 2
    # XTREME average per seed over the four tasks
    assert scores["none", AVERAGE][1] == pytest.approx((75.0 + 65.0 + 85.0 + 45.0) / 4)
    assert scores["none", AVERAGE][2] == pytest.approx((77.0 + 67.0 + 86.0 + 47.0) / 4)
    assert scores["mnli", AVERAGE][1] == pytest.approx((79.0 + 69.0 + 86.0 + 45.0) / 4)
    assert scores["mnli", AVERAGE][2] == pytest.approx((81.0 + 71.0 + 87.0 + 49.0) / 4)
    # mean and std (ddof=1) over the two seeds
    xnli = report.summaries["none", "xnli"]
    assert xnli.seeds == 2
    assert xnli.mean == pytest.approx((75.0 + 77.0) / 2)
    assert xnli.std == pytest.approx((((75.0 - 76.0) ** 2 + (77.0 - 76.0) ** 2) / (2 - 1)) ** 0.5)
    average = report.summaries["mnli", AVERAGE]
    mnli_avg = [(79.0 + 69.0 + 86.0 + 45.0) / 4, (81.0 + 71.0 + 87.0 + 49.0) / 4]
    assert average.mean == pytest.approx((mnli_avg[0] + mnli_avg[1]) / 2)
    assert average.std == pytest.approx(abs(mnli_avg[0] - mnli_avg[1]) / 2**0.5)
    # deltas against "none": difference of seed means
    assert ("none", "xnli") not in report.deltas
    assert report.deltas["mnli", "xnli"].value == pytest.approx((79.0 + 81.0) / 2 - 76.0)
    assert report.deltas["mnli-multilingual", "xnli"].value == pytest.approx(
        (82.0 + 83.0) / 2 - 76.0
    )
    none_avg = [(75.0 + 65.0 + 85.0 + 45.0) / 4, (77.0 + 67.0 + 86.0 + 47.0) / 4]
    assert report.deltas["mnli", AVERAGE].value == pytest.approx(
        sum(mnli_avg) / 2 - sum(none_avg) / 2
    )
    # per-language deltas: seed means of the language score, setting minus baseline
    assert report.language_deltas["mnli", "xnli"]["de"].value == pytest.approx(75.0 - 71.0)
    assert report.language_deltas["mnli-multilingual", "xquad"]["de"].value == pytest.approx(
        ((61.0 + 71.0) / 2 + (63.0 + 73.0) / 2) / 2 - ((50.0 + 60.0) / 2 + (52.0 + 62.0) / 2) / 2
    )
    assert set(report.language_deltas["mnli", "tatoeba"]) == {"de", "fr"}
    # per-language table: mean over seeds, non-official metrics too
    assert report.language_tables["udpos", "token_accuracy"]["none"] == {
        "en": (95.0 + 96.0) / 2,
        "de": (85.0 + 86.0) / 2,
    }


def _rows(scores: dict[tuple[str, int, str], float]) -> list[Row]:
    """One language per (setting, seed, target): its official metric(s) at ``score``."""
    return [
        to_row(
            {
                "run": f"{setting}-{target}-s{seed}",
                "setting": setting,
                "intermediate_languages": [],
                "target": target,
                "language": "de",
                "split": "test",
                "metric": metric,
                "value": value,
                "seed": seed,
                "checkpoint": "c.pt",
                "data_manifest_sha256": None,
            }
        )
        for (setting, seed, target), value in scores.items()
        for metric in official_metrics(target)
    ]


def test_categories_and_the_xtreme_score_only_with_every_task():
    task_score = {"xnli": 70.0, "pawsx": 80.0, "udpos": 90.0, "panx": 60.0, "xquad": 50.0}
    task_score |= {"mlqa": 40.0, "tydiqa": 30.0, "bucc": 20.0, "tatoeba": 10.0}
    scores = {("none", 1, t): v for t, v in task_score.items()}
    scores |= {("mnli", 1, t): v + 2.0 for t, v in task_score.items() if t != "bucc"}
    report = build_report(_rows(scores))
    assert report.seed_scores["none", "sentence classification"] == {1: 75.0}
    assert report.seed_scores["none", "structured prediction"] == {1: 75.0}
    assert report.seed_scores["none", "question answering"] == {1: 40.0}
    assert report.seed_scores["none", "sentence retrieval"] == {1: 15.0}
    assert ("mnli", "sentence retrieval") not in report.seed_scores  # bucc is missing
    assert report.deltas["mnli", "question answering"].value == pytest.approx(2.0)
    # mnli lacks bucc: the average is over the eight tasks both have, and named partial
    assert set(report.average_tasks) == set(XTREME_TASKS) - {"bucc"}
    assert average_label(report) == "partial average (8 of 9 tasks)"
    assert report.seed_scores["none", AVERAGE][1] == pytest.approx((450.0 - 20.0) / 8)
    assert any("no XTREME score" in note and "bucc" in note for note in report.notes)
    text = markdown(report)
    assert "## XTREME categories" in text
    assert "| none | 75.00 (n=1) | 75.00 (n=1) | 40.00 (n=1) | 15.00 (n=1) |" in text
    # one seed, no per-example counts: the interval has no width and is not starred
    assert (
        "| mnli | +2.00 [+2.00, +2.00] | +2.00 [+2.00, +2.00] | +2.00 [+2.00, +2.00] |  |" in text
    )
    scores[("mnli", 1, "bucc")] = 22.0
    complete = build_report(_rows(scores))
    assert average_label(complete) == "XTREME score"
    assert complete.seed_scores["none", AVERAGE][1] == pytest.approx(450.0 / 9)
    assert overall_score(task_score) == pytest.approx(450.0 / 9)
    assert not any("no XTREME score" in note for note in complete.notes)


def test_english_vs_multilingual_per_language_and_task(store):
    report = build_report(read_rows(store), english="mnli", multilingual="mnli-multilingual")
    by_task = {c.target: c for c in report.comparisons}
    xnli = by_task["xnli"]
    # per language, seeds averaged: en (85+85)/2 - (84+86)/2 = 0, de (79+81)/2 - (74+76)/2 = 5
    assert list(xnli.languages) == ["de", "en"]
    assert xnli.languages["en"].value == pytest.approx(0.0)
    assert xnli.languages["de"].value == pytest.approx(5.0)
    assert xnli.difference.value == pytest.approx(2.5)
    assert xnli.difference.value == pytest.approx(xnli.multilingual - xnli.english)
    # no per-example counts: only the seeds vary. A drawn seed brings all of its languages,
    # so English-only's mean is 79, 80 or 81 and multilingual's 82, 82.5 or 83
    assert 1.0 <= xnli.difference.low < 2.5 < xnli.difference.high <= 4.0
    assert report.fixed_languages["xnli"] == ["de", "en"]
    xquad = by_task["xquad"]
    # language score (EM + F1) / 2: en 80 -> 81, de 60 -> 67
    assert xquad.difference.value == pytest.approx(((81.0 - 80.0) + (67.0 - 60.0)) / 2)
    assert xquad.difference.low <= xquad.difference.value <= xquad.difference.high
    tatoeba = by_task["tatoeba"]
    assert tatoeba.difference.value == pytest.approx(6.0)
    # per-seed task means: English-only 45 or 49, multilingual 55 or 51
    assert 2.0 <= tatoeba.difference.low < 6.0 < tatoeba.difference.high <= 10.0


def test_corrupt_lines_are_reported_and_skipped(jsonl_store):
    store = jsonl_store
    lines = store.read_text().splitlines(keepends=True)
    missing = json.loads(lines[4])
    del missing["seed"]
    lines[2:2] = ["{not json\n"]  # becomes line 3
    lines[5:5] = [json.dumps(missing) + "\n"]  # becomes line 6
    store.write_text("".join(lines))
    rows, problems = load_rows(store)
    assert len(rows) == len(make_rows())
    assert len(problems) == 2
    assert f"{store}:3: invalid JSON" in problems[0]
    assert f"{store}:6:" in problems[1] and "seed" in problems[1]
    with pytest.warns(CorruptRowWarning) as caught:
        assert len(read_rows(store)) == len(make_rows())
    assert [str(w.message) for w in caught] == problems


def test_append_checks_rows_and_survives_a_torn_line(tmp_path):
    path = tmp_path / "results.jsonl"
    good, bad = make_rows()[:2]
    bad["value"] = "high"
    with pytest.raises(StiltsError, match="'value'"):
        append_rows(path, [good, bad])
    assert not path.exists()  # all or nothing
    path.write_text(json.dumps(good)[:40])  # a writer died mid-line
    append_rows(path, [good])
    rows, problems = load_rows(path)
    assert [r.value for r in rows] == [good["value"]]
    assert len(problems) == 1 and ":1:" in problems[0]


def test_cli_writes_markdown_csv_and_plots(store, tmp_path, capsys):
    out = tmp_path / "report"
    main(
        [str(store), "--out", str(out), "--english", "mnli", "--multilingual", "mnli-multilingual"]
    )
    printed, warned = capsys.readouterr()
    assert "warning" not in warned
    assert "# X-STILTs results" in printed and f"wrote {out / 'report.md'}" in printed
    for name in (
        "report.md",
        "task_scores.csv",
        "seed_scores.csv",
        "english_vs_multilingual.csv",
        "languages_xnli_accuracy.csv",
        "languages_udpos_token_accuracy.csv",
    ):
        assert (out / name).is_file(), name
    for stem in (
        "task_deltas",
        "english_vs_multilingual",
        "category_scores",
        "multilingual_minus_english",
        "language_deltas/mnli",
        "language_deltas/mnli-multilingual",
    ):
        png, svg = out / "figures" / f"{stem}.png", out / "figures" / f"{stem}.svg"
        assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 1000
        assert b"<svg" in svg.read_bytes()[:1000]
        assert f"wrote {png}" in printed and f"figures/{stem}.png" in printed
    with open(out / "task_scores.csv") as handle:
        table = {(r["setting"], r["task"]): r for r in csv.DictReader(handle)}
    assert float(table["mnli", "xnli"]["mean"]) == pytest.approx((79.0 + 81.0) / 2)
    assert float(table["mnli", "xnli"]["delta_vs_none"]) == pytest.approx(80.0 - 76.0)
    assert table["none", "xnli"]["delta_vs_none"] == ""
    assert (
        "The partial average (4 of 9 tasks) is the mean of the task scores over 4 of the 9 XTREME "
        "tasks: xnli, udpos, xquad, tatoeba." in printed
    )
    assert (
        "| setting | xnli | udpos | xquad | tatoeba | partial average (4 of 9 tasks) |" in printed
    )
    assert "no XTREME score: it needs all 9 tasks, and pawsx, panx, mlqa, tydiqa, bucc" in printed
    assert "## XTREME categories" not in printed  # no category has all of its tasks here


def test_cli_refuses_one_sided_comparison(store, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([str(store), "--out", str(tmp_path / "r"), "--english", "mnli"])
    assert exit_info.value.code == 2
    assert "--multilingual" in capsys.readouterr().err


def test_cli_help_names_both_formats(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    printed = " ".join(capsys.readouterr().out.split())
    assert "JSON lines (.jsonl) or SQLite (.sqlite, .sqlite3, .db)" in printed


def test_cli_reads_the_grid_runs_counts_and_warns_on_a_bad_file(tmp_path, capsys):
    grid = tmp_path / "grid"
    store = write_store(grid / "results.jsonl")
    by_run: dict[str, dict] = {}
    for row in make_rows():
        if row["target"] == "xnli":  # counts that give the stored accuracy: 2 x value hits of 200
            hits = np.zeros(200)
            hits[: round(2 * row["value"])] = 1
            by_run.setdefault(row["run"], {})[row["language"]] = {
                "ncorrect": hits,
                "nsentences": np.ones(200),
            }
    for run, found in by_run.items():
        write_counts(counts_path(run_dir(grid, run) / RESULTS), found)
    bad = counts_path(run_dir(grid, "none-xquad-s1") / RESULTS)
    bad.parent.mkdir(parents=True)
    bad.write_text("garbage")
    stale = counts_path(run_dir(grid, "mnli-udpos-s1") / RESULTS)
    write_counts(stale, {"en": {"ncorrect": np.ones(3), "nsentences": np.ones(3)}})
    main([str(store), "--out", str(tmp_path / "report")])
    printed, warned = capsys.readouterr()
    assert f"warning: {bad}: not a readable per-example counts file" in warned
    # a udpos run's file gives no seqeval_f1: not used, said so
    assert f"warning: {stale}: the counts of 'en' give no seqeval_f1: not used" in warned
    method = printed.split("## How the intervals are computed")[1].split("##")[0]
    assert "xnli:" not in method  # every xnli run's counts were used
    assert "udpos: de en" in method  # none there: seeds only, and said so


def test_cli_refuses_a_negative_seed(store, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([str(store), "--out", str(tmp_path / "r"), "--seed", "-1"])
    assert exit_info.value.code == 2
    assert "--seed must be 0 or more" in capsys.readouterr().err
