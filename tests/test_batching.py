"""Training batches group similar lengths, in a random order that the seed reproduces."""

from __future__ import annotations

import numpy as np
from fairseq import tasks
from fairseq.dataclass.utils import convert_namespace_to_omegaconf
from fairseq.options import get_training_parser, parse_args_and_arch

from fairseq_stilts.runtime import USER_DIR


def _task(data, seed: int = 1):
    argv = [
        str(data),
        "--task",
        "xnli",
        "--arch",
        "xlmr_tiny",
        "--criterion",
        "stilts_classification",
        "--seed",
        str(seed),
        "--user-dir",
        USER_DIR,
    ]
    cfg = convert_namespace_to_omegaconf(parse_args_and_arch(get_training_parser(), argv))
    task = tasks.setup_task(cfg.task)
    task.load_dataset("train")
    return task


def _batches(task, seed: int = 1, epoch: int = 1, batch_size: int = 8) -> list[list[int]]:
    itr = task.get_batch_iterator(
        task.dataset("train"),
        max_sentences=batch_size,
        seed=seed,
        epoch=epoch,
        required_batch_size_multiple=8,
    )
    return [b["id"].tolist() for b in itr.next_epoch_itr(shuffle=True, fix_batches_to_gpus=False)]


def _padding_share(sizes: np.ndarray, batches: list[list[int]]) -> float:
    padded = sum(len(b) * sizes[b].max() for b in batches)
    return 1.0 - sum(sizes[b].sum() for b in batches) / padded


def test_batches_hold_similar_lengths_and_every_example(prepared):
    task = _task(prepared("xnli"))
    dataset = task.dataset("train")
    batches = _batches(task)
    ids = sorted(i for b in batches for i in b)
    assert ids == list(range(len(dataset)))  # nothing dropped, not even the 180 % 8 remainder
    sizes = np.array([dataset.size(i) for i in range(len(dataset))])  # original ids
    rng = np.random.default_rng(0)
    random_batches = np.array_split(rng.permutation(len(dataset)), len(batches))
    assert _padding_share(sizes, batches) < 0.5 * _padding_share(
        sizes, [list(b) for b in random_batches]
    )


def test_batch_order_is_random_and_reproducible_by_seed(prepared):
    data = prepared("xnli")
    task = _task(data, 1)
    first, again, other = _batches(task), _batches(_task(data, 1)), _batches(_task(data, 2), seed=2)
    assert first == again
    assert first != other
    dataset = task.dataset("train")
    longest = [max(dataset.size(i) for i in batch) for batch in first]
    assert longest != sorted(longest) and longest != sorted(longest, reverse=True)


def test_every_epoch_regroups_the_examples(prepared):
    task = _task(prepared("xnli"))
    first, second = _batches(task, epoch=1), _batches(task, epoch=2)
    assert sorted(map(sorted, first)) != sorted(map(sorted, second))
    assert second == _batches(_task(prepared("xnli")), epoch=2)  # a resumed run sees the same


def test_inputs_are_truncated_to_the_task_length_and_the_model_keeps_512_positions(prepared):
    task = _task(prepared("xnli"))
    assert task.max_positions() == 256  # the spec's default
    args = ["--max-seq-length", "12"]
    argv = [
        str(prepared("xnli")),
        "--task",
        "xnli",
        "--arch",
        "xlmr_tiny",
        "--user-dir",
        USER_DIR,
        *args,
    ]
    cfg = convert_namespace_to_omegaconf(parse_args_and_arch(get_training_parser(), argv))
    short = tasks.setup_task(cfg.task)
    short.load_dataset("train")
    assert max(short.dataset("train").size(i) for i in range(len(short.dataset("train")))) == 12
    model = short.build_model(cfg.model)
    assert model.encoder.sentence_encoder.embed_positions.weight.size(0) == 514
