"""XLM-R on fairseq's RoBERTa encoder, with named heads and a dictionary fingerprint.

Differences from stock ``roberta``/``xlmr`` that matter for X-STILTs:
- a head of the checkpoint with the same name as the task's head but another shape is an
  error (stock fairseq silently deletes it and trains a fresh one);
- the model stores a fingerprint of the dictionary it was built with, so a checkpoint cannot be
  used with data encoded by another dictionary.
"""

from __future__ import annotations

import torch
from fairseq.models import register_model, register_model_architecture
from fairseq.models.roberta.model import (
    base_architecture,
    roberta_base_architecture,
    roberta_large_architecture,
)
from fairseq.models.roberta.model_xlmr import XLMRModel
from fairseq.utils import safe_getattr

from fairseq_stilts.data.encoder import dictionary_fingerprint
from fairseq_stilts.errors import StiltsError

FINGERPRINT = "dictionary_fingerprint"
EMBEDDINGS = "encoder.sentence_encoder.embed_tokens.weight"


@register_model("stilts_xlmr")
class StiltsXLMRModel(XLMRModel):
    """XLM-R encoder with a dict of named classification heads.

    Head shapes are checked, not label names: reusing a head with ``--head-name`` assumes the
    same labels in the same order.
    """

    @classmethod
    def build_model(cls, args, task):
        model = super().build_model(args, task)
        fingerprint = dictionary_fingerprint(task.source_dictionary)
        model.register_buffer(FINGERPRINT, torch.tensor(fingerprint, dtype=torch.long))
        return model

    def upgrade_state_dict_named(self, state_dict, name):
        prefix = name + "." if name != "" else ""
        self._check_heads(state_dict, prefix)
        super().upgrade_state_dict_named(state_dict, name)
        self._check_dictionary(state_dict, prefix)

    def _check_heads(self, state_dict, prefix: str) -> None:
        for head_name, head in self.classification_heads.items():
            for name, what in (("out_proj", "classes"), ("dense", "inner dimensions")):
                layer = getattr(head, name)
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
