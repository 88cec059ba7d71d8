"""Let torch's weights-only loading read fairseq checkpoints, without turning it off.

fairseq checkpoints pickle a few plain containers (an ``argparse.Namespace`` for legacy models,
a ``defaultdict`` ...). We allow-list exactly those classes; anything else in a pickle, such as a
call to ``os.system``, is still refused by torch.
"""

import argparse
import collections

import torch

FAIRSEQ_CHECKPOINT_GLOBALS = [argparse.Namespace, collections.defaultdict]


def allow_fairseq_checkpoints() -> None:
    torch.serialization.add_safe_globals(FAIRSEQ_CHECKPOINT_GLOBALS)
