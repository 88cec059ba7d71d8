"""stilts_multitask: one encoder trained on several tasks, one task per update.

``fairseq-train DATA --task stilts_multitask --tasks mnli,squad,hellaswag,ccg`` reads each task's
folder made by stilts-prepare under DATA (``DATA/mnli``, ``DATA/squad``, ...; ``--task-data
mnli=PATH`` points one elsewhere). Each task is its own fairseq task object (its batching, max
length, head and criterion); the model gets every task's head (``--head-map mnli=nli,anli_plus=nli``
makes tasks share one, if their label sets agree). Every update trains one task drawn by the
sampler (:func:`~fairseq_stilts.multitask.mixture.task_probabilities`), the same task on every
rank and every --update-freq step of that update. The ``valid`` subset holds every task's English
dev set; the criterion ``stilts_multitask`` reports each task's metrics under ``<task>_<metric>``
and ``combined``, the mean of the supervised tasks' main metrics, for ``--best-checkpoint-metric``.
Heads that an update does not use are switched off for that update (no gradient, no optimizer
step); in data-parallel runs use ``--ddp-backend legacy_ddp``.

The log shows the sampling probabilities at the start of every epoch, and the updates each task
has received so far at every validation (a warning names a task with none). The task counts an
update once fairseq has made it (one per update, whatever --update-freq and the number of ranks;
not one whose gradient overflowed) and keeps the counts in the checkpoint's extra state, so a
resumed run goes on counting.
"""

import logging
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from fairseq.data import iterators
from fairseq.dataclass import FairseqDataclass
from fairseq.distributed.utils import get_global_rank
from fairseq.tasks import FairseqTask, register_task
from omegaconf import II, MISSING, OmegaConf

from fairseq_stilts.data.prepare.encoder import dictionary_fingerprint
from fairseq_stilts.errors import StiltsError
from fairseq_stilts.models.stilts_xlmr import BF16_AUTOCAST_HELP, use_bf16_autocast
from fairseq_stilts.multitask.mixture import (
    SAMPLERS,
    MultiTaskDataset,
    describe_probabilities,
    describe_updates,
    evaluation_schedule,
    task_probabilities,
    training_schedule,
)
from fairseq_stilts.registry import all_specs, get_family, get_spec

logger = logging.getLogger(__name__)


def criterion_config(task: str) -> dict:
    """The config of the criterion that trains ``task`` inside a mixture: its family's."""
    family = get_family(get_spec(task).family)
    return {"_name": family.criterion, **family.criterion_overrides}


def trainable_tasks() -> list[str]:
    """Tasks that train through fairseq (a family with a criterion), sorted."""
    return sorted(n for n, s in all_specs().items() if get_family(s.family).trainable)


def _pairs(option: str, value: str) -> dict[str, str]:
    """``a=x,b=y`` -> {"a": "x", "b": "y"}."""
    pairs = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        key, sep, val = item.partition("=")
        if not sep or not key or not val:
            raise StiltsError(
                f"--{option}: expected TASK=VALUE items separated by commas, got {item!r}"
            )
        pairs[key] = val
    return pairs


@dataclass
class MultiTaskConfig(FairseqDataclass):
    data: str = field(
        default=MISSING, metadata={"help": "folder holding one prepared folder per task"}
    )
    tasks: str = field(default="", metadata={"help": "comma-separated task names"})
    task_data: str = field(default="", metadata={"help": "TASK=PATH,... data folders elsewhere"})
    sampler: str = field(
        default="proportional", metadata={"help": f"task sampler: {', '.join(SAMPLERS)}"}
    )
    sampling_cap: int = field(
        default=0, metadata={"help": "capped/temperature samplers: count at most N examples"}
    )
    sampling_temperature: float = field(
        default=1.0, metadata={"help": "temperature sampler: p ~ min(n, cap)^(1/T)"}
    )
    task_weights: str = field(
        default="", metadata={"help": "weights sampler: one weight per task, comma-separated"}
    )
    task_batch_sizes: str = field(
        default="", metadata={"help": "TASK=N,...: a task's batch size (default --batch-size)"}
    )
    task_max_seq_lengths: str = field(
        default="", metadata={"help": "TASK=N,...: a task's --max-seq-length"}
    )
    head_map: str = field(default="", metadata={"help": "TASK=HEAD,...: tasks that share a head"})
    bf16_autocast: bool = field(default=False, metadata={"help": BF16_AUTOCAST_HELP})
    seed: int = II("common.seed")
    optimization_update_freq: int = II("optimization.update_freq[0]")  # batches per rank per update


@register_task("stilts_multitask", dataclass=MultiTaskConfig)
class MultiTaskTask(FairseqTask):
    """Several stilts tasks behind one fairseq task; see the module docstring."""

    def __init__(self, cfg: MultiTaskConfig, subtasks: dict[str, FairseqTask]):
        super().__init__(cfg)
        self.subtasks = subtasks
        first = next(iter(subtasks.values()))
        self.dictionary = first.source_dictionary
        self.probabilities: dict[str, float] = {}
        self.train_sizes: dict[str, int] = {}  # training examples per task
        self.updates: dict[str, int] = dict.fromkeys(subtasks, 0)  # updates made, per task
        self._drawn: str | None = None  # the task of the update in progress (not yet made)
        self._uncounted: int | None = None  # updates made before counting began (old checkpoint)

    @classmethod
    def setup_task(cls, cfg: MultiTaskConfig, **kwargs):
        from fairseq.tasks import TASK_DATACLASS_REGISTRY, TASK_REGISTRY

        names = [name.strip() for name in cfg.tasks.split(",") if name.strip()]
        if not names:
            raise StiltsError("--tasks: name the tasks to train, e.g. --tasks mnli,squad")
        known = trainable_tasks()
        unknown = [n for n in names if n not in known]
        if unknown or len(set(names)) != len(names):
            what = f"unknown task(s) {unknown}" if unknown else "a task is named twice"
            raise StiltsError(f"--tasks: {what}; trainable tasks: {', '.join(known)}")
        paths = _pairs("task-data", cfg.task_data)
        batch_sizes = _pairs("task-batch-sizes", cfg.task_batch_sizes)
        lengths = _pairs("task-max-seq-lengths", cfg.task_max_seq_lengths)
        heads = _pairs("head-map", cfg.head_map)
        for option, given in (
            ("task-data", paths),
            ("task-batch-sizes", batch_sizes),
            ("task-max-seq-lengths", lengths),
            ("head-map", heads),
        ):
            stray = sorted(set(given) - set(names))
            if stray:
                raise StiltsError(f"--{option}: {stray} not in --tasks ({', '.join(names)})")
        subtasks = {}
        for name in names:
            sub_cfg = OmegaConf.structured(TASK_DATACLASS_REGISTRY[name])
            sub_cfg.data = paths.get(name, str(Path(cfg.data) / name))
            sub_cfg.seed = cfg.seed
            sub_cfg.max_seq_length = int(lengths.get(name, 0))
            has_head = get_family(get_spec(name).family).head is not None
            if name in heads and not has_head:
                raise StiltsError(f"--head-map: task {name!r} has no head of its own")
            if has_head:
                sub_cfg.head_name = heads.get(name, "")
            subtasks[name] = TASK_REGISTRY[name].setup_task(sub_cfg)
        task = cls(cfg, subtasks)
        task.batch_sizes = {name: int(size) for name, size in batch_sizes.items()}
        task._check_shared_vocabulary_and_heads()
        return task

    def _check_shared_vocabulary_and_heads(self) -> None:
        fingerprints = {
            n: dictionary_fingerprint(t.source_dictionary) for n, t in self.subtasks.items()
        }
        if len(set(fingerprints.values())) > 1:
            raise StiltsError(
                "the tasks' data were prepared with different dictionaries "
                f"({', '.join(self.subtasks)}): prepare all with the same pretrained model folder"
            )
        owners: dict[str, str] = {}
        for name, sub in self.subtasks.items():
            if sub.family.head is None:
                continue
            if sub.head_name not in owners:
                owners[sub.head_name] = name
                continue
            other = self.subtasks[owners[sub.head_name]]
            same_family = get_spec(name).family == get_spec(owners[sub.head_name]).family
            if not same_family or _labels(sub) != _labels(other):
                raise StiltsError(
                    f"--head-map: tasks {owners[sub.head_name]!r} and {name!r} share head "
                    f"{sub.head_name!r} but their labels differ ({_labels(other)} vs {_labels(sub)})"
                )

    def load_dataset(self, split: str, combine: bool = False, **kwargs):
        datasets = {}
        for name, sub in self.subtasks.items():
            sub.load_dataset(split)
            datasets[name] = sub.dataset(split)
        dataset = MultiTaskDataset(datasets)
        dataset.training = split == "train"
        if dataset.training:
            self.train_sizes = {name: len(d) for name, d in datasets.items()}
            self.probabilities = task_probabilities(
                self.train_sizes,
                self.cfg.sampler,
                self.cfg.sampling_cap,
                self.cfg.sampling_temperature,
                [float(w) for w in self.cfg.task_weights.split(",") if w.strip()],
            )
        self.datasets[split] = dataset
        return dataset

    def get_batch_iterator(
        self,
        dataset,
        max_tokens=None,
        max_sentences=None,
        max_positions=None,
        ignore_invalid_inputs=False,
        required_batch_size_multiple=1,
        seed=1,
        num_shards=1,
        shard_id=0,
        num_workers=0,
        epoch=1,
        data_buffer_size=0,
        disable_iterator_cache=False,
        skip_remainder_batch=False,
        grouped_shuffling=False,
        update_epoch_batch_itr=False,
    ):
        schedule = partial(self._schedule, max_tokens, max_sentences, seed, num_shards)
        return iterators.EpochBatchIterator(
            dataset=dataset,
            collate_fn=dataset.collater,
            batch_sampler=schedule,
            seed=seed,
            num_shards=num_shards,
            shard_id=shard_id,
            num_workers=num_workers,
            epoch=epoch,
            buffer_size=data_buffer_size,
            disable_shuffling=True,  # the schedule is random already, and must keep its groups
        )

    def _schedule(self, max_tokens, max_sentences, seed, ranks, dataset, epoch):
        per_task = [
            dataset.task_batches(
                i, seed, epoch, max_tokens, self.batch_sizes.get(name, max_sentences)
            )
            for i, name in enumerate(dataset.names)
        ]
        if not dataset.training:
            return evaluation_schedule(per_task, ranks)
        probabilities = [self.probabilities[name] for name in dataset.names]
        return training_schedule(
            per_task, probabilities, ranks * self.cfg.optimization_update_freq, seed, epoch
        )

    def build_model(self, cfg, from_checkpoint: bool = False):
        model = super().build_model(cfg, from_checkpoint)
        if not hasattr(model, "register_classification_head"):
            raise StiltsError(
                "stilts_multitask needs an XLM-R model (--arch xlmr_base/xlmr_large/xlmr_tiny)"
            )
        for sub in self.subtasks.values():
            if sub.family.head is not None:
                sub.register_head(model)
        use_bf16_autocast(model, self.cfg.bf16_autocast)
        return model

    def build_criterion(self, cfg, from_checkpoint: bool = False):
        if cfg._name != "stilts_multitask":
            raise StiltsError(
                f"task stilts_multitask trains with --criterion stilts_multitask, not {cfg._name!r}"
            )
        return super().build_criterion(cfg, from_checkpoint)

    def train_step(self, sample, model, criterion, optimizer, update_num, ignore_grad=False):
        # Only the drawn task's head takes part in this update. A head without gradient would
        # still be stepped under data parallelism (fairseq fills missing gradients with zeros,
        # and Adam's momentum moves it): switching the others off keeps one process and many
        # ranks identical.
        sub = self.subtasks[sample["task"]]
        self._train_only(model, sub.head_name if sub.family.head is not None else None)
        if self._uncounted is None:
            self._uncounted = max(0, update_num - sum(self.updates.values()))
        if not ignore_grad:  # a dummy batch (a rank out of data) is not the drawn task's
            self._drawn = sample["task"]
        return super().train_step(sample, model, criterion, optimizer, update_num, ignore_grad)

    @staticmethod
    def _train_only(model, head: str | None) -> None:
        while hasattr(model, "module"):  # data-parallel wrappers
            model = model.module
        for name, module in model.classification_heads.items():
            module.requires_grad_(name == head)

    def reduce_metrics(self, logging_outputs, criterion) -> None:
        super().reduce_metrics(logging_outputs, criterion)
        criterion.reduce_task_metrics(logging_outputs)
        # fairseq reduces a training step's logs once per update it made: after all --update-freq
        # batches, on every rank (all train the same task), and not after a gradient overflow
        if self._drawn is not None:
            self.updates[self._drawn] += 1
            self._drawn = None

    def begin_epoch(self, epoch, model) -> None:
        super().begin_epoch(epoch, model)
        if self.probabilities and get_global_rank() == 0:
            logger.info(
                f"multitask: epoch {epoch}: sampling probabilities ({self.cfg.sampler}): "
                + describe_probabilities(self.probabilities, self.train_sizes)
            )
            if sum(self.updates.values()):
                self._log_updates()

    def begin_valid_epoch(self, epoch, model) -> None:
        super().begin_valid_epoch(epoch, model)
        self._drawn = None  # a step whose gradient overflowed made no update
        if get_global_rank() == 0:
            self._log_updates()

    def _log_updates(self) -> None:
        total = sum(self.updates.values())
        before = f"; {self._uncounted} earlier update(s) not counted" if self._uncounted else ""
        logger.info(
            f"multitask: updates per task so far ({total} counted{before}): "
            + describe_updates(self.updates)
        )
        never = [name for name, count in self.updates.items() if count == 0]
        if never:
            logger.warning(
                f"multitask: task(s) {', '.join(never)} received 0 of the {total} updates so "
                f"far (sampling probabilities: {describe_probabilities(self.probabilities)})"
            )

    def get_checkpoint_dict(self) -> dict:
        """The update counts, for the checkpoint's extra state (fairseq's save_checkpoint
        merges this in under the class name, and hands it back on resume)."""
        return {type(self).__name__: {"updates": dict(self.updates)}}

    def set_checkpoint_dict(self, state: dict) -> None:
        saved = state.get("updates") or {}
        self.updates = {name: int(saved.get(name, 0)) for name in self.subtasks}

    def main_metric(self, name: str) -> str | None:
        """The metric of task ``name`` that ``combined`` averages: its spec's first (none for a
        task without a score of its own, masked-LM)."""
        metrics = get_spec(name).metrics
        return metrics[0] if metrics else None

    def max_positions(self):
        return None

    @property
    def source_dictionary(self):
        return self.dictionary

    @property
    def target_dictionary(self):
        return self.dictionary


def _labels(task) -> list[str]:
    labels = getattr(task, "label_dictionary", None)
    return [] if labels is None else labels.symbols[labels.nspecial :]
