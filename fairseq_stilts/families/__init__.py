"""The task families, one folder each, and every task spec bound to its family's fairseq task.

Importing this registers the built-in families (their records, fairseq tasks and criteria), the
built-in specs, and the specs and families other packages declare through entry points; then
``--task <spec>`` exists for every spec (:func:`~fairseq_stilts.families.stilts_task.bind`).
"""

from fairseq.tasks import TASK_REGISTRY, register_task

from fairseq_stilts import specs  # noqa: F401  (the built-in specs)
from fairseq_stilts.errors import StiltsError
from fairseq_stilts.families import (  # noqa: F401  (registers each family's record)
    classification,
    mlm,
    multiple_choice,
    retrieval,
    span_qa,
    tagging,
)
from fairseq_stilts.families.stilts_task import bind
from fairseq_stilts.registry import all_specs, get_family


def register_fairseq_tasks() -> None:
    """``register_task(spec)`` for every spec that fairseq does not know yet."""
    for spec in all_specs().values():
        if spec.name not in TASK_REGISTRY:
            try:
                family = get_family(spec.family)
            except StiltsError as err:
                raise StiltsError(f"task spec {spec.name!r}: {err}") from None
            unknown = sorted(set(spec.reported_metrics) - set(family.metrics))
            if unknown:
                raise StiltsError(
                    f"task spec {spec.name!r}: metric(s) {unknown} are not logged by the "
                    f"{family.name} family (it logs: {', '.join(family.metrics)})"
                )
            register_task(spec.name, dataclass=family.config)(bind(family, spec))


register_fairseq_tasks()
