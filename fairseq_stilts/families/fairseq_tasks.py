"""Every task spec bound to its family's fairseq task: importing this makes ``--task <spec>``
exist for the built-in specs and for those other packages declare through entry points."""

from fairseq.tasks import TASK_REGISTRY, register_task

from fairseq_stilts.errors import StiltsError
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
            register_task(spec.name, dataclass=family.config_class)(bind(family, spec))


register_fairseq_tasks()
