"""Gaussian diffusion (DDPM, Eq. 1-2 of the paper): the "w/o MFG" ablation, ``FlowConfig.kind = "ddpm"``.

Forward process (Eq. 1), linear beta schedule over T = ``ddpm_steps`` steps from ``ddpm_beta``:

    q(x_i | x_{i-1}) = N(sqrt(1 - beta_i) x_{i-1}, beta_i I),   q(x_i | x_0) = N(sqrt(abar_i) x_0, (1 - abar_i) I)

with abar_i = prod_{j <= i} (1 - beta_j). Reverse process (Eq. 2): the network predicts the noise eps.

Index convention (internal to this file): i in {0, ..., T-1} is the paper's step t = i + 1, so i = T-1
is the noisiest and "i = -1" is clean data. Wherever shared code sees a time it gets the package's
flow time (t=0 noise, t=1 data, ``openfoley.flow.path``): tau(i) = 1 - (i + 1) / T. The epsilon network
is the MFG velocity transformer (``VelocityNet``) reused unchanged, fed tau as its time.

Sampling on ``steps`` respaced indices (DDIM, Song et al. 2021): eta = 0 is deterministic DDIM; eta = 1
is ancestral sampling, which on consecutive indices is exactly the DDPM posterior q(x_{i-1} | x_i, x0_hat)
(tested). Classifier-free guidance combines the conditional and null epsilons.

Shapes: x0/x (b, n, p*f), index i (b,) long.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from openfoley.config import Config
from openfoley.errors import ConfigError
from openfoley.flow.base import FlowCondition, FlowLoss, Generator, binned_mean, randn
from openfoley.flow.guidance import cfg_combine
from openfoley.flow.unet import ConvVelocityNet, build_velocity_net
from openfoley.flow.velocity import VelocityNet

SAMPLERS = {"ddim": 0.0, "ancestral": 1.0}


class DDPMSchedule:
    """Linear beta schedule and its closed forms, held in float64 on the CPU."""

    def __init__(self, steps: int, beta: tuple[float, float]):
        if steps < 2:
            raise ConfigError(f"flow.ddpm_steps must be >= 2, got {steps}")
        if not 0 < beta[0] <= beta[1] < 1:
            raise ConfigError(f"flow.ddpm_beta must satisfy 0 < start <= end < 1, got {beta}")
        self.T = steps
        self.betas = torch.linspace(beta[0], beta[1], steps, dtype=torch.float64)  # (T,)
        self.alphas = 1 - self.betas
        self.alpha_bar = torch.cumprod(self.alphas, 0)  # (T,)

    def abar(self, i: Tensor, like: Tensor) -> Tensor:
        """abar at indices ``i`` (b,) (index -1 gives 1: clean data), shaped (b, 1, ..) like ``like``."""
        ab = torch.where(i.cpu() >= 0, self.alpha_bar[i.cpu().clamp(min=0)], torch.ones((), dtype=torch.float64))
        return ab.to(device=like.device, dtype=like.dtype).reshape(-1, *([1] * (like.dim() - 1)))

    def flow_time(self, i: Tensor) -> Tensor:
        """Package flow time tau = 1 - (i + 1) / T of indices ``i`` (b,): 0 at the noisiest step."""
        return 1.0 - (i.float() + 1.0) / self.T

    def q_sample(self, x0: Tensor, i: Tensor, noise: Tensor) -> Tensor:
        """Draw from q(x_i | x_0) = N(sqrt(abar_i) x0, (1 - abar_i) I) using the given ``noise``."""
        ab = self.abar(i, x0)
        return ab.sqrt() * x0 + (1 - ab).sqrt() * noise

    def posterior(self, x0: Tensor, x: Tensor, i: int) -> tuple[Tensor, float]:
        """Mean and variance of q(x_{i-1} | x_i, x_0) (Ho et al. 2020, Eq. 7), for index i >= 1."""
        ab, ab_prev = self.alpha_bar[i], self.alpha_bar[i - 1]
        beta, alpha = self.betas[i], self.alphas[i]
        mean = (ab_prev.sqrt() * beta / (1 - ab)) * x0 + (alpha.sqrt() * (1 - ab_prev) / (1 - ab)) * x
        return mean, float((1 - ab_prev) / (1 - ab) * beta)

    def respaced(self, steps: int) -> list[int]:
        """``steps`` descending indices from T-1 to 0 (roughly even; duplicates removed)."""
        if steps < 1:
            raise ConfigError(f"the number of sampling steps must be >= 1, got {steps}")
        idx = torch.linspace(self.T - 1, 0, min(steps, self.T), dtype=torch.float64).round().long()
        return list(dict.fromkeys(idx.tolist()))

    def step(self, x: Tensor, eps: Tensor, i: int, i_prev: int, eta: float, noise: Tensor | None) -> Tensor:
        """One generalised DDIM step from index ``i`` to ``i_prev`` (< i; -1 = clean data)."""
        ab = float(self.alpha_bar[i])
        ab_prev = 1.0 if i_prev < 0 else float(self.alpha_bar[i_prev])
        x0_hat = (x - (1 - ab) ** 0.5 * eps) / ab**0.5
        sigma = eta * ((1 - ab_prev) / (1 - ab) * (1 - ab / ab_prev)) ** 0.5
        out = ab_prev**0.5 * x0_hat + max(1 - ab_prev - sigma**2, 0.0) ** 0.5 * eps
        if sigma > 0:
            if noise is None:
                raise ValueError("a stochastic step (eta > 0) needs noise")
            out = out + sigma * noise
        return out


class DDPMGenerator(Generator):
    """Epsilon-prediction diffusion on the MFG backbone; see the module docstring."""

    def __init__(self, net: VelocityNet | ConvVelocityNet, schedule: DDPMSchedule, *, cond_dropout: float = 0.1,
                 steps: int = 16, sampler: str = "ddim", cfg_scale: float = 2.0):
        super().__init__()
        if sampler not in SAMPLERS:
            raise ConfigError(f"flow.ddpm_sampler must be one of {sorted(SAMPLERS)}, got {sampler!r}")
        self.net = net
        self.token_dim = net.token_dim
        self.schedule = schedule
        self.cond_dropout, self.steps, self.sampler, self.cfg_scale = cond_dropout, steps, sampler, cfg_scale

    @classmethod
    def from_config(cls, cfg: Config) -> DDPMGenerator:
        f = cfg.flow
        net = build_velocity_net(cfg)
        return cls(net, DDPMSchedule(f.ddpm_steps, f.ddpm_beta), cond_dropout=f.cond_dropout,
                   steps=f.steps, sampler=f.ddpm_sampler, cfg_scale=f.cfg_scale)

    def loss(self, x1: Tensor, cond: FlowCondition, generator: torch.Generator) -> FlowLoss:
        """Simple epsilon loss (Ho et al. 2020) on data latents x1 (b, n, p*f); bins by flow time."""
        self.check_x1(x1, cond)
        b = x1.shape[0]
        i = torch.randint(0, self.schedule.T, (b,), generator=generator, device=generator.device).to(x1.device)
        noise = randn(tuple(x1.shape), generator, device=x1.device, dtype=x1.dtype)
        cond = cond.dropout(self.cond_dropout, generator)
        x = self.schedule.q_sample(x1, i, noise)
        tau = self.schedule.flow_time(i).to(x1.dtype)
        eps = self.net(x, tau, cond)
        per_example = (eps.float() - noise.float()).pow(2).mean(dim=(1, 2))  # (b,)
        loss = per_example.mean()
        return FlowLoss(loss=loss, per_bin=binned_mean(per_example, tau))

    @torch.no_grad()
    def sample(self, cond: FlowCondition, generator: torch.Generator, steps: int | None = None,
               solver: str | None = None, cfg_scale: float | None = None) -> Tensor:
        """x1 (b, n, p*f); ``solver`` names the sampler here ("ddim" | "ancestral")."""
        steps = self.steps if steps is None else steps
        sampler = self.sampler if solver is None else solver
        if sampler not in SAMPLERS:
            raise ConfigError(f"DDPM sampler must be one of {sorted(SAMPLERS)}, got {sampler!r}")
        eta = SAMPLERS[sampler]
        scale = self.cfg_scale if cfg_scale is None else cfg_scale
        b, n, _ = cond.tokens.shape
        dtype = next(self.net.parameters()).dtype
        x = randn((b, n, self.token_dim), generator, device=cond.device, dtype=dtype)
        big = cond if scale == 1.0 else cond.cat(cond.null())
        r = 1 if scale == 1.0 else 2
        idx = self.schedule.respaced(steps)
        prepared: Any = self.net.prepare(big)  # once for all steps; its type is the network's own
        for j, i in enumerate(idx):
            i_prev = idx[j + 1] if j + 1 < len(idx) else -1
            tau = self.schedule.flow_time(torch.full((r * b,), i, device=cond.device)).to(dtype)
            out = self.net.predict(x.repeat(r, 1, 1), tau, prepared)
            if r == 1:
                eps = out
            else:
                v_cond, v_null = out.chunk(2)
                eps = cfg_combine(v_cond, v_null, scale)
            noise = randn(tuple(x.shape), generator, device=x.device, dtype=dtype) if eta > 0 and i_prev >= 0 else None
            x = self.schedule.step(x, eps, i, i_prev, eta, noise)
        return x
