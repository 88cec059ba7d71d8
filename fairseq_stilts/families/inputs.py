"""Dataset building blocks the families' tasks share: the binarized inputs of a subset, XLM-R's
sequences, padded net inputs, label dictionaries and targets."""

from pathlib import Path

from fairseq.data import (
    ConcatSentencesDataset,
    Dictionary,
    NumelDataset,
    OffsetTokensDataset,
    PrependTokenDataset,
    RightPadDataset,
    StripTokenDataset,
    data_utils,
)
from fairseq.data.shorten_dataset import maybe_shorten_dataset

from fairseq_stilts.errors import StiltsError
from fairseq_stilts.families.stilts_task import StiltsTask, SupervisedConfig


def load_label_dictionary(data: Path, cfg: SupervisedConfig) -> Dictionary:
    """``label/dict.txt``; ``--num-classes``, if given, must match it."""
    label_dictionary = Dictionary.load(str(data / "label" / "dict.txt"))
    labels = label_dictionary.symbols[label_dictionary.nspecial :]
    if cfg.num_classes > 0 and cfg.num_classes != len(labels):
        raise StiltsError(
            f"--num-classes {cfg.num_classes} does not match the {len(labels)} labels of "
            f"{data / 'label' / 'dict.txt'} ({' '.join(labels)})"
        )
    return label_dictionary


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
