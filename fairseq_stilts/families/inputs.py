"""Dataset building blocks the families' tasks share: the binarized inputs of a subset, XLM-R's
sequences, padded net inputs, and label targets."""

from pathlib import Path

from fairseq.data import (
    ConcatSentencesDataset,
    NumelDataset,
    OffsetTokensDataset,
    PrependTokenDataset,
    RightPadDataset,
    StripTokenDataset,
    data_utils,
)
from fairseq.data.shorten_dataset import maybe_shorten_dataset

from fairseq_stilts.families.stilts_task import StiltsTask


def load_inputs(task: StiltsTask, split: str) -> list:
    """The binarized ``input<i>/<split>`` of every field, in the manifest's order."""
    task.check_subset(split)
    return [
        data_utils.load_indexed_dataset(
            str(Path(task.cfg.data, f"input{i}", split)), task.dictionary
        )
        for i in range(len(task.manifest.input_fields))
    ]


def sequence(task: StiltsTask, split: str, first, *others):
    """``<s> A </s> </s> B </s>`` (as XLM-R was trained), truncated to --max-seq-length."""
    tokens = PrependTokenDataset(first, task.dictionary.bos())
    for extra in others:
        tokens = ConcatSentencesDataset(tokens, PrependTokenDataset(extra, task.dictionary.eos()))
    return maybe_shorten_dataset(tokens, split, "", "truncate", task.max_positions(), task.cfg.seed)


def net_input(task: StiltsTask, tokens) -> dict:
    return {
        "src_tokens": RightPadDataset(tokens, pad_idx=task.dictionary.pad()),
        "src_lengths": NumelDataset(tokens, reduce=False),
    }


def load_targets(task: StiltsTask, split: str):
    """The label index of each example (``label/<split>``, dictionary specials removed)."""
    labels = data_utils.load_indexed_dataset(
        str(Path(task.cfg.data, "label", split)), task.label_dictionary
    )
    return OffsetTokensDataset(
        StripTokenDataset(labels, id_to_strip=task.label_dictionary.eos()),
        offset=-task.label_dictionary.nspecial,
    )
