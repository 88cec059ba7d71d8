"""Masked-LM on raw multilingual text, trained through the pretrained model's own LM head.

Reads the folder made by ``stilts-prepare mlm RAW --model DIR --out DATA``
(:mod:`fairseq_stilts.families.mlm.prepare`). Each sentence is ``<s> pieces </s>``, truncated to
``--max-seq-length`` (default 256) and masked by fairseq's ``MaskTokensDataset``: 15% of the
tokens (``--mask-prob``), of which 80% become ``<mask>``, 10% a random token
(``--random-token-prob``) and 10% stay (``--leave-unmasked-prob``); the mask depends on
(seed, epoch, position). Subsets:

- ``train``: each epoch a new sample of the ``--languages`` (default: all prepared) with
  p_l ~ n_l^alpha (``--language-sampling-alpha``, default 0.3 as XLM-R; 0: no sampling, every
  sentence once), as many sentences as they hold in all; see
  :class:`~fairseq_stilts.data.datasets.language_sampling.LanguageSampledDataset`;
- ``valid``: the held-out sentences of those languages; ``valid.<lang>``: one language's.
  fairseq always validates with epoch 1, so their masks are the same at every validation.

Batches are what fairseq's own ``masked_lm`` task makes (``id``, ``net_input.src_tokens``,
``net_input.src_lengths``, ``target`` = the original token at masked positions and pad
elsewhere, ``nsentences``, ``ntokens``), so ``--criterion masked_lm`` trains on them, through the
model's ``encoder.lm_head`` (which ``--finetune-from-model`` keeps from the checkpoint)::

    fairseq-train DATA --user-dir fairseq_stilts --task mlm --criterion masked_lm \\
      --arch xlmr_tiny --finetune-from-model TINY/model.pt ...

From Python (e.g. inside a multi-task mixture)::

    from fairseq.tasks import TASK_DATACLASS_REGISTRY, TASK_REGISTRY
    from omegaconf import OmegaConf

    cfg = OmegaConf.structured(TASK_DATACLASS_REGISTRY["mlm"])
    cfg.data, cfg.seed = "data/mlm", 1  # optional: max_seq_length, language_sampling_alpha,
    task = TASK_REGISTRY["mlm"].setup_task(cfg)  #   languages ("de,fr"), mask probabilities
    train = task.load_dataset("train")  # call train.set_epoch(epoch) for each epoch's sample
    criterion = task.build_criterion(OmegaConf.create({"_name": "masked_lm"}))
"""

import logging
from dataclasses import dataclass, field
from pathlib import Path

from fairseq.data import (
    ConcatDataset,
    Dictionary,
    IdDataset,
    NestedDictionaryDataset,
    NumelDataset,
    NumSamplesDataset,
    PrependTokenDataset,
    RightPadDataset,
    TruncateDataset,
    data_utils,
)
from fairseq.data.mask_tokens_dataset import MaskTokensDataset

from fairseq_stilts.data.datasets.language_sampling import LanguageSampledDataset
from fairseq_stilts.data.datasets.length_grouped import LengthGroupedDataset
from fairseq_stilts.data.prepare.manifest import Manifest
from fairseq_stilts.errors import StiltsError
from fairseq_stilts.families.stilts_task import StiltsConfig, StiltsTask
from fairseq_stilts.runtime import DICT_FILE

logger = logging.getLogger(__name__)


@dataclass
class MLMConfig(StiltsConfig):
    languages: str = field(
        default="", metadata={"help": "comma-separated languages to train on (default: all)"}
    )
    language_sampling_alpha: float = field(
        default=0.3,
        metadata={
            "help": "each epoch samples language l with probability ~ n_l ** A (XLM-R: 0.3), "
            "epoch size the sum of the n_l; 0: every sentence once"
        },
    )
    mask_prob: float = field(default=0.15, metadata={"help": "share of tokens to predict"})
    leave_unmasked_prob: float = field(
        default=0.1, metadata={"help": "share of those left unchanged"}
    )
    random_token_prob: float = field(
        default=0.1, metadata={"help": "share of those replaced by a random token"}
    )


class MLMTask(StiltsTask):
    """The ``mlm`` family (one task, ``mlm``); see the module docstring."""

    dictionary_file = DICT_FILE

    def __init__(self, cfg: MLMConfig, dictionary: Dictionary, labels: None, manifest: Manifest):
        super().__init__(cfg, dictionary, labels, manifest)
        self.mask_idx = dictionary.index("<mask>")
        prepared = manifest.languages["train"]
        self.languages = [lang for lang in cfg.languages.split(",") if lang] or prepared
        unknown = sorted(set(self.languages) - set(prepared))
        if unknown:
            raise StiltsError(
                f"--languages: no text for {unknown} in {cfg.data}; it has: {','.join(prepared)}"
            )

    def load_dataset(self, split: str, epoch: int = 1, combine: bool = False, **kwargs):
        """``train``, ``valid`` or ``valid.<lang>``, as fairseq-train asks for them."""
        prepared = self.manifest.subsets
        subset, _, lang = split.partition(".")
        languages = [lang] if lang else self.languages
        if subset == "valid" and not lang:  # a language of under 50 sentences holds none out
            languages = [lang for lang in languages if f"valid.{lang}" in prepared]
        if (
            subset not in ("train", "valid")
            or not languages
            or any(f"{subset}.{lang}" not in prepared for lang in languages)
        ):
            valid = [f"valid.{lang}" for lang in self.languages if f"valid.{lang}" in prepared]
            raise StiltsError(
                f"subset {split!r} is not in {self.cfg.data}; it has: train, "
                f"{', '.join(['valid', *valid]) if valid else 'no held-out sentences'}"
            )
        parts = [self._sentences(f"{subset}.{lang}") for lang in languages]
        tokens = ConcatDataset(parts)
        if subset == "train":
            starts = [0, *tokens.cumulative_sizes[:-1]]
            ranges = {
                lang: (start, len(part))
                for lang, start, part in zip(languages, starts, parts, strict=True)
            }
            tokens = LanguageSampledDataset(
                tokens, tokens.sizes, ranges, self.cfg.language_sampling_alpha, self.cfg.seed, epoch
            )
        source, target = (self._mask(tokens, return_masked_tokens=t) for t in (False, True))
        pad = self.dictionary.pad()
        dataset = NestedDictionaryDataset(
            {
                "id": IdDataset(),
                "net_input": {
                    "src_tokens": RightPadDataset(source, pad_idx=pad),
                    "src_lengths": NumelDataset(source, reduce=False),
                },
                "target": RightPadDataset(target, pad_idx=pad),
                "nsentences": NumSamplesDataset(),
                "ntokens": NumelDataset(source, reduce=True),
            },
            sizes=[tokens.sizes],  # the sampler rewrites this array each epoch
        )
        self.datasets[split] = LengthGroupedDataset(dataset, tokens.sizes)
        logger.info(f"mlm: loaded {split} with {len(dataset)} sentences ({', '.join(languages)})")
        return self.datasets[split]

    def _sentences(self, name: str):
        """``<s> pieces </s>`` of one prepared subset, at most --max-seq-length tokens."""
        raw = data_utils.load_indexed_dataset(str(Path(self.cfg.data, name)), self.dictionary)
        bos = PrependTokenDataset(raw, self.dictionary.bos())
        return TruncateDataset(bos, self.max_positions())

    def _mask(self, tokens, return_masked_tokens: bool) -> MaskTokensDataset:
        # Two masking datasets of one seed make the same mask; fairseq's apply_mask would also
        # cache items by position, which this task's resampled epochs would make stale.
        return MaskTokensDataset(
            tokens,
            self.dictionary,
            pad_idx=self.dictionary.pad(),
            mask_idx=self.mask_idx,
            return_masked_tokens=return_masked_tokens,
            seed=self.cfg.seed,
            mask_prob=self.cfg.mask_prob,
            leave_unmasked_prob=self.cfg.leave_unmasked_prob,
            random_token_prob=self.cfg.random_token_prob,
        )
