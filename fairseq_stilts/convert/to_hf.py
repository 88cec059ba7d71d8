"""A checkpoint of ours -> a local ``transformers`` XLM-R folder (config, safetensors, tokenizer).

The encoder always; with it one head where transformers has a class that computes it exactly: a
span head -> ``XLMRobertaForQuestionAnswering``, a per-sentence classification head (dense + tanh
+ out_proj on ``<s>``) -> ``XLMRobertaForSequenceClassification``, the LM head ->
``XLMRobertaForMaskedLM``. A tagging head (dense + activation + out_proj at every token) goes to
``XLMRobertaForTokenClassification`` only where its activation is ``linear``: then dense and
out_proj fold into the single Linear that class has. With the default ``tanh`` it cannot be held
exactly and is refused. The token-type embedding is written as zeros (fairseq has none).

With the data folder the head was trained on, config.json names the labels (``id2label``) and
the model card (``README.md``, :mod:`fairseq_stilts.convert.card`) records the data's task and
manifest; with a results JSON of stilts-eval, its metrics.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import fairseq
import torch
import transformers
from fairseq.data import Dictionary
from transformers import (
    XLMRobertaConfig,
    XLMRobertaForMaskedLM,
    XLMRobertaForQuestionAnswering,
    XLMRobertaForSequenceClassification,
    XLMRobertaForTokenClassification,
    XLMRobertaTokenizer,
)

from fairseq_stilts.convert.card import (
    MODEL_CARD,
    DataFolder,
    Export,
    model_card,
    read_data_folder,
    read_results,
)
from fairseq_stilts.convert.folder import converted_folder
from fairseq_stilts.convert.from_hf import FAIRSEQ_LAYER_NORM_EPS, PAD
from fairseq_stilts.convert.names import (
    FAIRSEQ_ENCODER,
    FAIRSEQ_LM_HEAD,
    HF_BASE,
    LM,
    LM_HEAD,
    POSITIONS,
    TOKEN_TYPES,
    WORDS,
    encoder_names,
)
from fairseq_stilts.convert.vocab import check_dictionary
from fairseq_stilts.data.prepare.encoder import DICT_FILE, SPM_FILE, dictionary_fingerprint
from fairseq_stilts.errors import DataError, StiltsError
from fairseq_stilts.models.stilts_xlmr import FINGERPRINT, PER_TOKEN
from fairseq_stilts.registry import SENTENCE, SPAN, TOKEN
from fairseq_stilts.runtime import __version__, read_checkpoint

HEADS = "classification_heads."
# The activation of the per-sentence head in transformers' XLMRobertaClassificationHead, and
# the one a tagging head must have to fold into XLMRobertaForTokenClassification's Linear.
SENTENCE_ACTIVATION, FOLDABLE_ACTIVATION = "tanh", "linear"
# model config field -> the value the transformers implementation computes with.
FIXED = {
    "activation_fn": "gelu",
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


def head_kind(state: dict[str, torch.Tensor], head: str) -> str:
    """``lm``, ``span``, ``token`` (tagging) or ``sentence``: the kind of the checkpoint's ``head``."""
    if head == LM:
        return LM
    if f"{HEADS}{head}.{SPAN}" in state:
        return SPAN
    return TOKEN if f"{HEADS}{head}.{PER_TOKEN}" in state else SENTENCE


def check_head_activation(model_cfg, kind: str, head: str, path: Path) -> None:
    """Refuse a head whose activation (``--pooler-activation-fn``) transformers cannot compute."""
    activation = getattr(model_cfg, "pooler_activation_fn", SENTENCE_ACTIVATION)
    if kind == SENTENCE and activation != SENTENCE_ACTIVATION:
        raise StiltsError(
            f"{path}: model option pooler_activation_fn={activation!r}; transformers' "
            f"XLMRobertaForSequenceClassification head computes with {SENTENCE_ACTIVATION!r}"
        )
    if kind == TOKEN and activation != FOLDABLE_ACTIVATION:
        raise StiltsError(
            f"{path}: head {head!r} is a tagging head (dense + {activation} + out_proj at every "
            "token) and transformers' XLMRobertaForTokenClassification has a single Linear at "
            f"every token, which cannot hold the {activation} layer exactly (only a head trained "
            f"with --pooler-activation-fn {FOLDABLE_ACTIVATION} folds into it): convert the "
            f"encoder alone with --head {LM}"
        )


def folded_tagging_head(
    state: dict[str, torch.Tensor], head: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """The single Linear equal to a tagging head with the ``linear`` activation: out_proj after
    dense, ``W = W_out W_dense`` and ``b = W_out b_dense + b_out`` (computed in float64)."""
    w_dense, b_dense, w_out, b_out = (
        state[f"{HEADS}{head}.{layer}.{p}"].double()
        for layer in ("dense", "out_proj")
        for p in ("weight", "bias")
    )
    return (w_out @ w_dense).float(), (w_out @ b_dense + b_out).float()


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


def hf_state(
    state: dict[str, torch.Tensor], num_layers: int, head: str, kind: str | None = None
) -> dict[str, torch.Tensor]:
    """The checkpoint's encoder and ``head`` under the names of the transformers task model."""
    kind = kind or head_kind(state, head)
    words = state[FAIRSEQ_ENCODER + WORDS[0]]
    out = {
        HF_BASE + theirs: state[FAIRSEQ_ENCODER + ours]
        for ours, theirs in encoder_names(num_layers)
    }
    out[HF_BASE + POSITIONS[1]] = state[FAIRSEQ_ENCODER + POSITIONS[0]]
    out[HF_BASE + TOKEN_TYPES] = torch.zeros_like(words[:1])
    if kind == LM:
        out.update((theirs, state[FAIRSEQ_LM_HEAD + ours]) for ours, theirs in LM_HEAD)
        out["lm_head.decoder.weight"] = words
        out["lm_head.decoder.bias"] = state[FAIRSEQ_LM_HEAD + "bias"]
    elif kind == SPAN:
        for p in ("weight", "bias"):
            out[f"qa_outputs.{p}"] = state[f"{HEADS}{head}.out_proj.{p}"]
    elif kind == TOKEN:
        out["classifier.weight"], out["classifier.bias"] = folded_tagging_head(state, head)
    else:
        for layer in ("dense", "out_proj"):
            for p in ("weight", "bias"):
                out[f"classifier.{layer}.{p}"] = state[f"{HEADS}{head}.{layer}.{p}"]
    return out


MODEL_CLASSES = {
    LM: XLMRobertaForMaskedLM,
    SPAN: XLMRobertaForQuestionAnswering,
    SENTENCE: XLMRobertaForSequenceClassification,
    TOKEN: XLMRobertaForTokenClassification,
}


def head_text(kind: str, outputs: int | None) -> str:
    """What the exported head computes, for the model card."""
    if kind == LM:
        return "the masked-LM head (dense + gelu + layer norm, output tied to the word embeddings)"
    if kind == SPAN:
        return "start and end scores at every token (one Linear, `qa_outputs`), as in SQuAD"
    if kind == SENTENCE and outputs == 1:
        return (
            "one score per sequence from `<s>` (dense + tanh + out_proj, `classifier`): a "
            "multiple-choice head scores each (context, choice) sequence; softmax across the "
            "choices"
        )
    if kind == SENTENCE:
        return f"{outputs} class scores from `<s>` (dense + tanh + out_proj, `classifier`)"
    return (
        f"{outputs} tag scores at every token: fairseq's tagging head (dense + linear "
        "activation + out_proj) folded into the one Linear `classifier`; trained on the first "
        "sentence piece of each word, so read a word's tag there"
    )


def label_names(
    kind: str, outputs: int | None, data: DataFolder | None, head: str, path: Path
) -> list[str] | None:
    """The names of a classification head's outputs from the data folder (``None``: no names
    to give, or no data folder); a count that differs from the head's outputs is an error."""
    if kind not in (SENTENCE, TOKEN) or outputs == 1 or data is None:
        return None
    if data.labels is None:
        raise StiltsError(
            f"{data.labels_path}: missing; head {head!r} of {path} has {outputs} outputs to name "
            "(pass the data folder the head was trained on)"
        )
    if len(data.labels) != outputs:
        raise StiltsError(
            f"{data.labels_path} lists {len(data.labels)} labels but head {head!r} of {path} "
            f"has {outputs} outputs: pass the data folder the head was trained on"
        )
    return data.labels


def convert_to_hf(
    checkpoint: str | Path,
    out: str | Path,
    model_dir: str | Path | None = None,
    head: str | None = None,
    data: str | Path | None = None,
    results: str | Path | None = None,
) -> str:
    """Write ``checkpoint`` as a transformers folder ``out`` (replaced whole); return its class name.

    ``model_dir`` holds the ``dict.txt`` and ``sentencepiece.bpe.model`` the checkpoint was
    trained with (default: the checkpoint's folder). ``data``, the data folder stilts-prepare
    made for the head's task, names the labels in config.json and goes into the model card with
    the metrics of ``results`` (a results JSON of stilts-eval).
    """
    checkpoint, out = Path(checkpoint), Path(out)
    model_dir = Path(model_dir) if model_dir is not None else checkpoint.parent
    if not checkpoint.is_file():
        raise StiltsError(f"{checkpoint}: checkpoint not found")
    dict_path, spm_model = model_dir / DICT_FILE, model_dir / SPM_FILE
    for path in (dict_path, spm_model):
        if not path.is_file():
            raise DataError(path, "missing: pass the pretrained model folder with --model-dir")
    rows = read_results(results) if results is not None else []
    dictionary = Dictionary.load(str(dict_path))
    check_dictionary(dictionary, dict_path, spm_model)
    dictionary.add_symbol("<mask>")
    loaded = read_checkpoint(checkpoint)
    model_cfg = loaded["cfg"].model
    # Exported in float32, the dtype transformers builds the model in: the fp16 weights of
    # fairseq's 2019 release files too.
    state = {k: v.float() if v.is_floating_point() else v for k, v in loaded["model"].items()}
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
    kind = head_kind(state, head)
    check_head_activation(model_cfg, kind, head, checkpoint)
    folder = read_data_folder(data, head) if data is not None else None
    config = hf_config(model_cfg, words.size(0), checkpoint)
    outputs = None
    if kind in (SENTENCE, TOKEN):
        outputs = state[f"{HEADS}{head}.out_proj.weight"].size(0)
        config.num_labels = outputs
    labels = label_names(kind, outputs, folder, head, checkpoint)
    if labels is not None:
        config.id2label = dict(enumerate(labels))
        config.label2id = {name: i for i, name in enumerate(labels)}
    model = MODEL_CLASSES[kind](config)
    try:
        model.load_state_dict(hf_state(state, config.num_hidden_layers, head, kind), strict=True)
    except KeyError as err:
        raise StiltsError(f"{checkpoint}: weight {err.args[0]} missing") from None
    card = model_card(
        Export(
            checkpoint=checkpoint,
            model_class=type(model).__name__,
            head=head,
            head_text=head_text(kind, outputs),
            arch=str(getattr(model_cfg, "_name", None) or getattr(model_cfg, "arch", "?")),
            shape=(
                f"{config.num_hidden_layers} layers, hidden size {config.hidden_size}, "
                f"{config.num_attention_heads} attention heads, vocabulary {config.vocab_size}"
            ),
            model_dir=model_dir,
            finetuned_from=finetuned_from(loaded["cfg"]),
            num_outputs=outputs if outputs != 1 else None,
            labels=labels,
            data=folder,
            results=rows,
            results_path=Path(results) if results is not None else None,
            versions={
                "fairseq-stilts": __version__,
                "fairseq": fairseq.__version__,
                "transformers": transformers.__version__,
                "torch": torch.__version__.split("+")[0],
            },
            notes=card_notes(kind, head, folder),
        )
    )
    with converted_folder(out) as tmp:
        model.save_pretrained(tmp)
        shutil.copyfile(spm_model, tmp / SPM_FILE)
        tokenizer = XLMRobertaTokenizer.from_pretrained(
            tmp, model_max_length=model_cfg.max_positions
        )
        tokenizer.save_pretrained(tmp)
        (tmp / MODEL_CARD).write_text(card, encoding="utf-8")
    return type(model).__name__


def finetuned_from(cfg) -> str | None:
    """The model the checkpoint's training started from (``--finetune-from-model``), if recorded."""
    checkpoint_cfg = getattr(cfg, "checkpoint", None)
    value = getattr(checkpoint_cfg, "finetune_from_model", None) if checkpoint_cfg else None
    return str(value) if value else None


def card_notes(kind: str, head: str, folder: DataFolder | None) -> list[str]:
    notes = []
    if kind == TOKEN:
        notes.append(
            "The folded tagging head gives fairseq's logits exactly; in training, transformers "
            "drops out once before the Linear where fairseq dropped out before dense and before "
            "out_proj."
        )
    if folder is not None and kind != LM and folder.manifest.task != head:
        notes.append(
            f"The head is named `{head}`; the data folder was prepared for task "
            f"`{folder.manifest.task}`."
        )
    return notes
