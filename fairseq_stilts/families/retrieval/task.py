"""The task class of the retrieval family (BUCC, Tatoeba): no training data, scored by stilts-retrieve.

``fairseq-train --task tatoeba`` (or ``fairseq-validate``) stops with a message saying how the task
is run instead.
"""

from dataclasses import dataclass, field
from typing import ClassVar

from fairseq.dataclass import FairseqDataclass
from fairseq.tasks import FairseqTask

from fairseq_stilts.registry import TaskSpec


@dataclass
class RetrievalConfig(FairseqDataclass):
    data: str = field(
        default="", metadata={"help": "unused: retrieval tasks have no training data"}
    )


class RetrievalTask(FairseqTask):
    """Refuses fairseq-train / fairseq-validate, pointing at stilts-retrieve."""

    spec: ClassVar[TaskSpec]

    @classmethod
    def setup_task(cls, cfg, **kwargs):
        cls.spec.require_trainable()
