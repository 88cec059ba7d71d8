"""The task families, one folder each.

Importing this registers the built-in family records and the built-in specs; neither imports
fairseq (a record names its fairseq task as ``"module:Class"``).
:mod:`~fairseq_stilts.families.fairseq_tasks` binds every spec to its family's fairseq task.
"""

from fairseq_stilts import specs  # noqa: F401  (the built-in specs)
from fairseq_stilts.families import (  # noqa: F401  (registers each family's record)
    classification,
    mlm,
    multiple_choice,
    retrieval,
    span_qa,
    tagging,
)
