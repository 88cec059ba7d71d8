"""Let torch's weights-only loading read fairseq checkpoints, without turning it off.

fairseq checkpoints of legacy models such as RoBERTa/XLM-R pickle an ``argparse.Namespace``
(their model config). In data-parallel runs rank 0 also re-pickles the loaded state, whose config
is by then an omegaconf ``DictConfig``, and the other ranks unpickle it with ``torch.load``. We
allow-list exactly the classes these two pickles hold; anything else, such as a call to
``os.system``, is still refused by torch, and fairseq's checkpoint loader reports the refusal as
an :class:`UnsafeCheckpointError` naming the file and the blocked global. A file torch cannot
read at all (truncated, or not a checkpoint) is an :class:`UnreadableCheckpointError`. Both are
user errors: one ``error:`` line, in our commands and in the fairseq executables alike.
"""

import argparse
import collections
import functools
import pickle
import re
import typing

import torch
from fairseq import checkpoint_utils
from fairseq.distributed.utils import _TensorPlaceholder
from omegaconf import DictConfig, ListConfig, base, nodes

from fairseq_stilts.errors import StiltsError

FAIRSEQ_CHECKPOINT_GLOBALS = [
    argparse.Namespace,  # the model config of legacy (argparse) models
    # the loaded state broadcast from rank 0: tensors are sent apart and stand in the pickle as
    # placeholders; omegaconf containers and their metadata
    _TensorPlaceholder,
    DictConfig,
    ListConfig,
    base.ContainerMetadata,
    base.Metadata,
    nodes.AnyNode,
    nodes.StringNode,
    nodes.IntegerNode,
    nodes.FloatNode,
    nodes.BooleanNode,
    typing.Any,
    collections.defaultdict,
    dict,
    list,
    int,
    float,
    str,
    bool,
]


class UnsafeCheckpointError(StiltsError, pickle.UnpicklingError):
    """A checkpoint asks to unpickle something that is not plain data."""


class UnreadableCheckpointError(StiltsError):
    """A file that torch cannot read as a checkpoint: truncated, empty, or something else."""


def allow_fairseq_checkpoints() -> None:
    """Allow-list fairseq's checkpoint classes and make refusals name the file and global."""
    torch.serialization.add_safe_globals(FAIRSEQ_CHECKPOINT_GLOBALS)
    if not getattr(checkpoint_utils.load_checkpoint_to_cpu, "stilts_checked", False):
        checkpoint_utils.load_checkpoint_to_cpu = _explain_refusals(
            checkpoint_utils.load_checkpoint_to_cpu
        )


def _explain_refusals(load):
    @functools.wraps(load)
    def checked_load(path, arg_overrides=None, *args, **kwargs):
        try:
            state = load(path, arg_overrides, *args, **kwargs)
        except pickle.UnpicklingError as err:
            if "Weights only load failed" not in str(err):
                raise _unreadable(path, err) from None
            found = re.search(r"GLOBAL (\S+)", str(err))
            what = found.group(1) if found else "an object that is not plain data"
            allowed = ", ".join(
                f"{c.__module__}.{c.__qualname__}" for c in FAIRSEQ_CHECKPOINT_GLOBALS
            )
            raise UnsafeCheckpointError(
                f"{path}: refused to load: the file asks to unpickle {what}, which is not on "
                f"fairseq-stilts' allow-list for fairseq checkpoints (beyond plain data: {allowed}). "
                "Weights-only loading stays on; do not load this file unless you trust where it "
                "came from."
            ) from None

        except (RuntimeError, EOFError, ValueError, KeyError, OSError) as err:
            if isinstance(err, StiltsError | FileNotFoundError | PermissionError):
                raise
            raise _unreadable(path, err) from None
        _check_task(path, state, (arg_overrides or {}).get("task"))
        return state

    checked_load.stilts_checked = True
    return checked_load


def _check_task(path, state: dict, wanted: str | None) -> None:
    """fairseq-validate --task X rebuilds the task the checkpoint was saved with: a checkpoint of
    another task (the pretrained model.pt on a target's folder) would fail on its data."""
    cfg = state.get("cfg")
    saved = getattr(getattr(cfg, "task", None), "_name", None) if cfg is not None else None
    if wanted and saved and wanted != saved:
        raise StiltsError(
            f"{path}: saved by task {saved!r}, not {wanted!r}: evaluate a checkpoint that "
            f"fairseq-train saved for {wanted} (a pretrained model.pt has no {wanted} head)"
        )


def _unreadable(path, err: Exception) -> UnreadableCheckpointError:
    text = str(err).strip()
    detail = f"{type(err).__name__}: {text.splitlines()[0]}" if text else type(err).__name__
    return UnreadableCheckpointError(
        f"{path}: not a readable checkpoint (truncated, or not a file torch saved): {detail}"
    )
