"""stilts_squad: SQuAD v1.1 exact match and F1 as a local Hugging Face ``evaluate`` metric.

The same rules score XQuAD and TyDiQA-GoldP in every language. The numbers come from
``fairseq_stilts.metrics.qa.squad_scores``; see that module for the official script's quirks kept.

Load it from its folder; this needs no network (``evaluate`` copies the script into
``HF_MODULES_CACHE``, by default ``~/.cache/huggingface/modules``, which must be writable). On a
machine without network, setting ``HF_EVALUATE_OFFLINE=1`` and ``HF_HUB_OFFLINE=1`` is harmless and
stops anything else in the process from trying the Hub::

    import evaluate
    from fairseq_stilts.metrics import EVALUATE_MODULES
    squad = evaluate.load(str(EVALUATE_MODULES / "stilts_squad"))
    squad.compute(predictions=["Paris"], references=[["Paris", "in Paris"]])
    # {'exact_match': 100.0, 'f1': 100.0, 'count': 1, 'missing': 0}
"""

import datasets
import evaluate

from fairseq_stilts.metrics.qa import squad_scores

_DESCRIPTION = "SQuAD v1.1 exact match and token F1 (max over gold answers), as percentages."
_INPUTS = """
Args:
    predictions: one predicted answer text per question.
    references: the gold answer texts of each question (at least one).
Returns:
    exact_match, f1: percentages over the questions; count: number of questions; missing: 0.
"""
_CITATION = """@inproceedings{rajpurkar-etal-2016-squad,
  title = {{SQuAD}: 100,000+ Questions for Machine Comprehension of Text},
  author = {Rajpurkar, Pranav and Zhang, Jian and Lopyrev, Konstantin and Liang, Percy},
  booktitle = {Proceedings of EMNLP},
  year = {2016}
}"""


class StiltsSquad(evaluate.Metric):
    """SQuAD v1.1 scores of answer texts."""

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_INPUTS,
            features=datasets.Features(
                {
                    "predictions": datasets.Value("string"),
                    "references": datasets.Sequence(datasets.Value("string")),
                }
            ),
        )

    def _compute(self, predictions: list[str], references: list[list[str]]) -> dict:
        # evaluate has checked that both lists are equally long; positions serve as question ids
        predicted = {str(i): text for i, text in enumerate(predictions)}
        gold = {str(i): answers for i, answers in enumerate(references)}
        return squad_scores(predicted, gold)
