"""stilts_multitask: each batch goes to its task's own criterion; metrics are named per task.

A task's logged sums carry its name (``mnli:_ncorrect``), so they reduce exactly across batches
and ranks like the single-task ones; the task's own ``reduce_metrics`` then runs with every name
it logs prefixed (``mnli_accuracy``, ``squad_f1``, ``squad_loss``). ``combined`` is the mean of the
supervised tasks' main metrics among the tasks seen (the ``valid`` subset holds every task's dev
set), for ``--best-checkpoint-metric combined --maximize-best-checkpoint-metric``; a single
task's metric (``squad_f1``) can be named instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

import torch
from fairseq import criterions
from fairseq.criterions import FairseqCriterion, register_criterion
from fairseq.dataclass import FairseqDataclass
from fairseq.logging import metrics
from omegaconf import OmegaConf

from fairseq_stilts.families.label_loss import log_loss_and_sums
from fairseq_stilts.multitask.task import criterion_config

SHARED = ("loss", "ntokens", "nsentences", "sample_size")


@register_criterion("stilts_multitask", dataclass=FairseqDataclass)
class MultiTaskCriterion(FairseqCriterion):
    """Dispatches on ``sample["task"]`` to the criterion of that task's family."""

    def __init__(self, task):
        super().__init__(task)
        self.criteria = torch.nn.ModuleDict(
            {
                name: criterions.build_criterion(OmegaConf.create(criterion_config(name)), sub)
                for name, sub in task.subtasks.items()
            }
        )
        self.main_metrics = {name: task.main_metric(name) for name in task.subtasks}
        self.main_scores: dict[str, Callable] = {}  # task -> its main metric's derived function

    def forward(self, model, sample, reduce=True):
        name = sample["task"]
        loss, sample_size, log = self.criteria[name](model, sample, reduce=reduce)
        named = {f"{name}:{key}": value for key, value in log.items()}
        named.update((key, log[key]) for key in SHARED if key in log)
        return loss, sample_size, named

    @staticmethod
    def reduce_metrics(logging_outputs) -> None:
        """The overall loss; fairseq calls this on the class, so the per-task metrics come from
        :meth:`reduce_task_metrics`, which the multi-task task calls on the instance."""
        log_loss_and_sums(logging_outputs, ())

    def reduce_task_metrics(self, logging_outputs) -> None:
        for name, criterion in self.criteria.items():
            prefix = f"{name}:"
            own = [
                {key[len(prefix) :]: value for key, value in log.items() if key.startswith(prefix)}
                for log in logging_outputs
            ]
            own = [log for log in own if log]
            if not own:
                continue
            with _prefixed_metrics(f"{name}_") as derived:
                criterion.reduce_metrics(own)
            if self.main_metrics[name] in derived:
                self.main_scores[name] = derived[self.main_metrics[name]]
        if self.main_scores:
            metrics.log_derived("combined", self._combined)

    def _combined(self, meters) -> float:
        """Mean main metric of the tasks seen in this aggregation (their meters exist)."""
        seen = [
            fn(meters) for name, fn in self.main_scores.items() if _seen(meters, f"{name}_loss")
        ]
        return round(sum(seen) / len(seen), 4) if seen else 0.0

    @staticmethod
    def logging_outputs_can_be_summed() -> bool:
        return True


def _seen(meters, key: str) -> bool:
    """Whether this aggregation holds values of ``key`` (fairseq keeps emptied meters)."""
    return key in meters and getattr(meters[key], "count", 0) > 0


def _prefixed(prefix: str, key: str) -> str:
    """``accuracy`` -> ``mnli_accuracy``; ``_ncorrect`` -> ``_mnli_ncorrect`` (a leading underscore
    keeps fairseq from printing a sum)."""
    return f"_{prefix}{key[1:]}" if key.startswith("_") else prefix + key


class _PrefixedMeters(Mapping):
    """A task's view of the meters: ``meters["_ncorrect"]`` reads ``_<task>_ncorrect``."""

    def __init__(self, meters, prefix: str):
        self.meters, self.prefix = meters, prefix

    def __getitem__(self, key):
        return self.meters[_prefixed(self.prefix, key)]

    def __iter__(self) -> Iterator:
        raise TypeError("a task's meters are read by name")

    def __len__(self) -> int:
        return len(self.meters)


@contextmanager
def _prefixed_metrics(prefix: str):
    """Within the block, every name logged through fairseq's metrics gets ``prefix``; yields the
    derived metrics' functions (by unprefixed name, reading the whole meters dict; None where the
    task's ``<prefix>loss`` has no values in the aggregation)."""
    names = ("log_scalar", "log_scalar_sum", "log_derived")
    originals = {name: getattr(metrics, name) for name in names}
    derived: dict[str, Callable] = {}

    def log_derived(key, fn, *args, **kwargs):
        def value(meters):  # None (not 0) where the task had no batch in this aggregation
            return fn(_PrefixedMeters(meters, prefix)) if _seen(meters, prefix + "loss") else None

        derived[key] = value
        originals["log_derived"](_prefixed(prefix, key), value, *args, **kwargs)

    def log_scalar(key, *args, **kwargs):
        originals["log_scalar"](_prefixed(prefix, key), *args, **kwargs)

    def log_scalar_sum(key, *args, **kwargs):
        originals["log_scalar_sum"](_prefixed(prefix, key), *args, **kwargs)

    metrics.log_scalar, metrics.log_scalar_sum, metrics.log_derived = (
        log_scalar,
        log_scalar_sum,
        log_derived,
    )
    try:
        yield derived
    finally:
        for name, function in originals.items():
            setattr(metrics, name, function)
