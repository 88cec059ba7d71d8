"""Parameter names of fairseq's RoBERTa encoder and their ``transformers`` XLM-R counterparts.

Names are relative: fairseq's under ``encoder.sentence_encoder.``, transformers' under the base
model (``roberta.`` inside a task model). Token-type and position embeddings are not renamed one
to one; :mod:`fairseq_stilts.convert.from_hf` and :mod:`fairseq_stilts.convert.to_hf` fold them.
"""

from __future__ import annotations

FAIRSEQ_ENCODER = "encoder.sentence_encoder."
FAIRSEQ_LM_HEAD = "encoder.lm_head."
HF_BASE = "roberta."
WORDS = ("embed_tokens.weight", "embeddings.word_embeddings.weight")
POSITIONS = ("embed_positions.weight", "embeddings.position_embeddings.weight")
TOKEN_TYPES = "embeddings.token_type_embeddings.weight"

_EMBEDDING_LAYER_NORM = ("layernorm_embedding", "embeddings.LayerNorm")
_LAYER = (
    ("self_attn.q_proj", "attention.self.query"),
    ("self_attn.k_proj", "attention.self.key"),
    ("self_attn.v_proj", "attention.self.value"),
    ("self_attn.out_proj", "attention.output.dense"),
    ("self_attn_layer_norm", "attention.output.LayerNorm"),
    ("fc1", "intermediate.dense"),
    ("fc2", "output.dense"),
    ("final_layer_norm", "output.LayerNorm"),
)
# The LM head's output weight is tied to the word embeddings on both sides.
LM_HEAD = (
    ("dense.weight", "lm_head.dense.weight"),
    ("dense.bias", "lm_head.dense.bias"),
    ("layer_norm.weight", "lm_head.layer_norm.weight"),
    ("layer_norm.bias", "lm_head.layer_norm.bias"),
    ("bias", "lm_head.bias"),
)


def encoder_names(num_layers: int) -> list[tuple[str, str]]:
    """(fairseq, transformers) names of every encoder parameter renamed one to one."""
    pairs = [WORDS]
    pairs += [
        (f"{_EMBEDDING_LAYER_NORM[0]}.{p}", f"{_EMBEDDING_LAYER_NORM[1]}.{p}")
        for p in ("weight", "bias")
    ]
    for i in range(num_layers):
        for ours, theirs in _LAYER:
            for p in ("weight", "bias"):
                pairs.append((f"layers.{i}.{ours}.{p}", f"encoder.layer.{i}.{theirs}.{p}"))
    return pairs


LM = "lm"  # the name that picks the LM head (stilts-convert to-hf --head lm)
