"""One fairseq task class per family, and every task spec registered under its own name.

``--task xnli`` is a thin subclass of the classification family's task that knows its spec.
"""

from fairseq.tasks import register_task

from fairseq_stilts.registry import all_specs
from fairseq_stilts.tasks import multitask  # noqa: F401  (registers stilts_multitask)
from fairseq_stilts.tasks.classification import ClassificationConfig, ClassificationTask
from fairseq_stilts.tasks.mlm import MLMConfig, MLMTask
from fairseq_stilts.tasks.multiple_choice import MultipleChoiceTask
from fairseq_stilts.tasks.retrieval import RetrievalConfig, RetrievalTask
from fairseq_stilts.tasks.span_qa import SpanQAConfig, SpanQATask
from fairseq_stilts.tasks.tagging import TaggingTask

FAMILY_TASKS = {
    "classification": (ClassificationTask, ClassificationConfig),
    "mlm": (MLMTask, MLMConfig),
    "multiple_choice": (MultipleChoiceTask, ClassificationConfig),
    "retrieval": (RetrievalTask, RetrievalConfig),
    "span_qa": (SpanQATask, SpanQAConfig),
    "tagging": (TaggingTask, ClassificationConfig),
}


def _bind(name: str, family: str, description: str) -> None:
    base, config = FAMILY_TASKS[family]
    class_name = "".join(part.title() for part in name.split("_")) + "StiltsTask"
    binding = type(class_name, (base,), {"spec_name": name, "__doc__": description})
    register_task(name, dataclass=config)(binding)


for _spec in all_specs().values():
    _bind(_spec.name, _spec.family, _spec.description)
