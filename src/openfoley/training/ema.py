"""Exponential moving average of model weights, kept from step 0; inference uses the EMA copy.

``ema = decay * ema + (1 - decay) * param`` after every optimiser step. Buffers are copied. The
effective decay is warmed up as ``min(decay, (1 + step) / (10 + step))`` so early EMA weights are not
dominated by the random initialisation (a common choice; the paper does not specify one). ``warmup=False``
uses the full decay from the first update, for weights that are already an average (a generator stage
continued from an EMA snapshot: docs/sync-diagnosis.md part 28).
"""

from __future__ import annotations

import copy
from typing import Generic, TypeVar

import torch

M = TypeVar("M", bound=torch.nn.Module)


class EMA(Generic[M]):
    def __init__(self, model: M, decay: float, warmup: bool = True):
        self.decay = decay
        self.warmup = warmup
        self.model: M = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.step = 0

    def current_decay(self) -> float:
        if not self.warmup:
            return self.decay
        return min(self.decay, (1 + self.step) / (10 + self.step))

    @torch.no_grad()
    def update(self, model: torch.nn.Module) -> None:
        d = self.current_decay()
        for e, p in zip(self.model.parameters(), model.parameters(), strict=True):
            e.lerp_(p.detach().to(e.dtype), 1 - d)
        for eb, b in zip(self.model.buffers(), model.buffers(), strict=True):
            eb.copy_(b)
        self.step += 1

    def state_dict(self) -> dict:
        return {"decay": self.decay, "step": self.step, "warmup": self.warmup, "model": self.model.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.decay = state["decay"]
        self.step = state["step"]
        self.warmup = state.get("warmup", True)  # states saved before the switch warmed up
        self.model.load_state_dict(state["model"])
