"""Extractive span QA (SQuAD v1.1/v2.0, XQuAD, MLQA, TyDiQA-GoldP).

Reads folders made by ``stilts-prepare`` (layout in :mod:`fairseq_stilts.families.span_qa.prepare`). An
example is a question with all its context windows (:class:`RowGroupsDataset`), so a batch holds
whole questions and the criterion ``stilts_span_qa`` can decode each answer as text and score it
with the official rules inside ``fairseq-validate``. ``--batch-size`` counts questions. The head
(:class:`~fairseq_stilts.models.stilts_xlmr.SpanHead`) is named after the task; batching and
head hand-off: :mod:`fairseq_stilts.families.stilts_task`.
"""

import json
from pathlib import Path

import numpy as np
from fairseq.data import (
    IdDataset,
    NestedDictionaryDataset,
    NumelDataset,
    RawLabelDataset,
    data_utils,
)

from fairseq_stilts.data.datasets.row_groups import RowGroupsDataset
from fairseq_stilts.errors import StiltsError
from fairseq_stilts.families.inputs import load_inputs, net_input
from fairseq_stilts.families.span_qa import criterion  # noqa: F401  (registers the family's criterion)
from fairseq_stilts.families.span_qa.prepare import is_training_subset
from fairseq_stilts.families.stilts_task import StiltsTask


class QuestionsDataset(RowGroupsDataset):
    """Questions with their windows; batches also carry what decoding needs (``questions``)."""

    def __init__(self, rows, row_sizes, table: np.ndarray, questions: list[dict] | None):
        questions_of_rows = table["question"]
        super().__init__(
            rows, row_sizes, np.bincount(questions_of_rows, minlength=questions_of_rows[-1] + 1)
        )
        self.table = table
        self.questions = questions

    def collater(self, samples: list[dict]) -> dict:
        batch = super().collater(samples)
        if batch and self.questions is not None:
            batch["questions"] = [self.questions[int(i)] for i in batch["id"]]
            batch["windows"] = self.table[batch["row_id"].numpy()]
        return batch


class SpanQATask(StiltsTask):
    """The span-QA family (answers are positions: no label dictionary)."""

    head_classes = 2  # a start and an end score per token

    def load_dataset(self, split: str, combine: bool = False, **kwargs):
        (tokens,) = load_inputs(self, split)
        data = Path(self.cfg.data)
        table = np.load(data / f"windows.{split}.npy")
        if int(np.max(tokens.sizes, initial=0)) > self.max_positions():
            raise StiltsError(
                f"{data}: subset {split!r} has windows longer than --max-seq-length "
                f"{self.max_positions()}; prepare the data again with that --max-seq-length"
            )
        rows = NestedDictionaryDataset(
            {
                "id": IdDataset(),
                "net_input": net_input(self, tokens),
                "target": RawLabelDataset(
                    np.stack([table["start_position"], table["end_position"]], 1).tolist()
                ),
                "ntokens": NumelDataset(tokens, reduce=True),
            },
            sizes=[tokens.sizes],
        )
        questions = None if is_training_subset(split) else self._load_questions(split)
        dataset = QuestionsDataset(rows, tokens.sizes, table, questions)
        return self.set_dataset(split, dataset, dataset.padded, dataset.sizes)

    def _load_questions(self, split: str) -> list[dict]:
        data = Path(self.cfg.data)
        lines = (data / f"questions.{split}.jsonl").read_text(encoding="utf-8").splitlines()
        questions = [json.loads(line) for line in lines]
        offsets = data_utils.load_indexed_dataset(str(data / "offsets" / split), None)
        for question, spans in zip(questions, offsets, strict=True):
            spans = spans.numpy().astype(np.int64)
            question["token_starts"], question["token_ends"] = np.split(spans, 2)
        return questions
