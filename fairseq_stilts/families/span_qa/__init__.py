"""The span-QA family: extractive answers (SQuAD v1.1/v2.0, XQuAD, MLQA, TyDiQA-GoldP)."""

import json

from fairseq_stilts.registry import SPAN, Family, TaskSpec, register_family


def prepare(request):
    """Questions in SQuAD format (:mod:`fairseq_stilts.families.span_qa.prepare`)."""
    from fairseq_stilts.families.span_qa.prepare import prepare_questions

    return prepare_questions(request)


def answers_by_question(predictions: list) -> str:
    """XTREME's QA file: a JSON object of question id -> answer text."""
    answers = {p["question_id"]: p["text"] for p in predictions}
    return json.dumps(answers, ensure_ascii=False, indent=1) + "\n"


def questions(spec: TaskSpec, text: str) -> int:
    """The questions a QA submission file answers."""
    return len(json.loads(text))


FAMILY = register_family(
    Family(
        name="span_qa",
        task="fairseq_stilts.families.span_qa.task:SpanQATask",
        config="fairseq_stilts.families.stilts_task:SupervisedConfig",
        criterion="stilts_span_qa",
        prepare=prepare,
        metrics=("f1", "exact_match"),
        head=SPAN,
        translated_train=True,
        submission_suffix=".json",
        submission_text=answers_by_question,
        submission_count=questions,
    )
)
