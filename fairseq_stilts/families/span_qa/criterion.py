"""Span QA: cross-entropy on answer start and end; text EM/F1 with the official rules.

The loss is the mean of start and end cross-entropy over the positions of each window (padding
excluded), summed over windows; a window without the answer points at ``<s>``. In evaluation every
question of the batch is decoded to text (:mod:`fairseq_stilts.families.span_qa.decode`) and scored
against its gold answers (:mod:`fairseq_stilts.metrics.qa`: SQuAD v1.1 rules, MLQA's per-language
rules for MLQA, SQuAD v2.0's rule for unanswerable questions). Logged sums reduce exactly across
batches and ranks: ``qa_exact`` and ``qa_f1`` (per-question scores in [0, 1]) and ``qa_questions``;
derived ``exact_match`` and ``f1`` (x100).
"""

from dataclasses import dataclass, field

import numpy as np
import torch.nn.functional as F
from fairseq.criterions import FairseqCriterion, register_criterion
from fairseq.dataclass import FairseqDataclass
from fairseq.logging import metrics

from fairseq_stilts.families.label_loss import derived, log_loss_and_sums
from fairseq_stilts.families.span_qa import FAMILY
from fairseq_stilts.families.span_qa.decode import QuestionScores, WindowScores, decode_answers
from fairseq_stilts.metrics.qa import QASums, question_scores

SUMS = ("qa_exact", "qa_f1", "qa_questions")
LANGUAGE_AWARE_SCORING = ("mlqa",)  # TaskSpec.scoring values with per-language answer rules


@dataclass
class SpanQACriterionConfig(FairseqDataclass):
    n_best_size: int = field(
        default=20, metadata={"help": "start and end candidates per window when decoding"}
    )
    max_answer_length: int = field(
        default=30, metadata={"help": "longest answer, in tokens, when decoding"}
    )
    null_score_diff_threshold: float = field(
        default=0.0,
        metadata={
            "help": "SQuAD v2.0 data: answer nothing when the null score beats the best span "
            "by more than this"
        },
    )


@register_criterion(FAMILY.criterion, dataclass=SpanQACriterionConfig)
class SpanQACriterion(FairseqCriterion):
    """Start/end cross-entropy through the task's span head (``task.head_name``)."""

    def __init__(self, cfg: SpanQACriterionConfig, task):
        super().__init__(task)
        self.cfg = cfg

    def forward(self, model, sample, reduce=True):
        tokens = sample["net_input"]["src_tokens"]
        logits, _ = model(
            **sample["net_input"], features_only=True, classification_head_name=self.task.head_name
        )  # windows x time x 2
        logits = logits.float().masked_fill(
            tokens.eq(self.task.dictionary.pad()).unsqueeze(-1), -1e4
        )
        start, end = logits.unbind(dim=-1)
        target = sample["target"]
        loss = (
            F.cross_entropy(start, target[:, 0], reduction="sum")
            + F.cross_entropy(end, target[:, 1], reduction="sum")
        ) / 2
        windows = target.size(0)
        logging_output = {
            "loss": loss.data,
            "ntokens": sample["ntokens"],
            "nsentences": sample["nsentences"],
            "sample_size": windows,
        }
        if not model.training and "questions" in sample:
            logging_output.update(self.score(sample, start, end))
        return loss, windows, logging_output

    def score(self, sample, start, end) -> dict[str, float]:
        """Decode every question of the batch (all together) and sum its EM and F1."""
        start, end = start.cpu().numpy(), end.cpu().numpy()
        questions, first = [], 0
        for question, size in zip(sample["questions"], sample["group_sizes"].tolist(), strict=True):
            rows = slice(first, first + size)
            first += size
            questions.append(self.scores(question, sample["windows"][rows], start[rows], end[rows]))
        decoded = decode_answers(
            questions,
            n_best=self.cfg.n_best_size,
            max_answer_length=self.cfg.max_answer_length,
            allow_null=self.task.manifest.no_answer,
            null_threshold=self.cfg.null_score_diff_threshold,
        )
        total, texts, counts = QASums(), [], []
        for question, text in zip(sample["questions"], decoded, strict=True):
            lang = question["lang"] if self.task.spec.scoring in LANGUAGE_AWARE_SCORING else None
            exact, f1 = question_scores(text, question["answers"], lang)
            total += QASums(exact, f1, 1)
            texts.append({"question_id": question["id"], "text": text})
            counts.append({"qa_exact": exact, "qa_f1": f1, "qa_questions": 1})
        self.task.record_predictions(sample["id"].tolist(), texts, counts)
        return {"qa_exact": total.exact_match, "qa_f1": total.f1, "qa_questions": total.count}

    @staticmethod
    def scores(question: dict, windows: np.ndarray, start, end) -> QuestionScores:
        """One question's windows (their records) with their start/end scores."""
        return QuestionScores(
            [
                WindowScores(s, e, int(w["doc_start"]), int(w["doc_len"]), int(w["context_offset"]))
                for w, s, e in zip(windows, start, end, strict=True)
            ],
            question["context"],
            question["token_starts"],
            question["token_ends"],
        )

    @staticmethod
    def reduce_metrics(logging_outputs) -> None:
        log_loss_and_sums(logging_outputs, SUMS)
        if sum(log.get("qa_questions", 0) for log in logging_outputs):  # decoded: evaluation
            metrics.log_derived("exact_match", derived("exact_match"))
            metrics.log_derived("f1", derived("f1"))

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True
