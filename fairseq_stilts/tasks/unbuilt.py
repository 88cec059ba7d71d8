"""The task class of families that are registered but not implemented yet: it says so."""

from dataclasses import dataclass, field
from typing import ClassVar

from fairseq.dataclass import FairseqDataclass
from fairseq.tasks import FairseqTask

from fairseq_stilts.registry import get_spec


@dataclass
class UnbuiltFamilyConfig(FairseqDataclass):
    data: str = field(default="", metadata={"help": "data folder (unused: family not built)"})


class UnbuiltFamilyTask(FairseqTask):
    """Refuses to run, naming the family that is missing."""

    spec_name: ClassVar[str]

    @classmethod
    def setup_task(cls, cfg, **kwargs):
        get_spec(cls.spec_name).require_runnable()
