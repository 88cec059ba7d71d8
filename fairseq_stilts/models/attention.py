"""Encoder self-attention with one fused QKV projection and a direct call to torch's
``scaled_dot_product_attention`` (SDPA).

fairseq's :class:`~fairseq.modules.MultiheadAttention` runs the encoder's self-attention through
``F.multi_head_attention_forward``: three separate projections, and the key-padding mask turned
into a float mask expanded to every head, in every layer. :class:`FusedSelfAttention` is the same
module (it only overrides ``forward``, so its parameters keep fairseq's names ``q_proj``,
``k_proj``, ``v_proj`` and ``out_proj``, and checkpoints load both ways) that makes one matmul
against the three weights concatenated, views the result as query, key and value without a copy
and hands SDPA the padding as a boolean batch x 1 x 1 x time mask.

SDPA scales the scores by ``head_dim ** -0.5``, fairseq's ``scaling``, which is passed
explicitly; attention dropout (``dropout_module.p``) is applied in training only (or with
``apply_during_inference``), as fairseq does. A call it does not serve runs fairseq's own
``forward``: incremental state, an ``attn_mask``, attention weights asked for, static keys, keys
or values other than the query tensor itself, projections without biases, ``bias_k``/``bias_v``,
zero attention, xFormers, ONNX export, XLA, TorchScript, pruned heads.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from fairseq.modules.multihead_attention import MultiheadAttention
from torch import Tensor, nn


class FusedSelfAttention(MultiheadAttention):
    """fairseq's self-attention module with a fused QKV projection and a direct SDPA call."""

    def forward(
        self,
        query: Tensor,
        key: Tensor | None,
        value: Tensor | None,
        key_padding_mask: Tensor | None = None,
        incremental_state: dict | None = None,
        need_weights: bool = True,
        static_kv: bool = False,
        attn_mask: Tensor | None = None,
        before_softmax: bool = False,
        need_head_weights: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """Time x batch x channel in and out, as fairseq's; ``key_padding_mask`` is batch x
        time, true (or 1) at padding. Returns ``(output, None)`` on the fused path."""
        if (
            key is query
            and value is query
            and incremental_state is None
            and not need_weights
            and not need_head_weights
            and not static_kv
            and attn_mask is None
            and not before_softmax
            and self._fusable(query, key_padding_mask)
        ):
            return self._fused_forward(query, key_padding_mask), None
        return super().forward(
            query,
            key,
            value,
            key_padding_mask=key_padding_mask,
            incremental_state=incremental_state,
            need_weights=need_weights,
            static_kv=static_kv,
            attn_mask=attn_mask,
            before_softmax=before_softmax,
            need_head_weights=need_head_weights,
        )

    def _fusable(self, query: Tensor, key_padding_mask: Tensor | None) -> bool:
        return (
            self.self_attention
            and query.dim() == 3
            and query.size(-1) == self.embed_dim == self.num_heads * self.head_dim
            and query.device.type != "xla"
            and not self.onnx_trace
            and not self.use_xformers
            and not self.skip_embed_dim_check
            and not torch.jit.is_scripting()
            and self.bias_k is None
            and self.bias_v is None
            and not self.add_zero_attn
            and all(p.bias is not None for p in (self.q_proj, self.k_proj, self.v_proj))
            and (
                key_padding_mask is None or key_padding_mask.shape == (query.size(1), query.size(0))
            )
        )

    def _fused_forward(self, x: Tensor, key_padding_mask: Tensor | None) -> Tensor:
        time, batch, channels = x.shape
        weight = torch.cat([self.q_proj.weight, self.k_proj.weight, self.v_proj.weight])
        bias = torch.cat([self.q_proj.bias, self.k_proj.bias, self.v_proj.bias])
        qkv = F.linear(x, weight, bias)  # time x batch x 3 channels
        # views, no copy: each batch x heads x time x head_dim, the last dimension contiguous.
        # Split on the q/k/v dimension in place (not after moving it first): the backward then
        # stacks the three gradients straight into the projection's contiguous layout, one copy.
        q, k, v = (
            part.permute(1, 2, 0, 3)
            for part in qkv.view(time, batch, 3, self.num_heads, self.head_dim).unbind(2)
        )
        mask = None
        if key_padding_mask is not None:  # SDPA's boolean mask is true where attention goes
            mask = key_padding_mask.view(batch, 1, 1, time).logical_not()
        training = self.training or self.dropout_module.apply_during_inference
        out = F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=mask,
            dropout_p=self.dropout_module.p if training else 0.0,
            scale=self.scaling,
        )
        out = out.permute(2, 0, 1, 3).reshape(time, batch, channels)
        return F.linear(out, self.out_proj.weight, self.out_proj.bias)


def use_fused_attention(model: nn.Module) -> int:
    """Give every fairseq self-attention module of ``model`` the fused forward (in place, same
    parameters); return how many were switched. Cross-attention modules are left alone."""
    switched = 0
    for module in model.modules():
        if type(module) is MultiheadAttention and module.self_attention:
            module.__class__ = FusedSelfAttention
            switched += 1
    return switched
