"""Local `evaluate` module: BUCC 2018 precision / recall / F1 of mined id pairs.

Load it by path, offline: ``evaluate.load("<...>/evaluate_modules/stilts_bucc")``.
"""

from __future__ import annotations

import datasets
import evaluate

from fairseq_stilts.metrics.retrieval import MinedPair, optimize_threshold, pair_scores

_DESCRIPTION = """\
Scores mined BUCC pairs against gold pairs, x100. Pass exactly one example, one split: its
prediction is the list of mined candidates (source_id, target_id, score), its reference the list
of gold (source_id, target_id) pairs. Candidates scoring >= threshold are extracted. Without a threshold
the one maximising F1 on this split is chosen (XTREME's rule: midpoints between consecutive
scores): do that on dev, then pass the returned threshold when scoring test.
"""

_KWARGS_DESCRIPTION = """\
Args:
    predictions: [candidates]: one list of {"source_id", "target_id", "score"} mined pairs.
    references: [gold]: one list of {"source_id", "target_id"} gold pairs.
    threshold: score threshold; None tunes it on the given split.
Returns:
    precision, recall, f1 (x100), threshold, n_extracted, n_gold, n_correct.
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class StiltsBucc(evaluate.Metric):
    """BUCC mining F1 with XTREME's threshold search."""

    def _info(self) -> evaluate.MetricInfo:
        pair = {"source_id": datasets.Value("string"), "target_id": datasets.Value("string")}
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "predictions": datasets.List({**pair, "score": datasets.Value("float64")}),
                    "references": datasets.List(pair),
                }
            ),
        )

    def _compute(self, predictions, references, threshold: float | None = None) -> dict:
        if len(predictions) != 1:
            raise ValueError(f"score one split at a time, got {len(predictions)} examples")
        candidates = [MinedPair(c["source_id"], c["target_id"], c["score"]) for c in predictions[0]]
        gold = {(g["source_id"], g["target_id"]) for g in references[0]}
        if threshold is None:
            threshold = optimize_threshold(candidates, gold)
        return pair_scores(candidates, gold, threshold)
