"""stilts_adamw: the recipe's AdamW, with no weight decay on biases and LayerNorm."""

from __future__ import annotations

import torch
from fairseq.optim import build_optimizer
from omegaconf import OmegaConf

import fairseq_stilts  # noqa: F401


def _optimizer(params, weight_decay=0.01, lr=1e-3):
    cfg = OmegaConf.create(
        {
            "_name": "stilts_adamw",
            "adam_betas": "(0.9, 0.98)",
            "adam_eps": 1e-6,
            "weight_decay": weight_decay,
            "lr": [lr],
        }
    )
    return build_optimizer(cfg, list(params))  # fairseq peeks into the iterable first


def test_biases_and_layer_norms_are_not_decayed():
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.LayerNorm(3))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimizer = _optimizer(model.parameters(), weight_decay=0.5, lr=0.1)
    for p in model.parameters():
        p.grad = torch.zeros_like(p)  # only weight decay moves parameters
    optimizer.step()
    after = dict(model.named_parameters())
    assert torch.allclose(after["0.weight"], before["0.weight"] * (1 - 0.1 * 0.5))
    for name in ("0.bias", "1.weight", "1.bias"):
        assert torch.equal(after[name], before[name])


def test_steps_equal_torch_adamw_with_the_same_groups():
    torch.manual_seed(0)
    ours, reference = (torch.nn.Linear(5, 2) for _ in range(2))
    reference.load_state_dict(ours.state_dict())
    optimizer = _optimizer(ours.parameters())
    expected = torch.optim.AdamW(
        [
            {"params": [reference.weight], "weight_decay": 0.01},
            {"params": [reference.bias], "weight_decay": 0.0},
        ],
        lr=1e-3,
        betas=(0.9, 0.98),
        eps=1e-6,
    )
    for _ in range(3):
        x = torch.randn(7, 5)
        for model in (ours, reference):
            model.zero_grad()
            model(x).pow(2).sum().backward()
        optimizer.step()
        expected.step()
    assert torch.allclose(ours.weight, reference.weight, atol=1e-7)
    assert torch.allclose(ours.bias, reference.bias, atol=1e-7)


def test_learning_rate_changes_reach_every_group():
    optimizer = _optimizer(torch.nn.Linear(3, 3).parameters())
    optimizer.set_lr(5e-4)
    assert [g["lr"] for g in optimizer.param_groups] == [5e-4, 5e-4]
    assert [g["weight_decay"] for g in optimizer.param_groups] == [0.01, 0.0]
