"""Cross-entropy over the task's sentence head; accuracy from exact integer sums. In eval mode
the predicted label names are recorded (``--predictions-dir``)."""

from __future__ import annotations

from dataclasses import dataclass

from fairseq.criterions import register_criterion
from fairseq.dataclass import FairseqDataclass

from fairseq_stilts.families.classification import FAMILY
from fairseq_stilts.families.label_loss import LabelCrossEntropyCriterion


@dataclass
class ClassificationCriterionConfig(FairseqDataclass):
    """No options: the head and labels come from the task."""


@register_criterion(FAMILY.criterion, dataclass=ClassificationCriterionConfig)
class ClassificationCriterion(LabelCrossEntropyCriterion):
    """Sentence(-pair) classification through the task's head (``task.head_name``)."""

    def forward(self, model, sample, reduce=True):
        logits, _ = model(
            **sample["net_input"], features_only=True, classification_head_name=self.task.head_name
        )
        return self.scored(model, sample, logits)

    def predictions(self, logits) -> list:
        """The predicted label name of each example."""
        labels = self.task.label_dictionary
        return [labels[labels.nspecial + i] for i in logits.argmax(dim=-1).tolist()]
