"""Several tasks' datasets behind one index space, and the per-update task schedule.

A training epoch is a list of batches in which every run of ``group`` consecutive batches
(data-parallel ranks x --update-freq: everything one update consumes) comes from one task, drawn
with the sampler's probabilities. fairseq hands batch ``j`` of the list to rank ``j mod ranks``,
so every rank trains the same task in the same update. The schedule is a pure function of
(seed, epoch, dataset sizes): a run resumed from a checkpoint (which stores the epoch and the
position in it) continues with exactly the batches the uninterrupted run would have had.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from fairseq.data import FairseqDataset, data_utils

from fairseq_stilts.errors import StiltsError

SAMPLERS = ("proportional", "capped", "temperature", "uniform", "weights")


def task_probabilities(
    sizes: dict[str, int],
    sampler: str,
    cap: int = 0,
    temperature: float = 1.0,
    weights: Sequence[float] = (),
) -> dict[str, float]:
    """Probability of drawing each task for an update.

    proportional: p ~ n; capped: p ~ min(n, cap); temperature: p ~ min(n, cap)^(1/T) (no cap
    when cap is 0); uniform: p ~ 1; weights: p ~ the given weights, one per task in order.
    """
    names = list(sizes)
    n = np.array([sizes[name] for name in names], dtype=np.float64)
    if sampler not in SAMPLERS:
        raise StiltsError(f"--sampler {sampler!r}: choose one of {', '.join(SAMPLERS)}")
    if sampler == "weights":
        if len(weights) != len(names):
            raise StiltsError(
                f"--task-weights: {len(weights)} weight(s) for {len(names)} tasks ({', '.join(names)})"
            )
        raw = np.array(weights, dtype=np.float64)
        if (raw < 0).any() or raw.sum() <= 0 or not np.isfinite(raw).all():
            raise StiltsError(f"--task-weights {list(weights)}: weights must be >= 0, not all 0")
    elif sampler == "uniform":
        raw = np.ones_like(n)
    elif sampler == "proportional":
        raw = n
    elif sampler == "capped":
        if cap <= 0:
            raise StiltsError("--sampler capped needs --sampling-cap N > 0")
        raw = np.minimum(n, cap)
    else:
        if temperature <= 0:
            raise StiltsError(f"--sampling-temperature must be > 0, got {temperature}")
        raw = (np.minimum(n, cap) if cap > 0 else n) ** (1.0 / temperature)
    return dict(zip(names, (raw / raw.sum()).tolist(), strict=True))


def describe_probabilities(
    probabilities: dict[str, float], sizes: dict[str, int] | None = None
) -> str:
    """``mnli 0.6667 (400 examples), squad 0.3333 (100 examples)`` for the log."""
    return ", ".join(
        f"{name} {p:.4f}" + (f" ({sizes[name]} examples)" if sizes and name in sizes else "")
        for name, p in probabilities.items()
    )


def describe_updates(updates: dict[str, int]) -> str:
    """``mnli 7 (58.3%), squad 5 (41.7%), ccg 0 (0.0%)`` for the log."""
    total = sum(updates.values())
    return ", ".join(
        f"{name} {count} ({100 * count / total if total else 0:.1f}%)"
        for name, count in updates.items()
    )


class MultiTaskDataset(FairseqDataset):
    """The datasets of several tasks, indexed one after the other; a batch holds one task.

    The collater hands a batch to its task's own collater and adds ``task`` (its name).
    """

    def __init__(self, datasets: dict[str, FairseqDataset]):
        super().__init__()
        self.names = list(datasets)
        self.datasets = list(datasets.values())
        self.offsets = np.cumsum([0, *(len(d) for d in self.datasets)])
        # a dataset's sizes may be a list of arrays (one per input): the longest counts
        self.sizes = np.concatenate([np.atleast_2d(d.sizes).max(axis=0) for d in self.datasets])

    def locate(self, index: int) -> tuple[int, int]:
        """(task index, index within that task's dataset)."""
        task = int(np.searchsorted(self.offsets, index, side="right")) - 1
        return task, index - int(self.offsets[task])

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __getitem__(self, index: int) -> dict:
        task, local = self.locate(index)
        return {"task": task, "item": self.datasets[task][local]}

    def collater(self, samples: list[dict]) -> dict:
        if not samples:
            return {}
        tasks = {sample["task"] for sample in samples}
        if len(tasks) != 1:
            raise ValueError(f"a multi-task batch mixes tasks {sorted(tasks)}")
        task = tasks.pop()
        batch = self.datasets[task].collater([sample["item"] for sample in samples])
        if batch:
            batch["task"] = self.names[task]
        return batch

    def num_tokens(self, index: int) -> int:
        task, local = self.locate(index)
        return self.datasets[task].num_tokens(local)

    def size(self, index: int):
        task, local = self.locate(index)
        return self.datasets[task].size(local)

    def set_epoch(self, epoch: int) -> None:
        super().set_epoch(epoch)
        for dataset in self.datasets:
            if hasattr(dataset, "set_epoch"):
                dataset.set_epoch(epoch)

    def task_batches(
        self, task: int, seed: int, epoch: int, max_tokens, max_sentences
    ) -> list[np.ndarray]:
        """One task's batches for ``epoch`` (global indices), in that dataset's own order."""
        dataset = self.datasets[task]
        with data_utils.numpy_seed(seed, epoch, task):
            order = dataset.ordered_indices()
        batches = dataset.batch_by_size(
            order,
            max_tokens=max_tokens,
            max_sentences=max_sentences,
            required_batch_size_multiple=1,
        )
        return [np.asarray(batch, dtype=np.int64) + self.offsets[task] for batch in batches]

    @property
    def supports_prefetch(self) -> bool:
        return False


def training_schedule(
    per_task: list[list[np.ndarray]],
    probabilities: Sequence[float],
    group: int,
    seed: int,
    epoch: int,
) -> list[np.ndarray]:
    """An epoch of batches: ``sum(len(b) for b in per_task) // group`` updates (at least one),
    each ``group`` consecutive batches of one task drawn with ``probabilities``; a task whose
    batches run out starts over in a new random order."""
    rng = np.random.default_rng([seed, epoch, 7919])
    updates = max(1, sum(len(batches) for batches in per_task) // group)
    drawn = rng.choice(len(per_task), size=updates, p=np.asarray(probabilities))
    queues: list[list[np.ndarray]] = [[] for _ in per_task]
    schedule = []
    for task in drawn:
        for _ in range(group):
            if not queues[task]:
                queues[task] = [per_task[task][i] for i in rng.permutation(len(per_task[task]))]
            schedule.append(queues[task].pop())
    return schedule


def evaluation_schedule(per_task: list[list[np.ndarray]], ranks: int) -> list[np.ndarray]:
    """Every batch of every task once, each task padded with empty batches to a multiple of
    ``ranks`` so that the ranks evaluate the same task at the same step."""
    schedule: list[np.ndarray] = []
    for batches in per_task:
        schedule += batches + [np.zeros(0, dtype=np.int64)] * (-len(batches) % ranks)
    return schedule
