"""XLM-R on fairseq's RoBERTa encoder, with named heads and a dictionary fingerprint.

Differences from stock ``roberta``/``xlmr`` that matter for X-STILTs:
- a head of the checkpoint with the same name as the task's head but another shape is an
  error (stock fairseq silently deletes it and trains a fresh one);
- tagging heads (:class:`TaggingHead`, one prediction per position) and span heads
  (:class:`SpanHead`, start/end scores per position) live in the same ``classification_heads``
  dict and follow the same hand-off rules; a head of the checkpoint whose kind (per-sentence,
  per-token or span) differs from the task's head of that name is an error;
- the model stores a fingerprint of the dictionary it was built with, so a checkpoint cannot be
  used with data encoded by another dictionary;
- the encoder's self-attention makes one fused QKV matmul and calls torch's
  ``scaled_dot_product_attention`` itself (:mod:`~fairseq_stilts.models.attention`), with the
  same parameters under the same names, so checkpoints are stock fairseq's.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from fairseq.models import register_model, register_model_architecture
from fairseq.models.roberta.model import (
    RobertaClassificationHead,
    base_architecture,
    roberta_base_architecture,
    roberta_large_architecture,
)
from fairseq.models.roberta.model_xlmr import XLMRModel
from fairseq.modules import gelu as fairseq_gelu
from fairseq.utils import safe_getattr

from fairseq_stilts.data.prepare.encoder import dictionary_fingerprint
from fairseq_stilts.errors import StiltsError
from fairseq_stilts.models.attention import use_fused_attention
from fairseq_stilts.registry import SENTENCE, SPAN, TOKEN

FINGERPRINT = "dictionary_fingerprint"
EMBEDDINGS = "encoder.sentence_encoder.embed_tokens.weight"
PER_TOKEN = "per_token"  # the buffer that marks a per-token head (a span head's: SPAN)
HEAD_KIND_NAMES = (SENTENCE, TOKEN, SPAN)


class TaggingHead(RobertaClassificationHead):
    """RoBERTa's classification head applied at every position (batch x time x classes).

    Its ``per_token`` buffer marks it in checkpoints, so a reloaded model rebuilds the right kind.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.register_buffer(PER_TOKEN, torch.ones(()))

    def forward(self, features, **kwargs):
        x = self.dropout(features)
        x = self.activation_fn(self.dense(x))
        return self.out_proj(self.dropout(x))


class SpanHead(torch.nn.Module):
    """Start and end scores at every position (batch x time x 2): one linear layer, as Hugging
    Face's ``XLMRobertaForQuestionAnswering.qa_outputs``. Its ``span`` buffer marks it in
    checkpoints."""

    def __init__(self, input_dim: int):
        super().__init__()
        self.out_proj = torch.nn.Linear(input_dim, 2)
        self.register_buffer(SPAN, torch.ones(()))

    def forward(self, features, **kwargs):
        return self.out_proj(features)


# Head kinds by the marker buffer their checkpoints hold (none: a per-sentence head).
HEAD_KINDS = {PER_TOKEN: TaggingHead, SPAN: SpanHead}
KIND_NAMES = {None: "per-sentence", PER_TOKEN: "per-token (tagging)", SPAN: "span (QA)"}


def head_kind(head) -> str | None:
    return next((marker for marker, kind in HEAD_KINDS.items() if isinstance(head, kind)), None)


@register_model("stilts_xlmr")
class StiltsXLMRModel(XLMRModel):
    """XLM-R encoder with a dict of named classification heads.

    Head shapes are checked, not label names: reusing a head with ``--head-name`` assumes the
    same labels in the same order.
    """

    autocast_dtype: torch.dtype | None = None
    """Set by the task (``--bf16-autocast``): run ``forward`` under ``torch.autocast`` with
    this dtype; a runtime choice, not saved in checkpoints."""

    @classmethod
    def build_model(cls, args, task):
        model = super().build_model(args, task)
        fingerprint = dictionary_fingerprint(task.source_dictionary)
        model.register_buffer(FINGERPRINT, torch.tensor(fingerprint, dtype=torch.long))
        for module in model.modules():
            # fairseq's gelu runs in fp32 and casts back: the same numbers in fp32, and
            # under bf16 autocast two casts per call that torch's own kernel does not need
            if getattr(module, "activation_fn", None) is fairseq_gelu:
                module.activation_fn = F.gelu
        # one fused QKV projection and a direct SDPA call, same parameters and names
        use_fused_attention(model)
        return model

    def forward(self, *args, **kwargs):
        """fairseq's forward, under bf16 autocast when the task asked for it: matmuls run in
        bf16 while weights, gradients and optimizer state stay fp32; the backward pass runs
        outside it, in the dtypes the forward chose."""
        if self.autocast_dtype is None:
            return super().forward(*args, **kwargs)
        weight = self.encoder.sentence_encoder.embed_tokens.weight
        if weight.dtype != torch.float32:
            raise StiltsError(
                f"--bf16-autocast runs an fp32 model, and this one is {weight.dtype}: "
                "do not combine it with --fp16"
            )
        with torch.autocast(weight.device.type, dtype=self.autocast_dtype):
            return super().forward(*args, **kwargs)

    def register_task_head(self, kind: str, name: str, num_classes: int) -> None:
        """A head of ``kind`` (a family's :attr:`~fairseq_stilts.registry.Family.head`):
        ``sentence`` (fairseq's classification head), ``token`` (tagging) or ``span`` (QA)."""
        if kind == SENTENCE:
            self.register_classification_head(name, num_classes=num_classes)
        elif kind == TOKEN:
            self.register_tagging_head(name, num_classes)
        elif kind == SPAN:
            self.register_span_head(name)
        else:
            raise ValueError(f"unknown head kind {kind!r}; known: {HEAD_KIND_NAMES}")

    def register_tagging_head(self, name: str, num_classes: int) -> None:
        """A per-token head under ``name`` in ``classification_heads``."""
        self.classification_heads[name] = TaggingHead(
            input_dim=self.args.encoder_embed_dim,
            inner_dim=self.args.encoder_embed_dim,
            num_classes=num_classes,
            activation_fn=self.args.pooler_activation_fn,
            pooler_dropout=self.args.pooler_dropout,
        )

    def register_span_head(self, name: str) -> None:
        """A start/end head under ``name`` in ``classification_heads``."""
        self.classification_heads[name] = SpanHead(self.args.encoder_embed_dim)

    def upgrade_state_dict_named(self, state_dict, name):
        prefix = name + "." if name != "" else ""
        if getattr(self.args, "load_checkpoint_heads", False):  # rebuild the checkpoint's heads
            for key in list(state_dict):
                head, _, rest = key[len(prefix + "classification_heads.") :].partition(".")
                if not key.startswith(prefix + "classification_heads.") or rest not in HEAD_KINDS:
                    continue
                if head in self.classification_heads:
                    continue
                if rest == SPAN:
                    self.register_span_head(head)
                else:
                    out = state_dict[f"{prefix}classification_heads.{head}.out_proj.weight"]
                    self.register_tagging_head(head, out.size(0))
        self._check_heads(state_dict, prefix)
        # fairseq's own upgrade expects every head to have a dense layer: span heads stay aside.
        heads = prefix + "classification_heads."
        span_heads = {
            k[len(heads) :].split(".")[0]
            for k in state_dict
            if k.startswith(heads) and k.endswith("." + SPAN)
        }
        aside = {
            k: state_dict.pop(k)
            for k in list(state_dict)
            if k[len(heads) :].split(".")[0] in span_heads and k.startswith(heads)
        }
        super().upgrade_state_dict_named(state_dict, name)
        state_dict.update(
            (k, v)
            for k, v in aside.items()
            if k[len(heads) :].split(".")[0] in self.classification_heads
        )
        self._check_dictionary(state_dict, prefix)

    def _check_heads(self, state_dict, prefix: str) -> None:
        for head_name, head in self.classification_heads.items():
            head_keys = [
                k for k in state_dict if k.startswith(f"{prefix}classification_heads.{head_name}.")
            ]
            theirs = next(
                (
                    m
                    for m in HEAD_KINDS
                    if f"{prefix}classification_heads.{head_name}.{m}" in state_dict
                ),
                None,
            )
            if head_keys and theirs != head_kind(head):
                raise StiltsError(
                    f"the checkpoint's head {head_name!r} is a {KIND_NAMES[theirs]} head, the "
                    f"task needs a {KIND_NAMES[head_kind(head)]} one (give --head-name "
                    "another name to start a fresh head)"
                )
            for name, what in (("out_proj", "classes"), ("dense", "inner dimensions")):
                layer = getattr(head, name, None)
                if layer is None:
                    continue
                theirs = state_dict.get(f"{prefix}classification_heads.{head_name}.{name}.weight")
                if theirs is not None and theirs.shape != layer.weight.shape:
                    raise StiltsError(
                        f"the checkpoint's head {head_name!r} has {theirs.size(0)} {what}, the "
                        f"task needs {layer.out_features} (check --num-classes and the data's "
                        "label dictionary, or give --head-name another name to start a fresh head)"
                    )

    def _check_dictionary(self, state_dict, prefix: str) -> None:
        ours = len(self.encoder.dictionary)
        embeddings = state_dict.get(prefix + EMBEDDINGS)
        if embeddings is not None and embeddings.size(0) != ours:
            raise StiltsError(
                f"the checkpoint's vocabulary has {embeddings.size(0)} entries but the data's "
                f"dictionary has {ours}: prepare the data with the checkpoint's own dict.txt "
                "and sentencepiece.bpe.model"
            )
        theirs = state_dict.get(prefix + FINGERPRINT)
        if theirs is None:  # an official checkpoint: only the size can be checked
            state_dict[prefix + FINGERPRINT] = getattr(self, FINGERPRINT).clone()
        elif int(theirs) != int(getattr(self, FINGERPRINT)):  # the state may be on another device
            raise StiltsError(
                "the checkpoint was trained with another dictionary than the data's input0/dict.txt: "
                "prepare the data with the checkpoint's own dict.txt and sentencepiece.bpe.model"
            )


def _xlmr_positions(args) -> None:
    args.max_positions = safe_getattr(args, "max_positions", 512)


@register_model_architecture("stilts_xlmr", "xlmr_tiny")
def xlmr_tiny_architecture(args):
    """2 layers, 64 hidden: for tests and the demo."""
    args.encoder_layers = safe_getattr(args, "encoder_layers", 2)
    args.encoder_embed_dim = safe_getattr(args, "encoder_embed_dim", 64)
    args.encoder_ffn_embed_dim = safe_getattr(args, "encoder_ffn_embed_dim", 256)
    args.encoder_attention_heads = safe_getattr(args, "encoder_attention_heads", 4)
    _xlmr_positions(args)
    base_architecture(args)


@register_model_architecture("stilts_xlmr", "xlmr_base")
def xlmr_base_architecture(args):
    """XLM-R Base: 12 layers, 768 hidden, 12 heads."""
    _xlmr_positions(args)
    roberta_base_architecture(args)


@register_model_architecture("stilts_xlmr", "xlmr_large")
def xlmr_large_architecture(args):
    """XLM-R Large: 24 layers, 1024 hidden, 16 heads."""
    _xlmr_positions(args)
    roberta_large_architecture(args)


BF16_AUTOCAST_HELP = (
    "run the model's forward under torch.autocast with bfloat16, on CPU (with bf16 instructions, "
    "e.g. avx512_bf16) or GPU; weights, gradients and optimizer state stay fp32, so checkpoints "
    "are the same either way (fairseq's own --bf16 implies --tpu)"
)


def use_bf16_autocast(model, enabled: bool) -> None:
    """Switch bf16 autocast of a model built by a task (see ``BF16_AUTOCAST_HELP``)."""
    if enabled and not isinstance(model, StiltsXLMRModel):
        raise StiltsError("--bf16-autocast needs an XLM-R model (--arch xlmr_base/large/tiny)")
    if isinstance(model, StiltsXLMRModel):
        model.autocast_dtype = torch.bfloat16 if enabled else None
