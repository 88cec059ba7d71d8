"""AdamW as the X-STILTs recipe uses it: decoupled weight decay, none on biases and LayerNorm.

fairseq's own ``adam`` decays every parameter. Here the parameters with fewer than two
dimensions (every bias and every LayerNorm weight of XLM-R) form a group without weight decay.
The step is torch's ``AdamW`` (its fused kernel where the parameters' device has one).
"""

# No `from __future__ import annotations`: fairseq reads the config field types at run time.
import ast
from dataclasses import dataclass, field
from typing import Any

import torch
from fairseq.dataclass import FairseqDataclass
from fairseq.optim import FairseqOptimizer, register_optimizer
from omegaconf import II


@dataclass
class StiltsAdamWConfig(FairseqDataclass):
    adam_betas: Any = field(default=(0.9, 0.999), metadata={"help": "betas for AdamW"})
    adam_eps: float = field(default=1e-8, metadata={"help": "epsilon for AdamW"})
    weight_decay: float = field(
        default=0.01, metadata={"help": "decoupled weight decay of weight matrices and embeddings"}
    )
    lr: list[float] = II("optimization.lr")


@register_optimizer("stilts_adamw", dataclass=StiltsAdamWConfig)
class StiltsAdamW(FairseqOptimizer):
    """torch AdamW with a no-decay group for biases and LayerNorm parameters."""

    def __init__(self, cfg: StiltsAdamWConfig, params):
        super().__init__(cfg)
        params = list(params)
        groups = [
            {"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg.weight_decay},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
        ]
        self._optimizer = torch.optim.AdamW(
            [g for g in groups if g["params"]], fused=_fusable(params), **self.optimizer_config
        )

    @property
    def optimizer_config(self) -> dict:
        # No weight_decay here: fairseq copies these values into every group when resuming.
        betas = self.cfg.adam_betas
        return {
            "lr": self.cfg.lr[0],
            "betas": ast.literal_eval(betas) if isinstance(betas, str) else tuple(betas),
            "eps": self.cfg.adam_eps,
        }

    @property
    def supports_flat_params(self) -> bool:
        # One flat fp32 tensor (fairseq's --fp16 default) would hide which parameters are
        # biases; fairseq then asks for --fp16-no-flatten-grads.
        return False


def _fusable(params: list[torch.Tensor]) -> bool:
    return bool(params) and all(
        p.dtype == torch.float32 and p.device.type in ("cpu", "cuda") for p in params
    )
