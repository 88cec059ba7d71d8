"""Extractive span QA (SQuAD v1.1/v2.0, XQuAD, MLQA, TyDiQA-GoldP).

Reads folders made by ``stilts-prepare`` (layout in :mod:`fairseq_stilts.data.qa_prepare`). An
example is a question with all its context windows (:class:`RowGroupsDataset`), so a batch holds
whole questions and the criterion ``stilts_span_qa`` can decode each answer as text and score it
with the official rules inside ``fairseq-validate``. ``--batch-size`` counts questions. The head
(:class:`~fairseq_stilts.models.stilts_xlmr.SpanHead`) is named after the task; batching, head
hand-off and --required-batch-size-multiple 1 are the classification family's.
"""

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from fairseq.data import (
    IdDataset,
    NestedDictionaryDataset,
    NumelDataset,
    RawLabelDataset,
    data_utils,
)

from fairseq_stilts.data.qa_prepare import WINDOW_COLUMNS, is_training_subset
from fairseq_stilts.data.row_groups import RowGroupsDataset
from fairseq_stilts.data.span_decoding import WindowScores, decode_answer
from fairseq_stilts.errors import StiltsError
from fairseq_stilts.tasks.classification import ClassificationConfig, ClassificationTask

CRITERIA = ("stilts_span_qa",)


@dataclass
class SpanQAConfig(ClassificationConfig):
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


class QuestionsDataset(RowGroupsDataset):
    """Questions with their windows; batches also carry what decoding needs (``questions``)."""

    def __init__(self, rows, row_sizes, table: np.ndarray, questions: list[dict] | None):
        super().__init__(rows, row_sizes, np.bincount(table[:, 0], minlength=table[-1, 0] + 1))
        self.table = table
        self.questions = questions

    def collater(self, samples: list[dict]) -> dict:
        batch = super().collater(samples)
        if batch and self.questions is not None:
            batch["questions"] = [self.questions[int(i)] for i in batch["id"]]
            batch["windows"] = self.table[batch["row_id"].numpy()]
        return batch


class SpanQATask(ClassificationTask):
    """The span-QA family; subclasses set ``spec_name``."""

    criteria = CRITERIA

    @staticmethod
    def _load_label_dictionary(data: Path, cfg: SpanQAConfig) -> None:
        """Answers are positions: there is no label dictionary."""
        return None

    def load_dataset(self, split: str, combine: bool = False, **kwargs):
        (tokens,) = self._load_inputs(split)
        data = Path(self.cfg.data)
        table = np.load(data / f"windows.{split}.npy")
        if int(np.max(tokens.sizes, initial=0)) > self.max_positions():
            raise StiltsError(
                f"{data}: subset {split!r} has windows longer than --max-seq-length "
                f"{self.max_positions()}; prepare the data again with that --max-seq-length"
            )
        columns = [WINDOW_COLUMNS.index(c) for c in ("start_position", "end_position")]
        rows = NestedDictionaryDataset(
            {
                "id": IdDataset(),
                "net_input": self._net_input(tokens),
                "target": RawLabelDataset(table[:, columns].tolist()),
                "ntokens": NumelDataset(tokens, reduce=True),
            },
            sizes=[tokens.sizes],
        )
        questions = None if is_training_subset(split) else self._load_questions(split)
        dataset = QuestionsDataset(rows, tokens.sizes, table, questions)
        return self._set_dataset(split, dataset, dataset.padded, dataset.sizes)

    def _load_questions(self, split: str) -> list[dict]:
        data = Path(self.cfg.data)
        lines = (data / f"questions.{split}.jsonl").read_text(encoding="utf-8").splitlines()
        questions = [json.loads(line) for line in lines]
        offsets = data_utils.load_indexed_dataset(str(data / "offsets" / split), None)
        for question, spans in zip(questions, offsets, strict=True):
            spans = spans.numpy().astype(np.int64)
            question["token_starts"], question["token_ends"] = np.split(spans, 2)
        return questions

    def decode(self, question: dict, windows: np.ndarray, start, end) -> str:
        """The answer text of one question from its windows' rows and start/end scores."""
        scores = [
            WindowScores(s, e, int(w[1]), int(w[2]), int(w[3]))
            for w, s, e in zip(windows, start, end, strict=True)
        ]
        return decode_answer(
            scores,
            question["context"],
            question["token_starts"],
            question["token_ends"],
            n_best=self.cfg.n_best_size,
            max_answer_length=self.cfg.max_answer_length,
            allow_null=bool(self.manifest.get("no_answer")),
            null_threshold=self.cfg.null_score_diff_threshold,
        )

    @property
    def scoring_language_aware(self) -> bool:
        """MLQA scores with its per-language rules; the others with SQuAD v1.1's."""
        return self.spec.metric.startswith("mlqa")

    def max_positions(self) -> int:
        return (
            self.cfg.max_seq_length or self.manifest.get("max_seq_length") or self.spec.max_length
        )

    def _register_head(self, model) -> None:
        model.register_span_head(self.head_name)
