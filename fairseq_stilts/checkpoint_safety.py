"""Let torch's weights-only loading read fairseq checkpoints, without turning it off.

fairseq checkpoints of legacy models such as RoBERTa/XLM-R pickle an ``argparse.Namespace``
(their model config). In data-parallel runs rank 0 also re-pickles the loaded state, whose config
is by then an omegaconf ``DictConfig``, and the other ranks unpickle it with ``torch.load``. We
allow-list exactly the classes these two pickles hold; anything else, such as a call to
``os.system``, is still refused by torch, and fairseq's checkpoint loader reports the refusal as
an :class:`UnsafeCheckpointError` naming the file and the blocked global. A file torch cannot
read at all (truncated, or not a checkpoint) is an :class:`UnreadableCheckpointError`. Both are
user errors: one ``error:`` line, in our commands and in the fairseq executables alike.

fairseq 0.9's files (2019: the ``xlmr.base``/``xlmr.large`` releases) also name what fairseq
0.9's trainer kept in ``extra_state``: its meters (``fairseq.meters``, a module fairseq 0.10
removed) and numpy scalars. Those names are mapped to stand-ins of ours
(:data:`FAIRSEQ_2019_GLOBALS`) that only hold data: a meter becomes a :class:`Meter2019`
holding the attributes the file gives it, a numpy scalar of a number type becomes the Python
number its bytes hold, and any other numpy type is refused. A release file without the training
state fairseq's loader expects (``optimizer_history``, ``extra_state``) gets an empty one.
"""

import argparse
import collections
import functools
import pickle
import pickletools
import re
import struct
import typing
import zipfile

import numpy
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


# Our stand-ins' refusals start with this, so that the refusal names what was refused.
REFUSED = "fairseq-stilts refuses "
NUMBER_KINDS = "biufc"  # numpy's kinds of bool, signed and unsigned integer, float, complex


class Meter2019:
    """A meter of fairseq 0.9's trainer (``fairseq.meters.AverageMeter``, ``TimeMeter``,
    ``StopwatchMeter``) as plain data: the attributes the file gives it, and no behaviour.
    Nothing reads them: fairseq 0.12 keeps its meters in ``extra_state["metrics"]``."""


class NumpyDtype2019:
    """``numpy.dtype`` as a pickled numpy scalar names its type: a number type only."""

    def __init__(self, code: object, align: object = False, copy: object = True) -> None:
        try:
            dtype = numpy.dtype(code) if isinstance(code, str) else None
        except (TypeError, ValueError, SyntaxError):
            dtype = None
        if dtype is None or dtype.kind not in NUMBER_KINDS:
            raise pickle.UnpicklingError(f"{REFUSED}numpy.dtype({code!r}), not a number type")
        self.dtype = dtype

    def __setstate__(self, state: object) -> None:
        order = state[1] if isinstance(state, tuple) and len(state) > 1 else None
        if order not in ("<", ">", "=", "|"):
            raise pickle.UnpicklingError(f"{REFUSED}numpy.dtype with the state {state!r}")
        if order in "<>":
            self.dtype = self.dtype.newbyteorder(order)


def numpy_scalar_2019(dtype: object, data: object) -> bool | int | float | complex:
    """numpy's scalar reconstruction for numbers only: the Python number that the bytes
    ``data`` hold in the number type ``dtype``."""
    number = getattr(dtype, "dtype", None) if isinstance(dtype, NumpyDtype2019) else None
    if number is None:
        raise pickle.UnpicklingError(
            f"{REFUSED}numpy.core.multiarray.scalar of a {type(dtype).__name__}, not of a numpy "
            "number type"
        )
    if not isinstance(data, bytes) or len(data) != number.itemsize:
        raise pickle.UnpicklingError(
            f"{REFUSED}numpy.core.multiarray.scalar({number}, {type(data).__name__}), not the "
            f"{number.itemsize} bytes of a {number}"
        )
    return numpy.frombuffer(data, number)[0].item()


# What fairseq 0.9's files name -> what stands in for it here.
FAIRSEQ_2019_GLOBALS = {
    "fairseq.meters.AverageMeter": Meter2019,
    "fairseq.meters.TimeMeter": Meter2019,
    "fairseq.meters.StopwatchMeter": Meter2019,
    "numpy.core.multiarray.scalar": numpy_scalar_2019,
    "numpy.dtype": NumpyDtype2019,
}


class UnsafeCheckpointError(StiltsError, pickle.UnpicklingError):
    """A checkpoint asks to unpickle something that is not plain data."""


class UnreadableCheckpointError(StiltsError):
    """A file that torch cannot read as a checkpoint: truncated, empty, or something else."""


def allow_fairseq_checkpoints() -> None:
    """Allow-list fairseq's checkpoint classes and make refusals name the file and global."""
    torch.serialization.add_safe_globals(FAIRSEQ_CHECKPOINT_GLOBALS)
    # The 2019 names; a Meter2019 also under its own, for the state rank 0 re-pickles.
    torch.serialization.add_safe_globals(
        [*((stand_in, name) for name, stand_in in FAIRSEQ_2019_GLOBALS.items()), Meter2019]
    )
    if not getattr(checkpoint_utils.load_checkpoint_to_cpu, "stilts_checked", False):
        checkpoint_utils.load_checkpoint_to_cpu = _explain_refusals(
            checkpoint_utils.load_checkpoint_to_cpu
        )
        checkpoint_utils._upgrade_state_dict = _with_training_state(
            checkpoint_utils._upgrade_state_dict
        )


def allowed_names() -> list[str]:
    """The dotted names of everything beyond plain data that a checkpoint may unpickle."""
    return [f"{c.__module__}.{c.__qualname__}" for c in FAIRSEQ_CHECKPOINT_GLOBALS] + list(
        FAIRSEQ_2019_GLOBALS
    )


def _with_training_state(upgrade):
    """fairseq's upgrade of a loaded state, which expects an ``optimizer_history`` (or the
    ``best_loss`` of older files) and an ``extra_state``: a release file of 2019 may hold only
    ``args`` and ``model``, and gets a history of no run (no optimizer, no updates) and an
    empty extra state."""

    @functools.wraps(upgrade)
    def upgraded(state: dict) -> dict:
        if "optimizer_history" not in state and "best_loss" not in state:
            state["optimizer_history"] = [
                {"criterion_name": None, "optimizer_name": None, "lr_scheduler_state": {}}
            ]
            state.setdefault("extra_state", {})
        return upgrade(state)

    return upgraded


def _explain_refusals(load):
    @functools.wraps(load)
    def checked_load(path, arg_overrides=None, *args, **kwargs):
        # fairseq sets a task override on a 2019 file's args before reading its task from them:
        # load without it, so that _check_task sees the saved task (it refuses any other)
        wanted = (arg_overrides or {}).get("task")
        if wanted is not None:
            arg_overrides = {k: v for k, v in arg_overrides.items() if k != "task"}
        try:
            state = load(path, arg_overrides, *args, **kwargs)
        except pickle.UnpicklingError as err:
            # (a global's name cut short by the end of the file reads as an unknown global)
            if "Weights only load failed" not in str(err) or _ends_early(path):
                raise _unreadable(path, err) from None
            found = re.search(rf"{re.escape(REFUSED)}(.+)|GLOBAL (\S+)", str(err))
            what = found.group(1) or found.group(2) if found else "an object that is not plain data"
            allowed = ", ".join(allowed_names())
            raise UnsafeCheckpointError(
                f"{path}: refused to load: the file asks to unpickle {what}, which is not on "
                f"fairseq-stilts' allow-list for fairseq checkpoints (beyond plain data: {allowed}). "
                "Weights-only loading stays on; do not load this file unless you trust where it "
                "came from."
            ) from None

        except (RuntimeError, EOFError, ValueError, LookupError, struct.error, OSError) as err:
            if isinstance(err, StiltsError | FileNotFoundError | PermissionError):
                raise
            raise _unreadable(path, err) from None
        _check_task(path, state, wanted)
        return state

    checked_load.stilts_checked = True
    return checked_load


# The pickles of torch's legacy (pre-1.6, non-zip) format, before the tensors' bytes: magic
# number, protocol version, system info, the state, the storage keys.
LEGACY_PICKLES = 5


def _ends_early(path) -> bool:
    """Whether a legacy-format file ends inside its pickles (read, not run, by pickletools).
    A zip-format file's end is checked by torch itself."""
    if zipfile.is_zipfile(path):
        return False
    with open(path, "rb") as handle:
        try:
            for _ in range(LEGACY_PICKLES):
                for _ in pickletools.genops(handle):
                    pass
        except ValueError:
            return True
    return False


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
    if _ends_early(path):
        detail = "the file ends inside its pickled state"
    return UnreadableCheckpointError(
        f"{path}: not a readable checkpoint (truncated, or not a file torch saved): {detail}"
    )
