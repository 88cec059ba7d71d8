"""Registering the plugin with fairseq: the tasks of every family, the criteria, the multi-task
task, the models and the optimizer; weights-only loading of fairseq checkpoints; one-line user
errors in the fairseq executables.

Importing ``fairseq_stilts`` calls :func:`register` (that is what ``--user-dir`` relies on),
except in the stilts-* commands, which call it once their arguments are parsed: their ``--help``
and argument errors then stay fast and never import fairseq or torch.
"""

import atexit
import logging
import os

_registered = False


def register() -> None:
    """Import fairseq and register everything with it (once)."""
    global _registered
    if _registered:
        return
    from fairseq_stilts.runtime import require_fairseq

    # fairseq nags at import time about an optional speech dependency we never use.
    logging.getLogger("fairseq.tasks.text_to_speech").setLevel(logging.WARNING)
    require_fairseq()

    from fairseq_stilts import models, multitask, optim  # noqa: F401
    from fairseq_stilts.checkpoint_safety import allow_fairseq_checkpoints
    from fairseq_stilts.errors import report_user_errors
    from fairseq_stilts.families import fairseq_tasks  # noqa: F401

    allow_fairseq_checkpoints()
    report_user_errors()
    # Importing fairseq runs its wav2vec2 classification module, which sets the root logger to
    # DEBUG (so matplotlib and others print their debug lines). Back to INFO unless asked.
    if (
        logging.getLogger().level < logging.INFO
        and os.environ.get("LOGLEVEL", "").upper() != "DEBUG"
    ):
        logging.getLogger().setLevel(logging.INFO)
    atexit.register(_destroy_process_group)
    _registered = True


def _destroy_process_group() -> None:
    """Tear a data-parallel run's process group down before the interpreter does: fairseq
    leaves it up, and a gloo rank exiting with its threads still running can abort
    ("terminate called without an active exception") after a successful run."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
