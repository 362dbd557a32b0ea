"""Optimiser and learning-rate schedule of Algorithm 1: Adam, linear warmup, then cosine decay.

``lr(step) = base * step / warmup`` for ``step < warmup``, then
``base * 0.5 * (1 + cos(pi * (step - warmup) / (max_steps - warmup)))`` (floored at ``min_ratio``).
"""

from __future__ import annotations

import math

import torch

from openfoley.config import TrainConfig


def lr_factor(step: int, warmup: int, max_steps: int, min_ratio: float = 0.0) -> float:
    """Multiplier of the base learning rate at optimiser step ``step`` (0-based)."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    decay_steps = max(1, max_steps - warmup)
    progress = min(1.0, (step - warmup) / decay_steps)
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def build_optimizer(params, cfg: TrainConfig) -> torch.optim.Optimizer:
    """Adam (``weight_decay`` 0) or AdamW (``weight_decay`` > 0) with the config's betas and lr."""
    params = [p for p in params if p.requires_grad]
    if cfg.weight_decay > 0:
        return torch.optim.AdamW(params, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    return torch.optim.Adam(params, lr=cfg.lr, betas=cfg.betas)


def build_scheduler(opt: torch.optim.Optimizer, cfg: TrainConfig) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: lr_factor(s, cfg.warmup_steps, cfg.max_steps)
    )
