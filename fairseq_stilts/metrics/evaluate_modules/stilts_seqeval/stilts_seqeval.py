"""Local `evaluate` module: seqeval F1 and token accuracy for PANX (IOB2) and UDPOS (UPOS tags).

Load it by path, offline: ``evaluate.load("<...>/evaluate_modules/stilts_seqeval")``.
"""

from __future__ import annotations

import datasets
import evaluate

from fairseq_stilts.metrics.tagging import tagging_scores

_DESCRIPTION = """\
Tagging scores as XTREME computes them, x100, over the sentences in the order given:
seqeval_f1 / seqeval_precision / seqeval_recall are seqeval's default-mode micro scores (entity
level on IOB2 NER; on raw UPOS tags seqeval reads the first letter as a chunk prefix and merges
runs, so the number depends on the seqeval version), token_accuracy is plain per-token accuracy.
"""

_KWARGS_DESCRIPTION = """\
Args:
    predictions: list of sentences, each a list of predicted tag strings.
    references: list of sentences, each a list of gold tag strings (same lengths).
Returns:
    seqeval_f1, seqeval_precision, seqeval_recall, token_accuracy (all x100).
Examples:
    >>> metric = evaluate.load("fairseq_stilts/metrics/evaluate_modules/stilts_seqeval")
    >>> metric.compute(predictions=[["B-PER", "O"]], references=[["B-PER", "O"]])["seqeval_f1"]
    100.0
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class StiltsSeqeval(evaluate.Metric):
    """seqeval F1 (XTREME's tagging metric) and token accuracy."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {
                    "predictions": datasets.Sequence(datasets.Value("string")),
                    "references": datasets.Sequence(datasets.Value("string")),
                }
            ),
        )

    def _compute(self, predictions, references) -> dict[str, float]:
        return tagging_scores(references, predictions)
