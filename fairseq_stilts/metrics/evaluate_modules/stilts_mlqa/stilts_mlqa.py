"""stilts_mlqa: MLQA v1 exact match and F1 as a local Hugging Face ``evaluate`` metric.

The answer language is a required ``compute`` argument (``lang``, one of ar de en es hi vi zh);
it selects the articles removed and, for zh, per-character tokens. The numbers come from
``fairseq_stilts.metrics.qa.mlqa_scores``; see that module for the official script's quirks kept.

Load it from its folder; this needs no network (``evaluate`` copies the script into
``HF_MODULES_CACHE``, by default ``~/.cache/huggingface/modules``, which must be writable). On a
machine without network, setting ``HF_EVALUATE_OFFLINE=1`` and ``HF_HUB_OFFLINE=1`` is harmless and
stops anything else in the process from trying the Hub::

    import evaluate
    from fairseq_stilts.metrics import EVALUATE_MODULES
    mlqa = evaluate.load(str(EVALUATE_MODULES / "stilts_mlqa"))
    mlqa.compute(predictions=["北京大学"], references=[["北京"]], lang="zh")
"""

import datasets
import evaluate

from fairseq_stilts.metrics.qa import MLQA_LANGUAGES, mlqa_scores

_DESCRIPTION = "MLQA v1 exact match and token F1 (max over gold answers), as percentages."
_INPUTS = f"""
Args:
    predictions: one predicted answer text per question.
    references: the gold answer texts of each question (at least one).
    lang: the answer language, one of {", ".join(MLQA_LANGUAGES)}.
Returns:
    exact_match, f1: percentages over the questions; count: number of questions; missing: 0.
"""
_CITATION = """@inproceedings{lewis-etal-2020-mlqa,
  title = {{MLQA}: Evaluating Cross-lingual Extractive Question Answering},
  author = {Lewis, Patrick and Oguz, Barlas and Rinott, Ruty and Riedel, Sebastian and Schwenk, Holger},
  booktitle = {Proceedings of ACL},
  year = {2020}
}"""


class StiltsMlqa(evaluate.Metric):
    """MLQA v1 scores of answer texts in one answer language."""

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
        if lang is None:
            raise ValueError(
                f"stilts_mlqa needs the answer language: compute(..., lang=...), one of {', '.join(MLQA_LANGUAGES)}"
            )
        # evaluate has checked that both lists are equally long; positions serve as question ids
        predicted = {str(i): text for i, text in enumerate(predictions)}
        gold = {str(i): answers for i, answers in enumerate(references)}
        return mlqa_scores(predicted, gold, lang)
