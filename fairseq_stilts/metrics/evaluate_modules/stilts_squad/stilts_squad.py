"""stilts_squad: extractive-QA exact match and F1 as a local Hugging Face ``evaluate`` metric.

Without ``lang`` the SQuAD v1.1 rules, which also score XQuAD and TyDiQA-GoldP in every language;
with ``lang`` (one of ar de en es hi vi zh) MLQA's language-aware rules. The numbers come from
``fairseq_stilts.metrics.qa``; see that module for the official scripts' quirks kept.

Load it from its folder; this needs no network (``evaluate`` copies the script into
``HF_MODULES_CACHE``, by default ``~/.cache/huggingface/modules``, which must be writable). On a
machine without network, setting ``HF_EVALUATE_OFFLINE=1`` and ``HF_HUB_OFFLINE=1`` is harmless and
stops anything else in the process from trying the Hub::

    import evaluate
    from fairseq_stilts.metrics import EVALUATE_MODULES
    squad = evaluate.load(str(EVALUATE_MODULES / "stilts_squad"))
    squad.compute(predictions=["Paris"], references=[["Paris", "in Paris"]])
    # {'exact_match': 100.0, 'f1': 100.0, 'count': 1, 'missing': 0}
    squad.compute(predictions=["北京大学"], references=[["北京"]], lang="zh")  # MLQA rules
"""

import datasets
import evaluate

from fairseq_stilts.metrics.qa import MLQA_LANGUAGES, mlqa_scores, squad_scores

_DESCRIPTION = "SQuAD v1.1 exact match and token F1 (max over gold answers), as percentages."
_INPUTS = f"""
Args:
    predictions: one predicted answer text per question.
    references: the gold answer texts of each question (at least one).
    lang: optional answer language for MLQA's rules, one of {", ".join(MLQA_LANGUAGES)}.
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

    def _compute(
        self, predictions: list[str], references: list[list[str]], lang: str | None = None
    ) -> dict:
        # evaluate has checked that both lists are equally long; positions serve as question ids
        predicted = {str(i): text for i, text in enumerate(predictions)}
        gold = {str(i): answers for i, answers in enumerate(references)}
        return squad_scores(predicted, gold) if lang is None else mlqa_scores(predicted, gold, lang)
