"""The 18 built-in task specs: nine intermediate tasks and the nine XTREME targets."""

from fairseq_stilts.specs import intermediate, xtreme  # noqa: F401
