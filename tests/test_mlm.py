"""Masked-LM co-training on multilingual text: preparation, masking, language sampling, LM head."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import fairseq
from fairseq import checkpoint_utils, options
from fairseq import tasks as fairseq_tasks
from fairseq.dataclass.utils import convert_namespace_to_omegaconf
from fairseq.trainer import Trainer
from omegaconf import OmegaConf

from fairseq_stilts.data.datasets.language_sampling import language_probabilities
from fairseq_stilts.data.prepare.encoder import DICT_FILE, PieceEncoder
from fairseq_stilts.data.prepare.folder import prepare_task
from fairseq_stilts.errors import DataError, StiltsError
from fairseq_stilts.runtime import file_sha256
from fairseq_stilts.tiny import DATA_DIR

RAW = DATA_DIR / "mlm"


@pytest.fixture(scope="module")
def mlm_data(tmp_path_factory, tiny_model) -> Path:
    out = tmp_path_factory.mktemp("mlm") / "data"
    prepare_task("mlm", out, tiny_model, raw=RAW, workers=1)
    return out


@pytest.fixture(scope="module")
def skewed_data(tmp_path_factory, tiny_model) -> Path:
    """en 600, de 150, fr 30 sentences: sampling with alpha < 1 visibly favours fr."""
    root = tmp_path_factory.mktemp("skewed")
    for lang, n in (("en", 600), ("de", 150), ("fr", 30)):
        lines = (RAW / f"{lang}.txt").read_text(encoding="utf-8").splitlines()[:n]
        (root / "raw").mkdir(exist_ok=True)
        (root / "raw" / f"{lang}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    prepare_task("mlm", root / "data", tiny_model, raw=root / "raw", workers=1)
    return root / "data"


def setup(data: Path, **options) -> fairseq_tasks.FairseqTask:
    cfg = OmegaConf.structured(fairseq_tasks.TASK_DATACLASS_REGISTRY["mlm"])
    cfg.data, cfg.seed = str(data), 1
    for key, value in options.items():
        setattr(cfg, key, value)
    return fairseq_tasks.TASK_REGISTRY["mlm"].setup_task(cfg)


def test_prepare_writes_per_language_subsets_and_manifest(mlm_data, tiny_model):
    manifest = json.loads((mlm_data / "manifest.json").read_text())
    assert manifest["task"] == "mlm"
    assert manifest["languages"]["train"] == ["de", "en", "es", "fr"]
    for lang in ("de", "en", "es", "fr"):  # 600 lines each: every 50th is held out
        assert manifest["subsets"][f"train.{lang}"] == {
            "count": 588,
            "skipped": 0,
            "labelled": True,
        }
        assert manifest["subsets"][f"valid.{lang}"] == {"count": 12, "skipped": 0, "labelled": True}
        assert (mlm_data / f"train.{lang}.bin").is_file()
    source = {s["lang"]: s for s in manifest["sources"]}["de"]
    assert source["count"] == 600 and source["skipped"] == 0  # sentences, blank lines
    assert source["sha256"] == file_sha256(RAW / "de.txt")
    assert manifest["dictionary_sha256"] == file_sha256(tiny_model / DICT_FILE)
    assert (mlm_data / DICT_FILE).read_text() == (tiny_model / DICT_FILE).read_text()


def test_sentences_are_bos_pieces_eos_truncated(mlm_data, tiny_model):
    task = setup(mlm_data, max_seq_length=8)
    dataset = task.load_dataset("valid.de")
    pieces = PieceEncoder(tiny_model).encode(RAW.joinpath("de.txt").read_text().splitlines()[49])
    expected = [task.dictionary.bos(), *pieces.tolist()][:8]  # the 50th line, held out first
    assert dataset.dataset.defn["net_input.src_tokens"].dataset.dataset[0].tolist() == expected


def _masking_counts(task, epochs) -> dict[str, int]:
    counts = dict.fromkeys(("tokens", "masked", "mask", "same", "random"), 0)
    for epoch in epochs:
        dataset = task.load_dataset("train", epoch=epoch)
        dataset.set_epoch(epoch)
        sample = dataset.collater([dataset[i] for i in range(len(dataset))])
        source, target = sample["net_input"]["src_tokens"], sample["target"]
        pad = task.dictionary.pad()
        masked = target.ne(pad)
        counts["tokens"] += int(source.ne(pad).sum())
        counts["masked"] += int(masked.sum())
        counts["mask"] += int(source[masked].eq(task.mask_idx).sum())
        counts["same"] += int(source[masked].eq(target[masked]).sum())
    counts["random"] = counts["masked"] - counts["mask"] - counts["same"]
    return counts


def test_masking_is_15_percent_then_80_10_10(mlm_data):
    task = setup(mlm_data)
    c = _masking_counts(task, epochs=(1, 2))
    # Per sentence fairseq masks int(0.15 * length + U(0,1)) tokens: the total is 15% up to a sum
    # of independent roundings, at most 0.5 * sqrt(sentences) tokens of standard deviation.
    assert c["masked"] / c["tokens"] == pytest.approx(0.15, abs=0.005)
    # Each masked token independently becomes <mask> (0.8), stays (0.1) or a random token (0.1;
    # a random token equal to the original, p ~ 1/400, counts as staying). Allow 5 binomial
    # standard deviations: a false failure has probability below 1e-6.
    for kind, p in (("mask", 0.8), ("same", 0.1), ("random", 0.1)):
        tolerance = 5 * math.sqrt(p * (1 - p) / c["masked"])
        assert c[kind] / c["masked"] == pytest.approx(p, abs=tolerance), kind
    assert c["masked"] > 5000  # the sample is large enough for these tolerances to be tight


def test_masks_follow_seed_and_epoch(mlm_data):
    def targets(seed, epoch):
        task = setup(mlm_data, language_sampling_alpha=0.0)
        task.cfg.seed = seed
        dataset = task.load_dataset("train")
        dataset.set_epoch(epoch)
        return dataset.collater([dataset[i] for i in range(64)])["target"]

    assert torch.equal(targets(1, 1), targets(1, 1))
    assert not torch.equal(targets(1, 1), targets(1, 2))
    assert not torch.equal(targets(1, 1), targets(2, 1))


def _epoch_languages(task, epoch: int) -> np.ndarray:
    train = task.load_dataset("train")
    train.set_epoch(epoch)
    sampler = train.dataset.defn["net_input.src_tokens"].dataset.dataset  # pad <- mask <- sampler
    return np.array(sampler.languages)[sampler.language_of(np.arange(len(sampler)))]


def test_languages_are_sampled_with_n_to_the_alpha(skewed_data):
    n = {"en": 588, "de": 147, "fr": 30}  # every 50th line held out
    task = setup(skewed_data, language_sampling_alpha=0.3)
    languages = _epoch_languages(task, epoch=1)
    assert len(languages) == sum(n.values())  # the epoch holds as many sentences as there are
    p = language_probabilities(list(n.values()), 0.3)
    for lang, share in zip(n, p, strict=True):
        assert abs(np.sum(languages == lang) - share * len(languages)) <= 1, lang
    assert np.sum(languages == "fr") > 3 * n["fr"]  # the smallest language is upsampled


def test_language_sampling_is_seeded_by_seed_and_epoch(skewed_data):
    def epoch_ids(epoch: int, seed: int = 1) -> np.ndarray:
        task = setup(skewed_data)
        task.cfg.seed = seed
        train = task.load_dataset("train")
        train.set_epoch(epoch)
        return np.array([int(train[i]["target"].ne(1).sum()) for i in range(len(train))])

    assert np.array_equal(epoch_ids(1), epoch_ids(1))  # two instances, one seed: same epoch
    assert not np.array_equal(epoch_ids(1), epoch_ids(2))
    assert not np.array_equal(epoch_ids(1), epoch_ids(1, seed=2))


def test_alpha_zero_trains_on_every_sentence_once_and_languages_subset(skewed_data):
    languages = _epoch_languages(setup(skewed_data, language_sampling_alpha=0.0), epoch=3)
    assert {lang: int(np.sum(languages == lang)) for lang in ("en", "de", "fr")} == {
        "en": 588,
        "de": 147,
        "fr": 30,
    }
    task = setup(skewed_data, languages="de,fr")
    assert sorted(set(_epoch_languages(task, epoch=1))) == ["de", "fr"]
    assert len(task.load_dataset("valid")) == 3  # de's 3 held-out lines; fr (30 lines) has none
    with pytest.raises(StiltsError, match=r"no text for \['sw'\].*it has: de,en,fr"):
        setup(skewed_data, languages="de,sw")


def test_empty_language_file_is_an_error_and_nothing_is_written(tmp_path, tiny_model):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "en.txt").write_text("One sentence.\n", encoding="utf-8")
    (raw / "de.txt").write_text("\n   \n\n", encoding="utf-8")
    with pytest.raises(DataError, match="de.txt: no text"):
        prepare_task("mlm", tmp_path / "out", tiny_model, raw=raw, workers=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw"]  # no output, no temporary folder


def test_requested_language_without_a_file_lists_the_files(tmp_path, tiny_model):
    with pytest.raises(StiltsError, match=r"no text file for \['sw'\].*de.txt, en.txt, es.txt"):
        prepare_task("mlm", tmp_path / "out", tiny_model, raw=RAW, languages=["en", "sw"])
    assert not (tmp_path / "out").exists()


def _trainer(mlm_data: Path, checkpoint: Path, save_dir: Path) -> Trainer:
    """fairseq-train's own setup up to loading the checkpoint, in this process."""
    parser = options.get_training_parser()
    args = options.parse_args_and_arch(
        parser,
        [
            str(mlm_data),
            "--task",
            "mlm",
            "--criterion",
            "masked_lm",
            "--arch",
            "xlmr_tiny",
            "--finetune-from-model",
            str(checkpoint),
            "--save-dir",
            str(save_dir),
            "--cpu",
            "--optimizer",
            "adam",
            "--lr",
            "1e-4",
            "--batch-size",
            "16",
            "--num-workers",
            "0",
        ],
    )
    cfg = convert_namespace_to_omegaconf(args)
    task = fairseq_tasks.setup_task(cfg.task)
    model = task.build_model(cfg.model)
    trainer = Trainer(cfg, task, model, task.build_criterion(cfg.criterion))
    checkpoint_utils.load_checkpoint(cfg.checkpoint, trainer)
    return trainer


def test_finetune_from_model_keeps_the_pretrained_lm_head(mlm_data, tiny_model, tmp_path):
    trainer = _trainer(mlm_data, tiny_model / "model.pt", tmp_path)
    state = checkpoint_utils.load_checkpoint_to_cpu(str(tiny_model / "model.pt"))["model"]
    head = {k: v for k, v in trainer.model.state_dict().items() if k.startswith("encoder.lm_head.")}
    assert {"encoder.lm_head.dense.weight", "encoder.lm_head.bias"} <= set(head)
    for key, value in head.items():
        assert torch.equal(value, state[key]), key
    # The pretrained head (60 updates in the fixture) predicts masked tokens better than chance.
    task = trainer.task
    valid = task.load_dataset("valid")
    sample = valid.collater([valid[i] for i in range(len(valid))])
    trainer.model.eval()
    with torch.no_grad():
        loss, size, _ = trainer.criterion(trainer.model, sample)
    bits = float(loss) / size / math.log(2)
    assert bits < 0.9 * math.log2(len(task.dictionary))


@pytest.mark.slow
def test_fairseq_train_runs_mlm_and_prints_the_valid_loss(mlm_data, tiny_model, tmp_path):
    result = fairseq(
        "fairseq-train",
        str(mlm_data),
        "--task",
        "mlm",
        "--criterion",
        "masked_lm",
        "--arch",
        "xlmr_tiny",
        "--finetune-from-model",
        str(tiny_model / "model.pt"),
        "--optimizer",
        "adam",
        "--lr",
        "1e-4",
        "--max-update",
        "6",
        "--batch-size",
        "16",
        "--seed",
        "3",
        "--cpu",
        "--num-workers",
        "0",
        "--save-dir",
        str(tmp_path),
        "--no-epoch-checkpoints",
        "--log-format",
        "json",
        "--log-interval",
        "1",
        "--languages",
        "de,fr",
        "--valid-subset",
        "valid,valid.de",
        "--validate-interval-updates",
        "3",
    )
    output = result.stdout + result.stderr
    lines = [
        json.loads(line[line.index("{") :]) for line in output.splitlines() if '_loss": ' in line
    ]
    valid = [line for line in lines if "valid_loss" in line]
    assert {line.get("valid_num_updates") for line in valid} >= {"3", "6"}
    de = [line for line in lines if "valid.de_loss" in line]
    assert de and all(math.isfinite(float(line["valid.de_loss"])) for line in de)
    assert (tmp_path / "checkpoint_last.pt").is_file()
