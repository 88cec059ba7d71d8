"""stilts_multitask: several tasks behind one fairseq task, with its criterion and task sampler."""

from fairseq_stilts.multitask import criterion, task  # noqa: F401  (registers both with fairseq)
