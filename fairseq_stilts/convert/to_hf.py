"""A checkpoint of ours -> a local ``transformers`` XLM-R folder (config, safetensors, tokenizer).

The encoder always; with it one head where transformers has the matching class: a span head ->
``XLMRobertaForQuestionAnswering``, a per-sentence classification head ->
``XLMRobertaForSequenceClassification``, the LM head -> ``XLMRobertaForMaskedLM``. The token-type
embedding is written as zeros (fairseq has none).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import torch
from fairseq import checkpoint_utils
from fairseq.data import Dictionary
from transformers import (
    XLMRobertaConfig,
    XLMRobertaForMaskedLM,
    XLMRobertaForQuestionAnswering,
    XLMRobertaForSequenceClassification,
    XLMRobertaTokenizer,
)

from fairseq_stilts.convert.from_hf import FAIRSEQ_LAYER_NORM_EPS, PAD
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
from fairseq_stilts.convert.vocab import check_dictionary
from fairseq_stilts.data.prepare.encoder import DICT_FILE, SPM_FILE, dictionary_fingerprint
from fairseq_stilts.errors import DataError, StiltsError
from fairseq_stilts.models.stilts_xlmr import FINGERPRINT, PER_TOKEN, SPAN
from fairseq_stilts.writes import folder_written_atomically

LM = "lm"
HEADS = "classification_heads."
# model config field -> the value the transformers implementation computes with.
FIXED = {
    "activation_fn": "gelu",
    "pooler_activation_fn": "tanh",
    "encoder_normalize_before": False,
    "layernorm_embedding": True,
    "no_scale_embedding": True,
    "encoder_learned_pos": True,
    "untie_weights_roberta": False,
}


def head_names(state: dict[str, torch.Tensor]) -> list[str]:
    """The checkpoint's task heads, in order."""
    return sorted({k[len(HEADS) :].split(".")[0] for k in state if k.startswith(HEADS)})


def pick_head(state: dict[str, torch.Tensor], head: str | None, path: Path) -> str:
    """``head`` if the checkpoint has it (``lm``: the LM head); by default the only task head, else ``lm``."""
    heads = head_names(state)
    if head is None:
        return heads[0] if len(heads) == 1 else LM
    if head != LM and head not in heads:
        raise StiltsError(f"{path}: no head {head!r}; it has {heads + [LM]}")
    return head


def hf_config(model_cfg, vocab_size: int, path: Path) -> XLMRobertaConfig:
    """transformers' config for the checkpoint's model config; refuses what it cannot compute."""
    for field, value in FIXED.items():
        if getattr(model_cfg, field, value) != value:
            raise StiltsError(
                f"{path}: model option {field}={getattr(model_cfg, field)!r}; transformers' XLM-R computes with {value!r}"
            )
    return XLMRobertaConfig(
        vocab_size=vocab_size,
        hidden_size=model_cfg.encoder_embed_dim,
        num_hidden_layers=model_cfg.encoder_layers,
        num_attention_heads=model_cfg.encoder_attention_heads,
        intermediate_size=model_cfg.encoder_ffn_embed_dim,
        hidden_act="gelu",
        hidden_dropout_prob=model_cfg.dropout,
        attention_probs_dropout_prob=model_cfg.attention_dropout,
        classifier_dropout=getattr(model_cfg, "pooler_dropout", 0.0),
        max_position_embeddings=model_cfg.max_positions + PAD + 1,
        type_vocab_size=1,
        layer_norm_eps=FAIRSEQ_LAYER_NORM_EPS,
        pad_token_id=PAD,
        bos_token_id=0,
        eos_token_id=2,
    )


def hf_state(state: dict[str, torch.Tensor], num_layers: int, head: str) -> dict[str, torch.Tensor]:
    """The checkpoint's encoder and ``head`` under the names of the transformers task model."""
    words = state[FAIRSEQ_ENCODER + WORDS[0]]
    out = {
        HF_BASE + theirs: state[FAIRSEQ_ENCODER + ours]
        for ours, theirs in encoder_names(num_layers)
    }
    out[HF_BASE + POSITIONS[1]] = state[FAIRSEQ_ENCODER + POSITIONS[0]]
    out[HF_BASE + TOKEN_TYPES] = torch.zeros_like(words[:1])
    if head == LM:
        out.update((theirs, state[FAIRSEQ_LM_HEAD + ours]) for ours, theirs in LM_HEAD)
        out["lm_head.decoder.weight"] = words
        out["lm_head.decoder.bias"] = state[FAIRSEQ_LM_HEAD + "bias"]
    elif f"{HEADS}{head}.{SPAN}" in state:
        for p in ("weight", "bias"):
            out[f"qa_outputs.{p}"] = state[f"{HEADS}{head}.out_proj.{p}"]
    else:
        for layer in ("dense", "out_proj"):
            for p in ("weight", "bias"):
                out[f"classifier.{layer}.{p}"] = state[f"{HEADS}{head}.{layer}.{p}"]
    return out


def convert_to_hf(
    checkpoint: str | Path,
    out: str | Path,
    model_dir: str | Path | None = None,
    head: str | None = None,
) -> str:
    """Write ``checkpoint`` as a transformers folder ``out`` (replaced whole); return its class name.

    ``model_dir`` holds the ``dict.txt`` and ``sentencepiece.bpe.model`` the checkpoint was
    trained with (default: the checkpoint's folder).
    """
    checkpoint, out = Path(checkpoint), Path(out)
    model_dir = Path(model_dir) if model_dir is not None else checkpoint.parent
    if not checkpoint.is_file():
        raise StiltsError(f"{checkpoint}: checkpoint not found")
    dict_path, spm_model = model_dir / DICT_FILE, model_dir / SPM_FILE
    for path in (dict_path, spm_model):
        if not path.is_file():
            raise DataError(path, "missing: pass the pretrained model folder with --model-dir")
    dictionary = Dictionary.load(str(dict_path))
    check_dictionary(dictionary, dict_path, spm_model)
    dictionary.add_symbol("<mask>")
    loaded = checkpoint_utils.load_checkpoint_to_cpu(str(checkpoint))
    state, model_cfg = loaded["model"], loaded["cfg"].model
    words = state.get(FAIRSEQ_ENCODER + WORDS[0])
    if words is None:
        raise StiltsError(
            f"{checkpoint}: not an XLM-R checkpoint (no {FAIRSEQ_ENCODER + WORDS[0]})"
        )
    if words.size(0) != len(dictionary) or (
        FINGERPRINT in state and int(state[FINGERPRINT]) != dictionary_fingerprint(dictionary)
    ):
        raise StiltsError(
            f"{checkpoint}: trained with another dictionary than {dict_path} (+ <mask>, "
            f"{len(dictionary)} ids; the checkpoint has {words.size(0)}): pass the model folder "
            "it was trained from with --model-dir"
        )
    head = pick_head(state, head, checkpoint)
    if head != LM and f"{HEADS}{head}.{PER_TOKEN}" in state:
        raise StiltsError(
            f"{checkpoint}: head {head!r} is a tagging head (dense + out_proj at every token); "
            f"transformers has no matching class: convert the encoder with --head {LM}"
        )
    config = hf_config(model_cfg, words.size(0), checkpoint)
    if head == LM:
        model = XLMRobertaForMaskedLM(config)
    elif f"{HEADS}{head}.{SPAN}" in state:
        model = XLMRobertaForQuestionAnswering(config)
    else:
        config.num_labels = state[f"{HEADS}{head}.out_proj.weight"].size(0)
        model = XLMRobertaForSequenceClassification(config)
    try:
        model.load_state_dict(hf_state(state, config.num_hidden_layers, head), strict=True)
    except KeyError as err:
        raise StiltsError(f"{checkpoint}: weight {err.args[0]} missing") from None
    with folder_written_atomically(out) as tmp:
        model.save_pretrained(tmp)
        shutil.copyfile(spm_model, tmp / SPM_FILE)
        tokenizer = XLMRobertaTokenizer.from_pretrained(
            tmp, model_max_length=model_cfg.max_positions
        )
        tokenizer.save_pretrained(tmp)
    return type(model).__name__
