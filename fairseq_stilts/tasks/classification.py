"""Sentence and sentence-pair classification (MNLI, ANLI+, QQP, SST-2, XNLI, PAWS-X).

Reads folders made by ``stilts-prepare``. Subsets are ``train``, ``valid`` (English dev),
``valid.<lang>`` and ``test.<lang>``. Training batches hold examples of similar length (see
:class:`LengthGroupedDataset`), which removes most padding compared with stock
``sentence_prediction``'s random batches. Multilingual training data (``train`` concatenating
``train.<lang>``) trains on chosen languages, concatenated or sampled with an exponent
(``--train-languages``, ``--language-sampling-alpha``: :class:`LanguageSampledDataset`).

With ``--predictions-dir DIR`` every evaluated subset's predictions go to
``DIR/<subset>.<rank>.jsonl``, one JSON line ``{"id": ..., "prediction": ...}`` per example (see
:meth:`ClassificationTask.record_predictions`).
"""

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
from fairseq.data import (
    ConcatSentencesDataset,
    Dictionary,
    IdDataset,
    NestedDictionaryDataset,
    NumelDataset,
    NumSamplesDataset,
    OffsetTokensDataset,
    PrependTokenDataset,
    RightPadDataset,
    StripTokenDataset,
    data_utils,
)
from fairseq.data.shorten_dataset import maybe_shorten_dataset
from fairseq.dataclass import FairseqDataclass
from fairseq.distributed import utils as distributed_utils
from fairseq.tasks import FairseqTask
from omegaconf import II, MISSING

from fairseq_stilts.data.language_sampling import LanguageSampledDataset
from fairseq_stilts.data.length_grouped import LengthGroupedDataset
from fairseq_stilts.data.prepare import read_manifest
from fairseq_stilts.errors import StiltsError
from fairseq_stilts.registry import TaskSpec, get_spec

logger = logging.getLogger(__name__)
CRITERIA = ("stilts_classification",)


@dataclass
class ClassificationConfig(FairseqDataclass):
    data: str = field(default=MISSING, metadata={"help": "data folder made by stilts-prepare"})
    # Not "max_positions": that name is also the model's option (its number of positions).
    max_seq_length: int = field(
        default=0, metadata={"help": "truncate inputs to this many tokens (0: the task's default)"}
    )
    head_name: str = field(
        default="",
        metadata={
            "help": "classification head to train (default: the task's name). Naming a head of "
            "the restored checkpoint reuses it; the checkpoint's other heads are dropped"
        },
    )
    num_classes: int = field(
        default=-1, metadata={"help": "if set, must equal the number of labels in the data"}
    )
    predictions_dir: str = field(
        default="",
        metadata={
            "help": "write the predictions of every evaluated subset to "
            "DIR/<subset>.<rank>.jsonl (one JSON line per example: id, prediction)"
        },
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
    seed: int = II("common.seed")


class ClassificationTask(FairseqTask):
    """The classification family; subclasses set ``spec_name``."""

    spec_name: ClassVar[str]
    criteria: ClassVar[tuple[str, ...]] = CRITERIA

    def __init__(
        self,
        cfg: ClassificationConfig,
        dictionary: Dictionary,
        label_dictionary: Dictionary,
        manifest: dict,
    ):
        super().__init__(cfg)
        self.spec: TaskSpec = get_spec(self.spec_name)
        self.dictionary = dictionary
        self.label_dictionary = label_dictionary
        self.manifest = manifest
        self.head_name = cfg.head_name or self.spec.name
        self._evaluated: str | None = None  # the subset of the latest batch iterator
        self._truncate = False  # the next record starts a new pass over that subset

    @classmethod
    def setup_task(cls, cfg: ClassificationConfig, **kwargs):
        spec = get_spec(cls.spec_name)
        data = Path(cfg.data)
        manifest = read_manifest(data, spec.name)
        dictionary = Dictionary.load(str(data / "input0" / "dict.txt"))
        dictionary.add_symbol("<mask>")
        return cls(cfg, dictionary, cls._load_label_dictionary(data, cfg), manifest)

    @staticmethod
    def _load_label_dictionary(data: Path, cfg: ClassificationConfig) -> Dictionary:
        label_dictionary = Dictionary.load(str(data / "label" / "dict.txt"))
        labels = label_dictionary.symbols[label_dictionary.nspecial :]
        if cfg.num_classes > 0 and cfg.num_classes != len(labels):
            raise StiltsError(
                f"--num-classes {cfg.num_classes} does not match the {len(labels)} labels of "
                f"{data / 'label' / 'dict.txt'} ({' '.join(labels)})"
            )
        return label_dictionary

    @property
    def num_classes(self) -> int:
        return len(self.label_dictionary) - self.label_dictionary.nspecial

    @property
    def head_classes(self) -> int:
        """Outputs of the task's head: one per class."""
        return self.num_classes

    def load_dataset(self, split: str, combine: bool = False, **kwargs):
        inputs = self._load_inputs(split)
        tokens = self._sequence(split, inputs[0], *inputs[1:])
        dataset = NestedDictionaryDataset(
            {
                "id": IdDataset(),
                "net_input": self._net_input(tokens),
                "target": self._load_targets(split),
                "nsentences": NumSamplesDataset(),
                "ntokens": NumelDataset(tokens, reduce=True),
            },
            sizes=[tokens.sizes],
        )
        return self._set_dataset(split, dataset, tokens.sizes)

    # Building blocks shared with the multiple-choice family.

    def _load_inputs(self, split: str) -> list:
        """The binarized ``input<i>/<split>`` of every field, in the manifest's order."""
        if split not in self.manifest["subsets"]:
            raise StiltsError(
                f"subset {split!r} is not in {self.cfg.data}; it has: {', '.join(self.manifest['subsets'])}"
            )
        return [
            data_utils.load_indexed_dataset(
                str(Path(self.cfg.data, f"input{i}", split)), self.dictionary
            )
            for i in range(len(self.manifest["input_fields"]))
        ]

    def _sequence(self, split: str, first, *others):
        """``<s> A </s> </s> B </s>`` (as XLM-R was trained), truncated to --max-seq-length."""
        tokens = PrependTokenDataset(first, self.dictionary.bos())
        for extra in others:
            tokens = ConcatSentencesDataset(
                tokens, PrependTokenDataset(extra, self.dictionary.eos())
            )
        return maybe_shorten_dataset(
            tokens, split, "", "truncate", self.max_positions(), self.cfg.seed
        )

    def _net_input(self, tokens) -> dict:
        return {
            "src_tokens": RightPadDataset(tokens, pad_idx=self.dictionary.pad()),
            "src_lengths": NumelDataset(tokens, reduce=False),
        }

    def _load_targets(self, split: str):
        labels = data_utils.load_indexed_dataset(
            str(Path(self.cfg.data, "label", split)), self.label_dictionary
        )
        return OffsetTokensDataset(
            StripTokenDataset(labels, id_to_strip=self.label_dictionary.eos()),
            offset=-self.label_dictionary.nspecial,
        )

    def _set_dataset(self, split: str, dataset, sizes, example_sizes=None):
        """Wrap ``dataset`` for batching by ``sizes``; ``example_sizes`` is each example's own
        size where that differs (span QA: a question's longest window, against its padded
        windows), and is what language sampling groups by."""
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
        counts = self.manifest.get("train_languages")
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
        return super().get_batch_iterator(dataset, **kwargs)

    def record_predictions(self, ids, values: list) -> None:
        """Append ``{"id": id, "prediction": value}`` JSON lines for the subset being evaluated.

        ``ids`` (a tensor or a list of ints) are example indices in the subset, ``values`` any
        JSON values, one per id. Written to ``--predictions-dir``/``<subset>.<rank>.jsonl``, which
        the first record of each pass over the subset starts afresh; a no-op without
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
        if len(ids) != len(values):
            raise ValueError(f"{len(ids)} ids but {len(values)} predictions")
        rank = distributed_utils.get_global_rank()
        path = Path(self.cfg.predictions_dir, f"{self._evaluated}.{rank}.jsonl")
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w" if self._truncate else "a", encoding="utf-8") as handle:
            for i, value in zip(ids, values, strict=True):
                handle.write(json.dumps({"id": int(i), "prediction": value}, ensure_ascii=False))
                handle.write("\n")
        self._truncate = False

    def build_model(self, cfg, from_checkpoint: bool = False):
        model = super().build_model(cfg, from_checkpoint)
        if not hasattr(model, "register_classification_head"):
            raise StiltsError(
                f"task {self.spec.name!r} needs an XLM-R model (--arch xlmr_base/xlmr_large/xlmr_tiny)"
            )
        self._register_head(model)
        return model

    def _register_head(self, model) -> None:
        model.register_classification_head(self.head_name, num_classes=self.head_classes)

    def build_criterion(self, cfg, from_checkpoint: bool = False):
        if cfg._name not in self.criteria:
            raise StiltsError(
                f"task {self.spec.name!r} trains with --criterion {' or '.join(self.criteria)}, not {cfg._name!r}"
            )
        return super().build_criterion(cfg, from_checkpoint)

    def max_positions(self) -> int:
        return self.cfg.max_seq_length or self.spec.max_length

    @property
    def source_dictionary(self) -> Dictionary:
        return self.dictionary

    @property
    def target_dictionary(self) -> Dictionary:
        return self.dictionary
