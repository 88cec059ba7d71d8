"""The span-QA family: extractive answers (SQuAD v1.1/v2.0, XQuAD, MLQA, TyDiQA-GoldP)."""

import json

from fairseq_stilts.families.span_qa import criterion
from fairseq_stilts.families.span_qa.prepare import prepare
from fairseq_stilts.families.span_qa.task import SpanQATask
from fairseq_stilts.families.stilts_task import SupervisedConfig
from fairseq_stilts.models.stilts_xlmr import SPAN
from fairseq_stilts.registry import Family, register_family


def answers_by_question(predictions: list) -> str:
    """XTREME's QA file: a JSON object of question id -> answer text."""
    answers = {p["question_id"]: p["text"] for p in predictions}
    return json.dumps(answers, ensure_ascii=False, indent=1) + "\n"


FAMILY = register_family(
    Family(
        name="span_qa",
        task=SpanQATask,
        config=SupervisedConfig,
        criterion=criterion.NAME,
        prepare=prepare,
        metrics=criterion.METRICS,
        head=SPAN,
        translated_train=True,
        submission_suffix=".json",
        submission_text=answers_by_question,
    )
)
