"""FusedSelfAttention (one QKV matmul, a direct SDPA call) against fairseq's MultiheadAttention.

Tolerances (fp32): outputs within atol 1e-6 / rtol 1e-5 of fairseq's (the same SDPA kernel on
the same projections; measured bit-identical here); gradients within rtol 1e-5 plus an atol of
1e-5 times the tensor's largest entry (at least 1e-9): the input's gradient is one matmul over
the three projections instead of a sum of three, measured at most 4e-7 of the largest entry
apart (the weights' gradients were bit-identical).
"""

from __future__ import annotations

import copy

import pytest
import torch
from fairseq.modules.fairseq_dropout import FairseqDropout
from fairseq.modules.multihead_attention import MultiheadAttention

from fairseq_stilts.models.attention import FusedSelfAttention, use_fused_attention
from fairseq_stilts.runtime import load_encoder

OUT = dict(atol=1e-6, rtol=1e-5)


def grads_close(got: torch.Tensor, expected: torch.Tensor) -> bool:
    # the floor: k_proj's bias has a gradient of 0 up to rounding (softmax ignores a constant
    # added to all of a query's scores), ~1e-13 here
    atol = max(1e-5 * expected.abs().max().item(), 1e-9)
    return torch.allclose(got, expected, rtol=1e-5, atol=atol)


TIME, BATCH, DIM, HEADS = 11, 5, 64, 4


def fairseq_attention(dropout: float = 0.0) -> MultiheadAttention:
    torch.manual_seed(0)
    module = MultiheadAttention(DIM, HEADS, dropout=dropout, self_attention=True)
    with torch.no_grad():
        for parameter in module.parameters():  # biases too: fairseq starts some at 0
            parameter.normal_(0, 0.2)
    return module


def fused(module: torch.nn.Module) -> torch.nn.Module:
    holder = torch.nn.ModuleList([copy.deepcopy(module)])
    assert use_fused_attention(holder) == 1
    return holder[0]


def unfused(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of ``model`` with fairseq's own attention back in every layer."""
    copied = copy.deepcopy(model)
    for module in copied.modules():
        if type(module) is FusedSelfAttention:
            module.__class__ = MultiheadAttention
    return copied


def padding(dtype=torch.bool) -> torch.Tensor:
    mask = torch.zeros(BATCH, TIME, dtype=dtype)
    mask[1, 8:] = 1
    mask[3, 3:] = 1
    return mask


def inputs() -> torch.Tensor:
    return torch.randn(TIME, BATCH, DIM, generator=torch.Generator().manual_seed(1))


def attend(module, x, mask, **kwargs):
    return module(x, x, x, key_padding_mask=mask, need_weights=False, **kwargs)


@pytest.mark.parametrize(
    "mask", [None, padding(), padding(torch.uint8)], ids=["none", "bool", "byte"]
)
def test_outputs_equal_fairseq_in_eval_mode(mask):
    theirs = fairseq_attention(dropout=0.1).eval()
    ours = fused(theirs)
    assert type(ours) is FusedSelfAttention
    with torch.no_grad():
        expected, none = attend(theirs, inputs(), mask)
        got, weights = attend(ours, inputs(), mask)
    assert none is None and weights is None
    assert torch.allclose(got, expected, **OUT)


@pytest.mark.parametrize("mask", [None, padding()], ids=["none", "padding"])
def test_gradients_equal_fairseq_in_training(mask):
    theirs = fairseq_attention(dropout=0.0).train()
    ours = fused(theirs)
    grads = []
    for module in (theirs, ours):
        x = inputs().requires_grad_()
        out, _ = attend(module, x, mask)
        out.pow(2).sum().backward()
        grads.append([x.grad, *(p.grad for p in module.parameters())])
    for expected, got in zip(*grads, strict=True):
        assert grads_close(got, expected)


def test_attention_dropout_is_fairseqs_in_training_and_off_in_eval():
    theirs = fairseq_attention(dropout=0.5).train()
    ours = fused(theirs)
    outputs = {}
    for name, module in (("theirs", theirs), ("ours", ours)):
        torch.manual_seed(7)
        outputs[name] = attend(module, inputs(), padding())[0]
    # the same SDPA call, the same random draws: the same attention weights dropped
    assert torch.allclose(outputs["ours"], outputs["theirs"], **OUT)
    again = attend(ours, inputs(), padding())[0]
    assert not torch.allclose(again, outputs["ours"])
    ours.eval()
    assert torch.equal(attend(ours, inputs(), padding())[0], attend(ours, inputs(), padding())[0])
    ours.dropout_module.apply_during_inference = True  # fairseq's --retain-dropout
    assert not torch.allclose(attend(ours, inputs(), padding())[0], again)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(need_weights=True),
        dict(need_head_weights=True),
        dict(attn_mask=torch.ones(TIME, TIME, dtype=torch.bool).triu(1)),  # causal
    ],
    ids=["need_weights", "need_head_weights", "attn_mask"],
)
def test_calls_it_does_not_serve_run_fairseqs_forward(monkeypatch, kwargs):
    theirs = fairseq_attention().eval()
    ours = fused(theirs)
    monkeypatch.setattr(FusedSelfAttention, "_fused_forward", _not_called)
    x, mask = inputs(), padding()
    expected = theirs(x, x, x, key_padding_mask=mask, **{"need_weights": False, **kwargs})
    got = ours(x, x, x, key_padding_mask=mask, **{"need_weights": False, **kwargs})
    assert torch.equal(got[0], expected[0])
    assert (got[1] is None) == (expected[1] is None)
    if got[1] is not None:
        assert torch.equal(got[1], expected[1])


def test_distinct_keys_run_fairseqs_forward(monkeypatch):
    theirs = fairseq_attention().eval()
    ours = fused(theirs)
    monkeypatch.setattr(FusedSelfAttention, "_fused_forward", _not_called)
    x = inputs()
    y = x.clone()  # equal values, another tensor: not self-attention as this path knows it
    assert torch.equal(ours(x, y, y, need_weights=False)[0], theirs(x, y, y, need_weights=False)[0])


def _not_called(self, *args, **kwargs):
    raise AssertionError("the fused path served a call it should leave to fairseq")


def test_cross_attention_is_left_alone():
    cross = MultiheadAttention(DIM, HEADS, encoder_decoder_attention=True)
    assert use_fused_attention(torch.nn.ModuleList([cross])) == 0
    assert type(cross) is MultiheadAttention


def test_bf16_autocast_tracks_fairseq_under_autocast():
    theirs = fairseq_attention().eval()
    ours = fused(theirs)
    x, mask = inputs(), padding()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        expected, got = attend(theirs, x, mask)[0], attend(ours, x, mask)[0]
    assert got.dtype == expected.dtype == torch.bfloat16
    # bf16 keeps 8 bits of mantissa; the two differ only in rounding
    assert (got.float() - expected.float()).abs().max() < 0.02 * expected.float().abs().max()


@pytest.fixture(scope="module")
def tiny(tiny_model):
    model = load_encoder(tiny_model / "model.pt", tiny_model)
    return model, unfused(model)


def tokens() -> torch.Tensor:
    ids = torch.randint(4, 200, (4, 30), generator=torch.Generator().manual_seed(0))
    ids[:, 0], ids[:, -1] = 0, 2
    ids[2, 20:], ids[3, 9:] = 1, 1  # two padded rows
    return ids


def test_the_model_builds_the_fused_attention_in_every_layer(tiny):
    ours, theirs = tiny
    layers = ours.encoder.sentence_encoder.layers
    assert all(type(layer.self_attn) is FusedSelfAttention for layer in layers)
    assert not any(type(m) is FusedSelfAttention for m in theirs.modules())


def test_the_tiny_models_features_equal_fairseqs_attention(tiny):
    ours, theirs = tiny
    with torch.no_grad():
        for features_only in (True, False):
            got = ours(tokens(), features_only=features_only)[0]
            expected = theirs(tokens(), features_only=features_only)[0]
            assert torch.allclose(got, expected, **OUT)
        # no padding at all: fairseq passes no mask
        full = tokens()[:2, :20]
        assert torch.allclose(ours(full)[0], theirs(full)[0], **OUT)


def test_the_tiny_models_gradients_equal_fairseqs_attention(tiny):
    grads = []
    for model in map(copy.deepcopy, tiny):
        model.train()
        for module in model.modules():
            if isinstance(module, FairseqDropout):
                module.p = 0.0  # train mode, no random draws to line up
        features = model(tokens(), features_only=True)[0]
        features.pow(2).mean().backward()
        grads.append({name: p.grad for name, p in model.named_parameters() if p.grad is not None})
    ours, theirs = grads
    assert ours.keys() == theirs.keys() and any(".self_attn.q_proj." in name for name in ours)
    for name, expected in theirs.items():
        assert grads_close(ours[name], expected), name


def test_state_dict_keys_are_fairseqs_and_load_both_ways(tiny):
    ours, theirs = tiny
    assert list(ours.state_dict()) == list(theirs.state_dict())
    layers = len(ours.encoder.sentence_encoder.layers)
    for layer in range(layers):
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            for kind in ("weight", "bias"):
                key = f"encoder.sentence_encoder.layers.{layer}.self_attn.{proj}.{kind}"
                assert key in ours.state_dict()
    assert not any("in_proj" in key for key in ours.state_dict())
    # a fused model's state loads strictly into fairseq's module, and back
    stock = copy.deepcopy(theirs)
    with torch.no_grad():
        for p in stock.parameters():
            p.zero_()
    stock.load_state_dict(ours.state_dict(), strict=True)
    fresh = copy.deepcopy(ours)
    fresh.load_state_dict(theirs.state_dict(), strict=True)
    with torch.no_grad():
        assert torch.allclose(stock(tokens())[0], fresh(tokens())[0], **OUT)
