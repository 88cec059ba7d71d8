"""The built-in task specs: nine intermediate tasks, the nine XTREME targets and masked-LM."""

from fairseq_stilts.specs import auxiliary, intermediate, xtreme  # noqa: F401
