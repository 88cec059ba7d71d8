"""A local ``transformers`` XLM-R folder -> our fairseq model folder (official XLM-R layout).

Writes ``model.pt`` (a checkpoint of the ``stilts_xlmr`` model, loadable by ``--restore-file``,
``--finetune-from-model`` and ``XLMRModel.from_pretrained``), ``dict.txt`` and
``sentencepiece.bpe.model``. The single token-type row is added to every position row (fairseq
has no token types; XLM-R's tokenizer always gives type 0). The pooler and any task head stay
behind; without an LM head the model's freshly initialised one is kept.
"""

from __future__ import annotations

import pickle
import shutil
from argparse import Namespace
from pathlib import Path

import torch
from fairseq import options
from fairseq.data import Dictionary
from fairseq.dataclass.utils import convert_namespace_to_omegaconf
from omegaconf import OmegaConf
from safetensors import SafetensorError
from safetensors.torch import load_file

from fairseq_stilts.convert.folder import converted_folder
from fairseq_stilts.convert.names import (
    FAIRSEQ_ENCODER,
    FAIRSEQ_LM_HEAD,
    HF_BASE,
    LM_HEAD,
    POSITIONS,
    TOKEN_TYPES,
    WORDS,
    encoder_names,
)
from fairseq_stilts.convert.vocab import dictionary_text
from fairseq_stilts.data.prepare.encoder import DICT_FILE, SPM_FILE
from fairseq_stilts.errors import DataError, read_json
from fairseq_stilts.models.stilts_xlmr import StiltsXLMRModel
from fairseq_stilts.runtime import DictionaryOnlyTask

FAIRSEQ_LAYER_NORM_EPS = 1e-5  # fairseq's LayerNorm default, used throughout its RoBERTa
MODEL_FILE = "model.pt"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
PAD = 1
# What fairseq reads of a checkpoint's training history: none yet (no optimizer state is saved).
NO_TRAINING = {
    "criterion_name": "MaskedLmLoss",
    "optimizer_name": "FairseqAdam",
    "lr_scheduler_state": {"best": None},
    "num_updates": 0,
}
# config.json field -> the value fairseq's RoBERTa computes with (no option to change it there).
FIXED = {
    "layer_norm_eps": FAIRSEQ_LAYER_NORM_EPS,
    "hidden_act": "gelu",
    "pad_token_id": PAD,
    "position_embedding_type": "absolute",
    "is_decoder": False,
    "add_cross_attention": False,
}


def read_config(path: Path) -> dict:
    """``config.json`` of an XLM-R model fairseq can compute exactly, else a DataError."""
    if not path.is_file():
        raise DataError(path, "missing: a transformers model folder holds config.json")
    config = read_json(path)
    if not isinstance(config, dict):
        raise DataError(path, "expected a JSON object (a transformers config)")
    if config.get("model_type") != "xlm-roberta":
        raise DataError(path, f"model_type is {config.get('model_type')!r}, not 'xlm-roberta'")
    for field, value in FIXED.items():
        if config.get(field, value) != value:
            raise DataError(
                path, f"{field} is {config[field]!r}; fairseq's XLM-R computes with {value!r}"
            )
    return config


def read_weights(model_dir: Path) -> dict[str, torch.Tensor]:
    """The folder's tensors by name, without the ``roberta.`` prefix of task models."""
    path = next((model_dir / n for n in WEIGHT_FILES if (model_dir / n).is_file()), None)
    if path is None:
        raise DataError(model_dir, f"no weights: expected one of {', '.join(WEIGHT_FILES)}")
    try:
        if path.suffix == ".safetensors":
            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except (SafetensorError, pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataError(
            path, f"not readable weights (truncated, or not this format): {first}"
        ) from None
    return {k.removeprefix(HF_BASE): v for k, v in state.items()}


def model_args(config: dict, data: Path) -> Namespace:
    """fairseq-train's arguments for a ``stilts_xlmr`` model of the config's shape."""
    hidden, layers = config["hidden_size"], config["num_hidden_layers"]
    arch = {(768, 12): "xlmr_base", (1024, 24): "xlmr_large"}.get((hidden, layers), "xlmr_tiny")
    argv = [
        str(data),
        "--task",
        "masked_lm",
        "--criterion",
        "masked_lm",
        "--arch",
        arch,
        "--encoder-layers",
        str(layers),
        "--encoder-embed-dim",
        str(hidden),
        "--encoder-ffn-embed-dim",
        str(config["intermediate_size"]),
        "--encoder-attention-heads",
        str(config["num_attention_heads"]),
        "--max-positions",
        str(config["max_position_embeddings"] - PAD - 1),
        "--dropout",
        str(config.get("hidden_dropout_prob", 0.1)),
        "--attention-dropout",
        str(config.get("attention_probs_dropout_prob", 0.1)),
    ]
    return options.parse_args_and_arch(options.get_training_parser(), argv)


def fairseq_state(state: dict[str, torch.Tensor], num_layers: int) -> dict[str, torch.Tensor]:
    """transformers' tensors under fairseq's names; the names it does not use are left in ``state``."""
    out = {FAIRSEQ_ENCODER + ours: state.pop(theirs) for ours, theirs in encoder_names(num_layers)}
    token_type = state.pop(TOKEN_TYPES)[0]
    out[FAIRSEQ_ENCODER + POSITIONS[0]] = state.pop(POSITIONS[1]) + token_type
    state.pop("lm_head.decoder.weight", None)  # tied to the word embeddings
    bias = state.pop("lm_head.decoder.bias", None)
    state.setdefault("lm_head.bias", bias)
    if all(state.get(theirs) is not None for _, theirs in LM_HEAD):
        out.update((FAIRSEQ_LM_HEAD + ours, state.pop(theirs)) for ours, theirs in LM_HEAD)
        out[FAIRSEQ_LM_HEAD + "weight"] = out[FAIRSEQ_ENCODER + WORDS[0]]
    state.pop("lm_head.bias", None)
    state.pop("embeddings.position_ids", None)  # a buffer of older versions
    return out


def convert_from_hf(model_dir: str | Path, out: str | Path) -> list[str]:
    """Convert ``model_dir`` into ``out`` (replaced whole); return notes on what was left out."""
    model_dir, out = Path(model_dir), Path(out)
    config = read_config(model_dir / "config.json")
    spm_model = model_dir / SPM_FILE
    if not spm_model.is_file():
        raise DataError(spm_model, "missing: the tokenizer's sentencepiece model is needed")
    state = read_weights(model_dir)
    with converted_folder(out) as tmp:
        shutil.copyfile(spm_model, tmp / SPM_FILE)
        (tmp / DICT_FILE).write_text(dictionary_text(spm_model), encoding="utf-8")
        dictionary = Dictionary.load(str(tmp / DICT_FILE))
        dictionary.add_symbol("<mask>")
        if config["vocab_size"] != len(dictionary):
            raise DataError(
                model_dir / "config.json",
                f"vocab_size is {config['vocab_size']} but {spm_model} gives {len(dictionary)} "
                "ids (<s> <pad> </s> <unk>, its pieces after the first 3, <mask>)",
            )
        args = model_args(config, out.resolve())
        model = StiltsXLMRModel.build_model(args, DictionaryOnlyTask(dictionary))
        try:
            weights = fairseq_state(state, config["num_hidden_layers"])
        except KeyError as err:
            raise DataError(model_dir, f"weight {err.args[0]} missing") from None
        result = model.load_state_dict(weights, strict=False)
        missing = [k for k in result.missing_keys if not k.startswith(FAIRSEQ_LM_HEAD)]
        if missing or result.unexpected_keys:
            raise DataError(
                model_dir, f"weights do not fit config.json: {missing + result.unexpected_keys}"
            )
        cfg = OmegaConf.to_container(
            convert_namespace_to_omegaconf(args), resolve=True, enum_to_str=True
        )
        checkpoint = {
            "args": None,
            "cfg": cfg,
            "model": model.state_dict(),
            "criterion": None,
            "optimizer_history": [NO_TRAINING],
            "task_state": {},
            "extra_state": {"train_iterator": {"epoch": 1, "iterations_in_epoch": 0, "version": 2}},
        }
        torch.save(checkpoint, tmp / MODEL_FILE)
    notes = [f"not converted: {name}" for name in sorted(state)]
    if any(k.startswith(FAIRSEQ_LM_HEAD) for k in result.missing_keys):
        notes.append("no LM head in the folder: model.pt has a freshly initialised one")
    return notes
