"""Sentences -> L2-normalised embeddings from one layer of an XLM-R encoder.

As XTREME embeds sentences (docs/scoring.md): hidden_states[layer] (index 0 = embeddings), ``<s>`` prepended and ``</s>``
appended, at most 512 tokens, pooled by the mean over all non-pad tokens (``<s>`` and ``</s>``
included) or by the ``<s>`` vector (``cls``), then L2-normalised.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from fairseq.models.roberta import RobertaModel

from fairseq_stilts.data.prepare.encoder import PieceEncoder
from fairseq_stilts.errors import StiltsError
from fairseq_stilts.progress import progress

POOLINGS = ("mean", "cls")


def encode_sentences(
    encoder: PieceEncoder, sentences: Sequence[str], max_length: int = 512
) -> list[np.ndarray]:
    """``<s> pieces </s>`` ids of each sentence, the pieces cut so the whole fits ``max_length``."""
    if max_length < 3:
        raise ValueError(f"max_length must be at least 3, got {max_length}")
    bos = encoder.dictionary.bos()
    out = []
    for sentence in sentences:
        ids = encoder.encode(sentence)  # pieces + </s>
        out.append(np.concatenate([[bos], ids[:-1][: max_length - 2], ids[-1:]]))
    return out


@torch.no_grad()
def embed_tokens(
    model: RobertaModel,
    token_ids: Sequence[np.ndarray],
    *,
    layer: int,
    pooling: str = "mean",
    batch_size: int = 32,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """(sentences x hidden) float32 embeddings, rows in the input order, L2-normalised."""
    depth = num_layers(model)
    if not 0 <= layer <= depth:
        raise StiltsError(f"--layer {layer}: the model has layers 0 (embeddings) to {depth}")
    if pooling not in POOLINGS:
        raise StiltsError(f"--pooling {pooling!r}: choose one of {', '.join(POOLINGS)}")
    if batch_size < 1:
        raise StiltsError(f"--batch-size must be positive, got {batch_size}")
    model.eval()
    pad = model.encoder.sentence_encoder.padding_idx
    dim = model.encoder.sentence_encoder.embed_tokens.embedding_dim
    result = torch.zeros(len(token_ids), dim, dtype=torch.float32)
    order = sorted(range(len(token_ids)), key=lambda i: len(token_ids[i]))
    batches = range(0, len(order), batch_size)
    for start in progress(batches, desc="embedding", unit="batches", leave=False):
        rows = order[start : start + batch_size]
        width = max(len(token_ids[i]) for i in rows)
        tokens = torch.full((len(rows), width), pad, dtype=torch.long)
        for r, i in enumerate(rows):
            tokens[r, : len(token_ids[i])] = torch.as_tensor(token_ids[i], dtype=torch.long)
        tokens = tokens.to(device)
        _, extra = model.encoder.extract_features(tokens, return_all_hiddens=True)
        hidden = extra["inner_states"][layer].transpose(0, 1).float()  # T x B x C -> B x T x C
        if pooling == "cls":
            pooled = hidden[:, 0]
        else:
            mask = tokens.ne(pad).unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1)
        result[torch.as_tensor(rows)] = torch.nn.functional.normalize(pooled, dim=1).cpu()
    return result


def embed_sentences(
    model: RobertaModel,
    encoder: PieceEncoder,
    sentences: Sequence[str],
    *,
    layer: int,
    pooling: str = "mean",
    batch_size: int = 32,
    max_length: int = 512,
    device: str | torch.device = "cpu",
) -> torch.Tensor:
    """Embeddings of raw sentences (see :func:`embed_tokens`)."""
    max_length = min(max_length, model.encoder.max_positions())
    ids = encode_sentences(encoder, sentences, max_length)
    return embed_tokens(
        model, ids, layer=layer, pooling=pooling, batch_size=batch_size, device=device
    )


def num_layers(model: RobertaModel) -> int:
    return len(model.encoder.sentence_encoder.layers)


def default_layer(model: RobertaModel) -> int:
    """Layer 14 of 24 (docs/scoring.md, retrieval), scaled to the model's depth."""
    return round(14 / 24 * num_layers(model))
