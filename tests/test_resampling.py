"""The report's bootstrap over test examples and seeds, and the per-example counts it reads."""

from __future__ import annotations

import numpy as np
import pytest

from fairseq_stilts.errors import StiltsError
from fairseq_stilts.metrics.pairs import pair_counts_by_source, pair_set_scores
from fairseq_stilts.metrics.sums import SUM_METRICS, metric_from_sums
from fairseq_stilts.metrics.tagging import f1_from_counts
from fairseq_stilts.results.example_counts import columns, read_counts, write_counts
from fairseq_stilts.results.report import build_report
from fairseq_stilts.results.resampling import (
    SeedResampler,
    estimate,
    resample_task,
    resampled_sums,
)
from fairseq_stilts.results.row import to_row


def _hits(n: int, ones: list[int]) -> dict[str, np.ndarray]:
    hits = np.zeros(n)
    hits[ones] = 1
    return {"ncorrect": hits, "nsentences": np.ones(n)}


def _paired_case():
    """500 examples: B right on the first 250; A right on those but 10, and on 40 more."""
    n = 500
    control = _hits(n, list(range(250)))
    treated = _hits(n, list(range(10, 290)))
    scores = {("B", 1): {"de": 50.0}, ("A", 1): {"de": 56.0}}
    counts = {("B", 1, "de"): control, ("A", 1, "de"): treated}
    return scores, counts


def test_paired_bootstrap_gives_the_known_interval():
    scores, counts = _paired_case()
    draws = resample_task("xnli", scores, counts, ("accuracy",), 4000, seed=0)
    assert draws.fixed_languages == []
    found = estimate(6.0, draws.runs["A", 1]["de"] - draws.runs["B", 1]["de"])
    # per-example differences: +1 on 40, -1 on 10 of 500 examples, so mean 0.06 and standard
    # error sqrt((50/500 - 0.06**2) / 500): the 95% interval is 6.0 +- 1.96 * 1.389 = [3.28, 8.72]
    # (unpaired, the two accuracies' errors would give +- 6.2)
    assert found.low == pytest.approx(3.28, abs=0.4)
    assert found.high == pytest.approx(8.72, abs=0.4)
    assert found.excludes_zero


def test_the_bootstrap_is_reproducible_by_seed():
    scores, counts = _paired_case()
    first = resample_task("xnli", scores, counts, ("accuracy",), 200, seed=5).runs["A", 1]
    again = resample_task("xnli", scores, counts, ("accuracy",), 200, seed=5).runs["A", 1]
    other = resample_task("xnli", scores, counts, ("accuracy",), 200, seed=6).runs["A", 1]
    assert np.array_equal(first["de"], again["de"])
    assert not np.array_equal(first["de"], other["de"])


def test_without_counts_only_the_seeds_vary():
    scores = {("A", seed): {"de": float(seed)} for seed in (1, 2, 3)}
    draws = resample_task("xnli", scores, {}, ("accuracy",), 2000, seed=0)
    assert draws.fixed_languages == ["de"]
    assert (draws.runs["A", 2]["de"] == 2.0).all()
    resampler = SeedResampler({"A": [1, 2, 3]}, 2000, seed=0)
    per_seed = {s: draws.runs["A", s]["de"] for s in (1, 2, 3)}
    # three seeds drawn with replacement: the mean is 1 (all seed 1) with probability 1/27 > 2.5%
    found = estimate(2.0, resampler.mean("A", per_seed, "xnli", "de"))
    assert (found.low, found.high) == (1.0, 3.0)
    # a drawn seed brings everything of the setting: another task's scores move with these
    tenfold = resampler.mean("A", {s: 10 * v for s, v in per_seed.items()}, "pawsx")
    assert np.allclose(tenfold, 10 * resampler.mean("A", per_seed, "xnli", "de"))
    # a quantity without seed 3 draws among seeds 1 and 2, as its value is their mean
    partial = resampler.mean("A", {1: per_seed[1], 2: per_seed[2]}, "tatoeba")
    assert set(np.unique(partial)) == {1.0, 1.5, 2.0}


def test_an_interval_of_no_width_excludes_nothing():
    assert not estimate(2.0, np.full(10, 2.0)).excludes_zero
    assert estimate(2.0, np.linspace(1.0, 3.0, 10)).excludes_zero
    assert not estimate(0.5, np.linspace(-1.0, 2.0, 10)).excludes_zero


def test_resampled_sums_draw_as_many_examples_as_there_are():
    rng = np.random.default_rng(0)
    sums = resampled_sums(np.ones((37, 2)), 50, rng)
    assert sums.shape == (50, 2) and (sums == 37).all()
    values = np.arange(10, dtype=float)[:, None]
    drawn = resampled_sums(values, 5000, rng)[:, 0]
    assert drawn.mean() == pytest.approx(45.0, rel=0.02)
    assert len(set(drawn)) > 10  # not the same draw every time


def test_metrics_from_sums_match_the_scorers():
    assert metric_from_sums("accuracy", {"ncorrect": 3, "nsentences": 4}) == 75.0
    assert metric_from_sums("exact_match", {"qa_exact": 1, "qa_questions": 0}) == 100.0
    for counts in ((4, 2, 2), (0, 0, 0), (3, 2, 0), (7, 5, 4)):
        expected = round(f1_from_counts(*counts), 4)
        sums = dict(zip(SUM_METRICS["seqeval_f1"].sums, counts, strict=True))
        assert metric_from_sums("seqeval_f1", sums) == expected


def test_bucc_counts_per_source_sum_to_the_pair_scores():
    predicted = [("s1", "t1"), ("s2", "t9"), ("s2", "t2"), ("s4", "t4")]
    gold = [("s1", "t1"), ("s2", "t2"), ("s3", "t3")]
    per_source = pair_counts_by_source(predicted, gold, ["s1", "s2", "s3", "s5"])
    assert len(per_source) == 5  # s1 s2 s3 s5, then s4 (predicted only)
    sums = {k: sum(c[k] for c in per_source) for k in per_source[0]}
    scores = pair_set_scores(predicted, gold)
    assert sums == {"pairs_predicted": 4, "pairs_gold": 3, "pairs_correct": 2}
    assert metric_from_sums("bucc_f1", sums) == pytest.approx(scores["f1"], abs=1e-4)


def test_counts_files_round_trip_and_refuse_garbage(tmp_path):
    path = tmp_path / "results.examples.npz"
    examples = [{"ncorrect": 1, "nsentences": 1}, {"ncorrect": 0, "nsentences": 1}]
    write_counts(path, {"de": columns(examples), "en": columns(examples[:1])})
    found = read_counts(path)
    assert found["de"]["ncorrect"].tolist() == [1.0, 0.0]
    assert found["en"]["nsentences"].tolist() == [1.0]
    path.write_bytes(b"not a zip file")
    with pytest.raises(StiltsError, match="results.examples.npz: not a readable"):
        read_counts(path)
    with path.open("wb") as handle:  # an .npy file under the name
        np.save(handle, np.ones(3))
    with pytest.raises(StiltsError, match="results.examples.npz: not a readable"):
        read_counts(path)
    for bad in ({"de/ncorrect": np.array([1.0, np.nan])}, {"de/ncorrect": np.array(["a"])}):
        np.savez(path.with_suffix(""), **bad)
        with pytest.raises(StiltsError, match="entry 'de/ncorrect' is not a <lang>/<sum> array"):
            read_counts(path)


def _rows(scores, sha: str | None) -> list:
    """XNLI rows of ``scores``; with ``sha``, each setting's data has its own manifest hash."""
    return [
        to_row(
            {
                "run": f"{setting}/s1/xnli",
                "setting": setting,
                "intermediate_languages": [],
                "target": "xnli",
                "language": "de",
                "split": "test",
                "metric": "accuracy",
                "value": by_lang["de"],
                "seed": 1,
                "checkpoint": "c.pt",
                "data_manifest_sha256": None if sha is None else f"{sha}-{setting}",
            }
        )
        for (setting, _), by_lang in scores.items()
    ]


def test_report_intervals_come_from_the_counts():
    scores, counts = _paired_case()
    rows = _rows(scores, sha=None)
    by_run = {(s, seed, "xnli", lang): c for (s, seed, lang), c in counts.items()}
    report = build_report(rows, baseline="B", english="B", multilingual="A", counts=by_run)
    assert report.fixed_languages == {}
    delta = report.deltas["A", "xnli"]
    assert delta.value == pytest.approx(6.0)
    assert delta.low == pytest.approx(3.28, abs=0.6) and delta.high == pytest.approx(8.72, abs=0.6)
    assert report.language_deltas["A", "xnli"]["de"] == delta
    assert report.comparisons[0].difference == delta
    # the same examples resampled for B alone: its accuracy's interval is about 50 +- 4.4
    score = report.intervals["B", "xnli"]
    assert score.value == 50.0 and score.low == pytest.approx(45.6, abs=0.8)


def test_runs_on_differently_prepared_data_are_not_paired():
    scores, counts = _paired_case()
    rows = _rows(scores, sha="differs")
    by_run = {(s, seed, "xnli", lang): c for (s, seed, lang), c in counts.items()}
    report = build_report(rows, baseline="B", counts=by_run)
    assert report.fixed_languages == {"xnli": ["de"]}
    assert any("differently prepared data" in note for note in report.notes)
