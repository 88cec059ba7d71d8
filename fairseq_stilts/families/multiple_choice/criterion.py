"""Multiple choice: one score per choice from the task's one-output head, softmax across the
choices, cross-entropy; accuracy from exact integer sums (:mod:`fairseq_stilts.families.label_loss`).
In eval mode the chosen index of each example is recorded (``--predictions-dir``)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from fairseq.criterions import register_criterion
from fairseq.dataclass import FairseqDataclass

from fairseq_stilts.families.label_loss import LabelCrossEntropyCriterion
from fairseq_stilts.families.multiple_choice import FAMILY


@dataclass
class MultipleChoiceCriterionConfig(FairseqDataclass):
    """No options: the head and the number of choices come from the task."""


@register_criterion(FAMILY.criterion, dataclass=MultipleChoiceCriterionConfig)
class MultipleChoiceCriterion(LabelCrossEntropyCriterion):
    """Scores ``net_input1..net_inputN`` (one per choice) through ``task.head_name``."""

    def forward(self, model, sample, reduce=True):
        scores = torch.cat(
            [
                model(
                    **sample[f"net_input{i}"],
                    features_only=True,
                    classification_head_name=self.task.head_name,
                )[0]
                for i in range(1, self.task.num_choices + 1)
            ],
            dim=1,
        )  # batch x choices
        return self.scored(model, sample, scores)

    def predictions(self, logits) -> list:
        """The index of the chosen choice of each example."""
        return logits.argmax(dim=-1).tolist()
