"""From XTREME's download layout (test labels stripped) to a checked submission folder."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest
from conftest import fairseq, train_args

from fairseq_stilts.cli import evaluate as evaluate_cli
from fairseq_stilts.cli import prepare as prepare_cli
from fairseq_stilts.cli import retrieve as retrieve_cli
from fairseq_stilts.cli import submission as submission_cli
from fairseq_stilts.errors import StiltsError
from fairseq_stilts.families.retrieval.data import check_languages, read_bucc, read_tatoeba
from fairseq_stilts.families.retrieval.retrievers import read_test_sets
from fairseq_stilts.registry import get_family, get_spec
from fairseq_stilts.results.categories import XTREME_TASKS
from fairseq_stilts.tiny import DATA_DIR
from fairseq_stilts.tiny.xtreme_download import write_download, write_gold
from fairseq_stilts.xtreme.prepare import SUMMARY, read_summary
from fairseq_stilts.xtreme.submission import check_complete


@pytest.fixture(scope="module")
def download(tmp_path_factory) -> Path:
    return write_download(tmp_path_factory.mktemp("xtreme") / "download")


def test_the_fixture_is_stripped_as_xtreme_strips_it(download):
    assert [len(line.split("\t")) for line in (download / "xnli/test-de.tsv").open()] == [2] * 30
    assert "\t" not in (download / "udpos/test-de.tsv").read_text()
    assert not list((download / "bucc2018").glob("*.test.gold"))
    english = (download / "tatoeba/de-en.en").read_text().splitlines()
    assert english == sorted(english) != (DATA_DIR / "tatoeba/de-en.en").read_text().splitlines()
    document = json.loads(
        (download / "tydiqa/tydiqa-goldp-v1.1-dev/tydiqa.goldp.fi.dev.json").read_text()
    )
    answers = [qa["answers"] for a in document["data"] for p in a["paragraphs"] for qa in p["qas"]]
    assert answers and all(a == [{"answer_start": 0, "text": ""}] for a in answers)


def test_retrieval_files_without_gold_are_read_as_unlabelled(download):
    bucc, tatoeba = get_spec("bucc"), get_spec("tatoeba")
    raw = download / "bucc2018"
    assert check_languages(bucc, raw, None) == ["de", "fr"]
    assert read_bucc(bucc, raw, "de", "test").gold is None
    assert read_bucc(bucc, raw, "de", "dev").gold  # the dev gold stays: it tunes the threshold
    assert not read_tatoeba(tatoeba, download / "tatoeba", "de").labelled
    assert read_tatoeba(tatoeba, DATA_DIR / "tatoeba", "de").labelled
    bucc_de = read_test_sets(bucc, raw, ["de"])["de"]
    assert (bucc_de.examples, bucc_de.labelled) == (
        len(read_bucc(bucc, raw, "de", "test").source),
        False,
    )
    english = (download / "tatoeba/de-en.en").read_text().splitlines()
    tatoeba_de = read_test_sets(tatoeba, download / "tatoeba", None)["de"]
    assert (tatoeba_de.examples, tatoeba_de.labelled) == (len(english), False)


def test_xtreme_refuses_options_that_choose_one_tasks_data(tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        prepare_cli.main(
            ["xtreme", str(tmp_path), "--model", str(tmp_path), "--out", str(tmp_path / "d")]
            + ["--train-languages", "en,de"]
        )
    assert info.value.code == 2
    assert "error: stilts-prepare xtreme: --train-languages" in capsys.readouterr().err


def _summary(data: Path, tests: dict[str, dict[str, int]]) -> None:
    tasks = [
        {"task": task, "folder": str(data / task), "train": 1, "missing": [], "absent": ""}
        | {"test": {lang: {"examples": n, "labelled": False} for lang, n in tests[task].items()}}
        for task in tests
    ]
    data.mkdir(parents=True, exist_ok=True)
    (data / SUMMARY).write_text(json.dumps({"download": str(data), "tasks": tasks}))


def test_completeness_names_missing_extra_and_miscounted_files(tmp_path):
    langs = get_spec("pawsx").languages
    counted = {"pawsx": dict.fromkeys(langs, 2), "tatoeba": dict.fromkeys(["de"], 2)}
    _summary(tmp_path, counted | {"bucc": {"de": 5}})
    files = {"pawsx": {f"test-{lang}.tsv": "0\n1\n" for lang in langs}}
    files |= {"tatoeba": {"test-de.tsv": "0\n1\n"}, "bucc2018": {"test-de.tsv": "a\tb\n"}}
    notes = check_complete(files, tmp_path, allow_missing=True)
    assert notes[0] == "xnli: no predictions (no --checkpoint xnli=...)"
    assert "bucc2018: missing languages fr ru zh" in notes  # any number of pairs: no count
    others = [lang for lang in get_spec("tatoeba").languages if lang != "de"]
    assert f"tatoeba: missing languages {' '.join(others)}" in notes
    files["tatoeba"]["test-de.tsv"] = "0\n"
    with pytest.raises(StiltsError, match="tatoeba/test-de.tsv: 1 predictions for 2 test"):
        check_complete(files, tmp_path, allow_missing=True)
    del files["tatoeba"], files["bucc2018"]
    with pytest.raises(StiltsError, match="xnli: no predictions"):
        check_complete(files, tmp_path)
    short = {"pawsx": files["pawsx"] | {"test-de.tsv": "0\n", "test-xx.tsv": "1\n"}}
    with pytest.raises(StiltsError) as info:
        check_complete(short, tmp_path, allow_missing=True)
    assert "pawsx: languages outside XTREME's list: xx" in str(info.value)
    assert "pawsx/test-de.tsv: 1 predictions for 2 test examples" in str(info.value)
    del files["pawsx"]["test-ja.tsv"]
    with pytest.raises(StiltsError, match="pawsx: missing languages ja"):
        check_complete(files, tmp_path)


@pytest.mark.slow
def test_from_the_download_to_a_submission_scored_as_stilts_eval_scores(
    download, tmp_path, tiny_model, prepared, capsys
):
    from fairseq_stilts.cli import score as score_cli

    data = tmp_path / "data"
    prepare_cli.main(
        ["xtreme", str(download), "--model", str(tiny_model), "--out", str(data)]
        + ["--workers", "1", "--quiet"]
    )
    printed = capsys.readouterr().out
    assert "prepared 9 of 9 XTREME targets" in printed and "xnli: missing languages ar" in printed
    _, summaries = read_summary(data)
    assert all(not t.labelled for s in summaries for t in s.test.values())
    checkpoints, expected = {}, {}
    for task in XTREME_TASKS:
        family = get_family(get_spec(task).family)
        if family.scored_by:
            checkpoints[task] = tiny_model / "model.pt"
            out = tmp_path / f"{task}.json"
            retrieve_cli.main(
                [
                    task,
                    str(DATA_DIR / task),
                    "--path",
                    str(checkpoints[task]),
                    "--model-dir",
                    str(tiny_model),
                    "--out",
                    str(out),
                    "--cpu",
                ]
            )
        else:
            save = tmp_path / "ckpt" / task
            extra = ("--criterion", family.criterion)
            fairseq(
                "fairseq-train",
                *train_args(task, data / task, tiny_model / "model.pt", save, 2, *extra),
            )
            checkpoints[task] = save / "checkpoint_last.pt"
            out = tmp_path / f"{task}.json"
            evaluate_cli.main(
                [
                    task,
                    str(prepared(task)),
                    "--path",
                    str(checkpoints[task]),
                    "--cpu",
                    "--quiet",
                    "--out",
                    str(out),
                ]
            )
        expected[task] = json.loads(out.read_text())
    submission = tmp_path / "submission"
    submission_cli.main(
        [
            str(data),
            "--model-dir",
            str(tiny_model),
            "--out",
            str(submission),
            "--cpu",
            "--quiet",
            "--allow-missing",
        ]
        + [f"--checkpoint={t}={c}" for t, c in checkpoints.items()]
    )
    assert "note: xnli: missing languages ar" in capsys.readouterr().out
    names = sorted(p.relative_to(submission).as_posix() for p in submission.rglob("*.*"))
    with zipfile.ZipFile(submission.with_suffix(".zip")) as archive:
        assert sorted(n for n in archive.namelist() if not n.endswith("/")) == names
    assert {name.split("/")[0] for name in names} == {get_spec(t).xtreme_name for t in checkpoints}
    scored = tmp_path / "scores.json"
    gold = write_gold(tmp_path / "gold")
    score_cli.main([str(submission), str(gold), "--partial", "--out", str(scored)])
    assert "XTREME score" in capsys.readouterr().out
    scores = json.loads(scored.read_text())
    assert scores["partial"] and not scores["missing"]
    compared = 0
    for task, rows in expected.items():
        for row in rows:
            if row["metric"] in get_spec(task).metrics:
                got = scores["tasks"][task]["languages"][row["language"]][row["metric"]]
                assert got == pytest.approx(row["value"], abs=1e-4), (task, row)  # fairseq rounds
                compared += 1
    assert compared == sum(
        len(get_spec(t).metrics) * len(s.test)
        for t in XTREME_TASKS
        for s in summaries
        if s.task == t
    )


def test_tatoeba_gold_names_for_each_sorted_english_line_its_translation(download, tmp_path):
    """XTREME's convention: English lines query the other language's lines (its
    ``similarity_search`` indexes the other side and searches with English)."""
    gold = write_gold(tmp_path / "gold")
    sorted_english = (download / "tatoeba/de-en.en").read_text().splitlines()
    original = (DATA_DIR / "tatoeba/de-en.en").read_text().splitlines()
    indices = [int(i) for i in (gold / "tatoeba/test-de.tsv").read_text().split()]
    assert [original[i].strip() for i in indices] == sorted_english


def test_a_broken_summary_or_a_missing_checkpoint_is_one_line(tmp_path, capsys):
    (tmp_path / SUMMARY).write_text('{"tasks": []}')
    argv = [str(tmp_path), "--model-dir", str(tmp_path), "--out", str(tmp_path / "s")]
    with pytest.raises(SystemExit):
        submission_cli.main([*argv, "--checkpoint", "xnli=x.pt"])
    assert "xtreme.json: not a summary stilts-prepare xtreme wrote" in capsys.readouterr().err
    _summary(tmp_path, {"xnli": {"de": 1}})
    with pytest.raises(SystemExit):
        submission_cli.main([*argv, "--checkpoint", f"xnli={tmp_path / 'none.pt'}"])
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--checkpoint: no such file" in err
    assert not (tmp_path / "s").exists()


def test_a_submission_that_would_miss_a_target_stops_before_predicting(tmp_path, capsys):
    _summary(tmp_path, {"pawsx": dict.fromkeys(get_spec("pawsx").languages, 2)})
    broken = tmp_path / "broken.pt"  # predicting with it would fail otherwise
    broken.write_bytes(b"not a checkpoint")
    argv = [str(tmp_path), "--model-dir", str(tmp_path), "--out", str(tmp_path / "s")]
    with pytest.raises(SystemExit):
        submission_cli.main([*argv, "--checkpoint", f"pawsx={broken}"])
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "incomplete submission: xnli: no predictions" in err
    assert "(--allow-missing writes it anyway)" in err and not (tmp_path / "s").exists()


def test_a_run_stopped_at_one_target_resumes_there(download, tiny_model, tmp_path, capsys):
    partial, data = tmp_path / "download", tmp_path / "data"
    shutil.copytree(download / "pawsx", partial / "pawsx")
    argv = ["xtreme", str(partial), "--model", str(tiny_model), "--out", str(data)]
    prepare_cli.main([*argv, "--workers", "1"])
    manifest = data / "pawsx" / "manifest.json"
    written = manifest.stat().st_mtime_ns
    shutil.copytree(download / "xnli", partial / "xnli")  # as if the first run stopped there
    prepare_cli.main([*argv, "--workers", "1"])
    printed = capsys.readouterr().out
    assert "pawsx: kept" in printed and "xnli: preparing" in printed
    assert manifest.stat().st_mtime_ns == written
    _, summaries = read_summary(data)
    assert {s.task for s in summaries if not s.absent} == {"pawsx", "xnli"}
    other = tmp_path / "other-model"
    shutil.copytree(tiny_model, other)
    with (other / "dict.txt").open("a") as dictionary:
        dictionary.write("extra 1\n")
    with pytest.raises(SystemExit):
        prepare_cli.main(["xtreme", str(partial), "--model", str(other), "--out", str(data)])
    assert "prepared from another model" in capsys.readouterr().err


def test_a_grid_offers_each_targets_finished_runs_and_dev_chooses_the_seed(tmp_path):
    from test_grid import world

    from fairseq_stilts.grid.candidates import Candidate, best_candidate, grid_candidates
    from fairseq_stilts.grid.folder import claim, done_marker
    from fairseq_stilts.grid.plan import parse_plan
    from fairseq_stilts.grid.runs import expand

    raw = world(tmp_path)
    grid = tmp_path / "grid"
    claim(grid, tmp_path / "plan.yaml", json.dumps(raw))  # JSON is YAML
    runs = [run for chain in expand(parse_plan(raw), grid) for run in chain]
    for run in runs:
        if run.setting == "mnli" and run.id != "mnli/s2/tatoeba":  # that one is unfinished
            done_marker(grid, run.id).parent.mkdir(parents=True, exist_ok=True)
            done_marker(grid, run.id).write_text("")
    found = grid_candidates(grid, "mnli")
    ckpt = grid.absolute() / "runs" / "mnli"
    assert found == {
        "xnli": [
            Candidate(seed, ckpt / f"s{seed}" / "xnli" / "checkpoints" / "checkpoint_last.pt")
            for seed in (1, 2)
        ],
        "tatoeba": [Candidate(1, ckpt / "s1" / "checkpoints" / "checkpoint_last.pt")],
    }
    assert grid_candidates(grid, "mnli", seed=2) == {"xnli": found["xnli"][1:]}
    dev = {found["xnli"][0].checkpoint: 70.0, found["xnli"][1].checkpoint: 71.5}
    assert best_candidate(found["xnli"], dev.__getitem__) == (found["xnli"][1], {1: 70.0, 2: 71.5})
    assert best_candidate(found["xnli"], lambda _: 5.0)[0].seed == 1  # a tie: the lowest seed
    assert best_candidate(found["tatoeba"], None)[0] == found["tatoeba"][0]  # nothing to score
    with pytest.raises(StiltsError, match="--setting 'mlm': .* has the settings none, mnli"):
        grid_candidates(grid, "mlm")
    with pytest.raises(StiltsError, match=r"--seed 3: .* has the seeds \[1, 2\]"):
        grid_candidates(grid, "mnli", seed=3)
    with pytest.raises(StiltsError, match="no finished target run of setting 'none'"):
        grid_candidates(grid, "none")


def test_stilts_submission_takes_each_targets_best_dev_seed_from_a_grid(
    tmp_path, monkeypatch, capsys
):
    from test_grid import world

    from fairseq_stilts.cli import evaluate as evaluate_module
    from fairseq_stilts.grid.folder import claim, done_marker
    from fairseq_stilts.grid.plan import parse_plan
    from fairseq_stilts.grid.runs import expand

    raw = world(tmp_path)
    grid = tmp_path / "grid"
    claim(grid, tmp_path / "plan.yaml", json.dumps(raw))
    for run in (run for chain in expand(parse_plan(raw), grid) for run in chain):
        if run.setting == "mnli":
            done_marker(grid, run.id).parent.mkdir(parents=True, exist_ok=True)
            done_marker(grid, run.id).write_text("")
    data = tmp_path / "prepared"
    _summary(data, {"xnli": {"en": 2}, "tatoeba": {"de": 2}})
    dev = {"s1": 60.0, "s2": 62.5}  # English dev accuracy of each seed's xnli checkpoint
    asked = []

    def fake_evaluate(task, folder, checkpoint, split, languages, **_):
        asked.append((task, Path(folder), split, languages))
        value = dev[Path(checkpoint).parts[-4]]
        return [{"language": "en", "metric": "accuracy", "value": value}]

    monkeypatch.setattr(evaluate_module, "evaluate", fake_evaluate)
    chosen = submission_cli.grid_checkpoints(data, grid, "mnli")
    runs = grid.absolute() / "runs" / "mnli"
    assert chosen == {
        "xnli": runs / "s2" / "xnli" / "checkpoints" / "checkpoint_last.pt",
        "tatoeba": runs / "s1" / "checkpoints" / "checkpoint_last.pt",
    }
    assert asked == [("xnli", data / "xnli", "valid", ["en"])] * 2
    printed = capsys.readouterr().out
    assert "xnli: seed 2 of mnli (seed 1: 60.00, seed 2: 62.50)" in printed
    assert "tatoeba: seed 1 of mnli (the first seed: no dev set" in printed
    _summary(data, {"tatoeba": {"de": 2}})
    with pytest.raises(StiltsError, match="the grid has xnli runs but .* has no data for it"):
        submission_cli.grid_checkpoints(data, grid, "mnli")
    with pytest.raises(SystemExit):
        submission_cli.main([str(data), "--model-dir", str(tmp_path), "--out", "s", "--seed", "1"])
    assert "--grid and --setting go together" in capsys.readouterr().err
