"""StiltsTask: what every family's fairseq task shares.

A family's task class reads a folder made by ``stilts-prepare`` (its manifest is the contract,
:mod:`~fairseq_stilts.data.prepare.manifest`). ``--task xnli`` is the family's class bound to one
spec (:func:`bind`). Shared here:

- batches: training batches group examples of similar length (``LengthGroupedDataset``), or
  sample training languages (``--train-languages``, ``--language-sampling-alpha``:
  ``LanguageSampledDataset``); ``--required-batch-size-multiple`` is forced to 1, because this
  fairseq drops the last batch of a subset whose size is not a multiple of it;
- heads: the model gets one task head of the family's kind, named after the task
  (``--head-name`` reuses another of the restored checkpoint);
- predictions and metrics: with ``--predictions-dir DIR`` every evaluated subset's predictions go
  to ``DIR/<subset>.<rank>.jsonl`` (:meth:`StiltsTask.record_predictions`) and its metrics to
  ``DIR/<subset>.metrics.json`` (what fairseq-validate prints for it, as JSON numbers). A test
  subset prepared without gold labels is predicted and not scored: its only metric is
  ``unlabelled``, its number of examples.
"""

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
from fairseq.data import Dictionary
from fairseq.dataclass import FairseqDataclass
from fairseq.distributed import utils as distributed_utils
from fairseq.logging import metrics
from fairseq.tasks import FairseqTask
from omegaconf import II, MISSING

from fairseq_stilts.data.datasets.language_sampling import LanguageSampledDataset
from fairseq_stilts.data.datasets.length_grouped import LengthGroupedDataset
from fairseq_stilts.data.prepare.manifest import Manifest, read_manifest
from fairseq_stilts.errors import StiltsError
from fairseq_stilts.models.stilts_xlmr import BF16_AUTOCAST_HELP, use_bf16_autocast
from fairseq_stilts.registry import Family, TaskSpec, get_family
from fairseq_stilts.writes import write_atomic

logger = logging.getLogger(__name__)


@dataclass
class StiltsConfig(FairseqDataclass):
    """Options of every family's task."""

    data: str = field(default=MISSING, metadata={"help": "data folder made by stilts-prepare"})
    # Not "max_positions": that name is also the model's option (its number of positions).
    max_seq_length: int = field(
        default=0,
        metadata={"help": "truncate inputs to this many tokens (0: as prepared, or the task's)"},
    )
    predictions_dir: str = field(
        default="",
        metadata={
            "help": "write the predictions of every evaluated subset to "
            "DIR/<subset>.<rank>.jsonl (one JSON line per example: id, prediction) and its "
            "metrics to DIR/<subset>.metrics.json"
        },
    )
    bf16_autocast: bool = field(default=False, metadata={"help": BF16_AUTOCAST_HELP})
    seed: int = II("common.seed")


@dataclass
class SupervisedConfig(StiltsConfig):
    """Options of the families with a task head of their own."""

    head_name: str = field(
        default="",
        metadata={
            "help": "head to train (default: the task's name). Naming a head of the restored "
            "checkpoint reuses it; the checkpoint's other heads are dropped"
        },
    )
    num_classes: int = field(
        default=-1, metadata={"help": "if set, must equal the number of labels in the data"}
    )
    train_languages: str = field(
        default="",
        metadata={
            "help": "comma-separated languages of the data's training subsets to train on, e.g. "
            "en,de (default: all that stilts-prepare wrote)"
        },
    )
    language_sampling_alpha: float = field(
        default=0.0,
        metadata={
            "help": "0: concatenate the training languages; A > 0: each epoch samples language l "
            "with probability ~ n_l ** A (XLM-R's sampling), epoch size the sum of the n_l"
        },
    )


def bind(family: Family, spec: TaskSpec) -> type:
    """The fairseq task class of ``spec``: its family's class, knowing the spec."""
    name = "".join(part.title() for part in spec.name.split("_")) + "Task"
    return type(name, (family.task_class,), {"spec": spec, "__doc__": spec.description})


class StiltsTask(FairseqTask):
    """The base of every family's task; a bound subclass (:func:`bind`) sets ``spec``."""

    spec: ClassVar[TaskSpec]
    dictionary_file: ClassVar[str] = "input0/dict.txt"  # the model's dict.txt, in the folder
    labelled: ClassVar[bool] = False  # the folder has a label dictionary, label/dict.txt

    def __init__(
        self,
        cfg: StiltsConfig,
        dictionary: Dictionary,
        label_dictionary: Dictionary | None,
        manifest: Manifest,
    ):
        super().__init__(cfg)
        self.dictionary = dictionary
        self.label_dictionary = label_dictionary
        self.manifest = manifest
        self.head_name = getattr(cfg, "head_name", "") or self.spec.name
        self._evaluated: str | None = None  # the subset of the latest batch iterator
        self._truncate = False  # the next record starts a new pass over that subset
        self._validating = False  # valid_step ran since the last train_step
        self._pass_logs: list[dict] = []  # logging outputs of the pass over ``_evaluated``

    @property
    def family(self) -> Family:
        return get_family(self.spec.family)

    @classmethod
    def setup_task(cls, cfg: StiltsConfig, **kwargs):
        data = Path(cfg.data)
        manifest = read_manifest(data, cls.spec.name)
        dictionary = Dictionary.load(str(data / cls.dictionary_file))
        dictionary.add_symbol("<mask>")  # as fairseq's masked_lm task (and XLM-R) do
        return cls(cfg, dictionary, cls.load_label_dictionary(data, cfg), manifest)

    @classmethod
    def load_label_dictionary(cls, data: Path, cfg: StiltsConfig) -> Dictionary | None:
        """The folder's ``label/dict.txt`` if the family is ``labelled``; ``--num-classes``, if
        given, must match it."""
        if not cls.labelled:
            return None
        label_dictionary = Dictionary.load(str(data / "label" / "dict.txt"))
        labels = label_dictionary.symbols[label_dictionary.nspecial :]
        if cfg.num_classes > 0 and cfg.num_classes != len(labels):
            raise StiltsError(
                f"--num-classes {cfg.num_classes} does not match the {len(labels)} labels of "
                f"{data / 'label' / 'dict.txt'} ({' '.join(labels)})"
            )
        return label_dictionary

    def check_subset(self, split: str) -> None:
        if split not in self.manifest.subsets:
            raise StiltsError(
                f"subset {split!r} is not in {self.cfg.data}; it has: "
                + ", ".join(self.manifest.subsets)
            )

    # Batching

    def set_dataset(self, split: str, dataset, sizes, example_sizes=None):
        """Keep ``dataset`` as ``split``, batched by ``sizes``; ``example_sizes`` is each
        example's own size where that differs (span QA: a question's longest window, against its
        padded windows), and is what language sampling groups by."""
        ranges = self._language_ranges(len(dataset)) if split == "train" else None
        if ranges is None:
            self.datasets[split] = LengthGroupedDataset(dataset, sizes)
        else:
            alpha = self.cfg.language_sampling_alpha or 0.0
            self.datasets[split] = LanguageSampledDataset(
                dataset,
                sizes if example_sizes is None else example_sizes,
                ranges,
                alpha,
                self.cfg.seed,
            )
        logger.info(f"{self.spec.name}: loaded {split} with {len(dataset)} examples")
        return self.datasets[split]

    def _language_ranges(self, size: int) -> dict[str, tuple[int, int]] | None:
        """(start, count) in ``train`` of each chosen training language, or None to train on
        ``train`` as it is (no --train-languages and no --language-sampling-alpha)."""
        chosen = [lang for lang in (self.cfg.train_languages or "").split(",") if lang]
        if not chosen and not self.cfg.language_sampling_alpha:
            return None
        counts = self.manifest.train_languages
        where = f"{self.cfg.data}/manifest.json"
        if counts is None:
            raise StiltsError(
                f"{where}: records no training languages; prepare the data again with this "
                "version of stilts-prepare to use --train-languages/--language-sampling-alpha"
            )
        if sum(counts.values()) != size:
            raise StiltsError(
                f"{where}: train_languages add up to {sum(counts.values())} examples, but the "
                f"train subset has {size}"
            )
        unknown = sorted(set(chosen) - set(counts))
        if unknown:
            raise StiltsError(
                f"--train-languages: {unknown} not in the training data of {self.cfg.data} "
                f"(it has: {','.join(counts)})"
            )
        starts = np.cumsum([0, *counts.values()])[:-1]
        return {
            lang: (int(start), n)
            for (lang, n), start in zip(counts.items(), starts, strict=True)
            if not chosen or lang in chosen
        }

    def get_batch_iterator(self, dataset, **kwargs):
        # This fairseq drops the last batch whenever its size is not a multiple of
        # --required-batch-size-multiple (default 8): evaluation would silently skip examples,
        # and training on length-sorted batches would never see the longest ones.
        kwargs["required_batch_size_multiple"] = 1
        # fairseq's validation loops ask for one iterator per subset and run through it before
        # asking for the next, so the subset whose dataset this is is the one being evaluated.
        self._evaluated = next((name for name, d in self.datasets.items() if d is dataset), None)
        self._truncate = True
        self._pass_logs = []
        return super().get_batch_iterator(dataset, **kwargs)

    # Predictions and metrics of evaluated subsets

    def record_predictions(self, ids, values: list, counts: list[dict] | None = None) -> None:
        """Append ``{"id": id, "prediction": value, "counts": {...}}`` JSON lines for the subset
        being evaluated.

        ``ids`` (a tensor or a list of ints) are example indices in the subset, ``values`` any
        JSON values, one per id; ``counts``, one per id, the example's share of the sums its
        metrics derive from (:mod:`fairseq_stilts.metrics.sums`). Written to
        ``--predictions-dir``/``<subset>.<rank>.jsonl``, which the first record of each pass
        over the subset starts afresh; a no-op without
        ``--predictions-dir``. Criteria call it in eval mode. (In multi-GPU fairseq-train, a
        rank short of batches re-runs fairseq's dummy batch, so its ids can appear twice.)
        """
        if not self.cfg.predictions_dir:
            return
        if self._evaluated is None:
            raise StiltsError(
                "--predictions-dir: the batches being evaluated are not from a subset of this task"
            )
        ids = ids.tolist() if hasattr(ids, "tolist") else list(ids)
        counts = counts if counts is not None else [None] * len(ids)
        if not len(ids) == len(values) == len(counts):
            raise ValueError(f"{len(ids)} ids, {len(values)} predictions, {len(counts)} counts")
        rank = distributed_utils.get_global_rank()
        path = Path(self.cfg.predictions_dir, f"{self._evaluated}.{rank}.jsonl")
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w" if self._truncate else "a", encoding="utf-8") as handle:
            for i, value, count in zip(ids, values, counts, strict=True):
                record = {"id": int(i), "prediction": value}
                record |= {"counts": count} if count is not None else {}
                handle.write(json.dumps(record, ensure_ascii=False))
                handle.write("\n")
        self._truncate = False

    def train_step(self, *args, **kwargs):
        self._validating = False
        return super().train_step(*args, **kwargs)

    def valid_step(self, sample, model, criterion):
        self._validating = True
        loss, sample_size, logging_output = super().valid_step(sample, model, criterion)
        info = self.manifest.subsets.get(self._evaluated or "")
        if info is not None and not info.labelled:
            # a test set without gold labels: the criterion recorded the predictions; its
            # scores against the placeholder labels mean nothing and are dropped
            logging_output = {"unlabelled": logging_output.get("nsentences", 0)}
        return loss, sample_size, logging_output

    def reduce_metrics(self, logging_outputs, criterion) -> None:
        if any("unlabelled" in log for log in logging_outputs):
            self._reduce_scores(logging_outputs, criterion)
        else:
            super().reduce_metrics(logging_outputs, criterion)
        if self._validating and self.cfg.predictions_dir and self._evaluated is not None:
            # fairseq-validate reduces a whole subset at once, fairseq-train one batch at a
            # time (all ranks' outputs, gathered): the file holds the pass so far.
            self._pass_logs += logging_outputs
            self._write_metrics(criterion)

    def _write_metrics(self, criterion) -> None:
        with metrics.aggregate(new_root=True) as aggregate:
            self._reduce_scores(self._pass_logs, criterion)
            values = {key: float(value) for key, value in aggregate.get_smoothed_values().items()}
        if distributed_utils.get_global_rank() == 0:
            path = Path(self.cfg.predictions_dir, f"{self._evaluated}.metrics.json")
            write_atomic(path, json.dumps(values, indent=2) + "\n")

    @staticmethod
    def _reduce_scores(logging_outputs, criterion) -> None:
        """The criterion's metrics; of an unlabelled subset only its number of examples."""
        unlabelled = sum(log.get("unlabelled", 0) for log in logging_outputs)
        if unlabelled:
            metrics.log_scalar_sum("unlabelled", unlabelled)
        else:
            criterion.reduce_metrics(logging_outputs)

    # Model, criterion, sizes

    @property
    def head_classes(self) -> int:
        """Outputs of the task's head (default: one per label)."""
        return len(self.label_dictionary) - self.label_dictionary.nspecial

    def build_model(self, cfg, from_checkpoint: bool = False):
        model = super().build_model(cfg, from_checkpoint)
        use_bf16_autocast(model, self.cfg.bf16_autocast)
        if self.family.head is not None:
            if not hasattr(model, "register_task_head"):
                raise StiltsError(
                    f"task {self.spec.name!r} needs an XLM-R model "
                    "(--arch xlmr_base/xlmr_large/xlmr_tiny)"
                )
            self.register_head(model)
        return model

    def register_head(self, model) -> None:
        """Give ``model`` this task's head (also for a multi-task run's model)."""
        model.register_task_head(self.family.head, self.head_name, self.head_classes)

    def build_criterion(self, cfg, from_checkpoint: bool = False):
        expected = self.family.criterion
        if cfg._name != expected:
            raise StiltsError(
                f"task {self.spec.name!r} trains with --criterion {expected}, not {cfg._name!r}"
            )
        return super().build_criterion(cfg, from_checkpoint)

    def max_positions(self) -> int:
        return self.spec.sequence_length(self.cfg.max_seq_length, self.manifest.max_seq_length)

    @property
    def source_dictionary(self) -> Dictionary:
        return self.dictionary

    @property
    def target_dictionary(self) -> Dictionary:
        return self.dictionary
