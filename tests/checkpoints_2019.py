"""Imitations of fairseq 0.9's checkpoint files (2019: the ``xlmr.base``/``xlmr.large`` releases),
written from the tiny model's ``model.pt``.

What fairseq 0.9's ``checkpoint_utils.save_state`` (called by its ``Trainer.save_checkpoint``)
put in a file, in torch's pre-1.6 (non-zip) format, pickle protocol 2:

- ``args``: an ``argparse.Namespace`` of 0.9-era options;
- ``model``: the weights under 0.9's names (``decoder.sentence_encoder.*``,
  ``decoder.sentence_encoder.emb_layer_norm.*``, ``decoder.lm_head.*``), in fp16;
- ``optimizer_history``: one entry per run (criterion and optimizer class names, the LR
  scheduler's state, the update count);
- ``extra_state``: the data iterator's position, ``val_loss``/``best`` and ``train_meters``, the
  trainer's meters: instances of ``fairseq.meters.AverageMeter``, ``TimeMeter``,
  ``StopwatchMeter`` (a module fairseq 0.10 removed); numbers computed with numpy are numpy
  scalars, pickled as ``numpy.core.multiarray.scalar`` of a ``numpy.dtype``;
- ``last_optimizer_state``: the fp32 optimizer's state (Adam moments of the flat fp32 copy of
  the fp16 weights, and the loss scale).

Variants: ``release`` (``args`` and ``model`` only), ``meters`` (+ ``extra_state``),
``trainer`` (everything the trainer wrote).
"""

from __future__ import annotations

import argparse
import collections
import pickle
import shutil
import time
import types
from pathlib import Path

import numpy
import torch

import fairseq_stilts  # noqa: F401  (today's model.pt holds an argparse.Namespace)

VARIANTS = ("release", "meters", "trainer")
MODEL_FILES = ("dict.txt", "sentencepiece.bpe.model")


class AverageMeter:
    """Pickled as ``fairseq.meters.AverageMeter``: a running mean (val, avg, sum, count)."""

    def __init__(self, val: float, count: int) -> None:
        self.val, self.avg, self.sum, self.count = val, val, val * count, count


class TimeMeter:
    """Pickled as ``fairseq.meters.TimeMeter``: events per second (init, start, n)."""

    def __init__(self, n: int) -> None:
        self.init, self.start, self.n = 0, time.time(), n


class StopwatchMeter:
    """Pickled as ``fairseq.meters.StopwatchMeter``: summed durations (sum, n, start_time)."""

    def __init__(self, total: float, n: int) -> None:
        self.sum, self.n, self.start_time = total, n, None


# The objects a 2019 pickle names by another module than the one they have here.
GLOBALS_2019 = {
    AverageMeter: ("fairseq.meters", "AverageMeter"),
    TimeMeter: ("fairseq.meters", "TimeMeter"),
    StopwatchMeter: ("fairseq.meters", "StopwatchMeter"),
    numpy.float64(0).__reduce__()[0]: ("numpy.core.multiarray", "scalar"),  # numpy 2: numpy._core
}


class Pickler2019(pickle._Pickler):
    """Python's pickler writing the 2019 module names of :data:`GLOBALS_2019`."""

    def save_global(self, obj, name=None):
        where = GLOBALS_2019.get(obj)
        if where is None:
            super().save_global(obj, name)
            return
        self.write(pickle.GLOBAL + f"{where[0]}\n{where[1]}\n".encode())
        self.memoize(obj)


PICKLE_2019 = types.ModuleType("pickle_2019")  # what torch.save calls its pickle module
PICKLE_2019.Pickler, PICKLE_2019.dump = Pickler2019, pickle.dump


def args_2019(model_args: argparse.Namespace) -> argparse.Namespace:
    """fairseq 0.9's options of an XLM-R pretraining run (``roberta_base`` with the tiny model's
    shape), as its ``fairseq-train`` parsed them: ``lr`` and ``update_freq`` are lists, the
    removed ``min_lr`` and ``max_sentences`` are there."""
    shape = {
        k: getattr(model_args, k)
        for k in (
            "encoder_layers",
            "encoder_embed_dim",
            "encoder_ffn_embed_dim",
            "encoder_attention_heads",
            "max_positions",
        )
    }
    return argparse.Namespace(
        arch="roberta_base",
        task="multilingual_masked_lm",
        criterion="masked_lm",
        optimizer="adam",
        lr_scheduler="polynomial_decay",
        data="cc100-bin",
        bpe=None,
        tokenizer=None,
        user_dir=None,
        no_progress_bar=False,
        log_interval=100,
        log_format="json",
        tensorboard_logdir="",
        seed=1,
        cpu=False,
        fp16=True,
        memory_efficient_fp16=False,
        fp16_init_scale=128,
        fp16_scale_window=None,
        fp16_scale_tolerance=0.0,
        min_loss_scale=0.0001,
        threshold_loss_scale=None,
        empty_cache_freq=0,
        num_workers=2,
        skip_invalid_size_inputs_valid_test=True,
        max_tokens=None,
        max_sentences=8,
        required_batch_size_multiple=8,
        dataset_impl="mmap",
        train_subset="train",
        valid_subset="valid",
        validate_interval=1,
        fixed_validation_seed=None,
        disable_validation=False,
        max_tokens_valid=None,
        max_sentences_valid=8,
        curriculum=0,
        distributed_world_size=256,
        distributed_rank=0,
        distributed_backend="nccl",
        distributed_init_method=None,
        distributed_port=55498,
        device_id=0,
        distributed_no_spawn=False,
        ddp_backend="c10d",
        bucket_cap_mb=25,
        fix_batches_to_gpus=False,
        find_unused_parameters=False,
        fast_stat_sync=False,
        max_epoch=0,
        max_update=1500000,
        clip_norm=0.0,
        sentence_avg=False,
        update_freq=[1],
        lr=[0.0003],
        min_lr=-1.0,
        use_bmuf=False,
        save_dir="checkpoints",
        restore_file="checkpoint_last.pt",
        reset_dataloader=False,
        reset_lr_scheduler=False,
        reset_meters=False,
        reset_optimizer=False,
        optimizer_overrides="{}",
        save_interval=1,
        save_interval_updates=5000,
        keep_interval_updates=-1,
        keep_last_epochs=-1,
        no_save=False,
        no_epoch_checkpoints=False,
        no_last_checkpoints=False,
        no_save_optimizer_state=False,
        best_checkpoint_metric="loss",
        maximize_best_checkpoint_metric=False,
        activation_fn="gelu",
        pooler_activation_fn="tanh",
        encoder_normalize_before=False,
        dropout=0.1,
        attention_dropout=0.1,
        activation_dropout=0.0,
        pooler_dropout=0.0,
        encoder_layerdrop=0.0,
        encoder_layers_to_keep=None,
        load_checkpoint_heads=False,
        sample_break_mode="complete",
        tokens_per_sample=512,
        mask_prob=0.15,
        leave_unmasked_prob=0.1,
        random_token_prob=0.1,
        freq_weighted_replacement=False,
        mask_whole_words=False,
        multilang_sampling_alpha=0.7,
        adam_betas="(0.9, 0.98)",
        adam_eps=1e-06,
        weight_decay=0.01,
        force_anneal=None,
        warmup_updates=10000,
        end_learning_rate=0.0,
        power=1.0,
        total_num_update=1500000,
        **shape,
    )


def weights_2019(model: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Today's RoBERTa weights under fairseq 0.9's names, in fp16 (buffers 0.9 did not have
    dropped). The LM head's output weight is the word embedding, saved under both names."""
    renamed = collections.OrderedDict()
    for key, value in model.items():
        if not key.startswith("encoder.") or key.endswith(".version"):
            continue  # the dictionary fingerprint, the encoder's version buffer
        key = "decoder." + key[len("encoder.") :].replace(
            ".layernorm_embedding.", ".emb_layer_norm."
        )
        renamed[key] = value.half()
    return renamed


def training_state_2019(weights: dict[str, torch.Tensor]) -> dict:
    """``optimizer_history`` and ``last_optimizer_state`` as 0.9's FP16Optimizer wrote them."""
    flat = sum(v.numel() for v in weights.values())
    moments = {"step": 125000, "exp_avg": torch.zeros(flat), "exp_avg_sq": torch.zeros(flat)}
    group = {"lr": 0.0003, "betas": (0.9, 0.98), "eps": 1e-06, "weight_decay": 0.01}
    return {
        "optimizer_history": [
            {
                "criterion_name": "MaskedLmLoss",
                "optimizer_name": "FP16Optimizer",
                "lr_scheduler_state": {"best": numpy.float64(1.875)},
                "num_updates": 125000,
            }
        ],
        "last_optimizer_state": collections.OrderedDict(
            state=collections.OrderedDict({0: collections.OrderedDict(moments)}),
            param_groups=[collections.OrderedDict(group, amsgrad=False, params=[0])],
            loss_scale=8.0,
        ),
    }


def extra_state_2019() -> dict:
    """``extra_state``: where the data iterator was, the losses, the trainer's meters."""
    meters = collections.OrderedDict(
        train_loss=AverageMeter(2.25, 4096),
        train_nll_loss=AverageMeter(2.25, 4096),
        valid_loss=AverageMeter(numpy.float64(1.875), 512),
        wps=TimeMeter(1 << 20),
        ups=TimeMeter(5000),
        wpb=AverageMeter(numpy.float32(4096.0), 5000),
        bsz=AverageMeter(8.0, 5000),
        gnorm=AverageMeter(0.5, 5000),
        clip=AverageMeter(0.0, 5000),
        oom=AverageMeter(0, 5000),
        loss_scale=AverageMeter(8.0, 5000),
        wall=TimeMeter(0),
        train_wall=StopwatchMeter(3600.5, 5000),
    )
    return {
        "train_iterator": {"epoch": 3, "iterations_in_epoch": 0},
        "val_loss": numpy.float64(1.875),
        "best": numpy.float64(1.875),
        "train_meters": meters,
    }


def state_2019(model_pt: Path, variant: str) -> dict:
    """The state a 2019 file of ``variant`` holds, made from the checkpoint ``model_pt``."""
    today = torch.load(model_pt, weights_only=True)
    weights = weights_2019(today["model"])
    state = {"args": args_2019(today["cfg"]["model"]), "model": weights}
    if variant in ("meters", "trainer"):
        state["extra_state"] = extra_state_2019()
    if variant == "trainer":
        state.update(training_state_2019(weights))
    return state


def save_2019(obj, path: Path) -> Path:
    """``torch.save`` as a 2019 torch wrote files: the legacy format, the 2019 module names."""
    torch.save(obj, path, pickle_module=PICKLE_2019, _use_new_zipfile_serialization=False)
    return path


def model_folder_2019(model_dir: Path, out: Path, variant: str) -> Path:
    """A release-layout folder (model.pt, dict.txt, sentencepiece.bpe.model) whose ``model.pt``
    is the 2019 file of ``variant`` made from the model folder ``model_dir``."""
    out.mkdir(parents=True)
    for name in MODEL_FILES:
        shutil.copyfile(model_dir / name, out / name)
    save_2019(state_2019(model_dir / "model.pt", variant), out / "model.pt")
    return out
