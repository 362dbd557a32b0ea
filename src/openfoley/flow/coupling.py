"""Conditional affine-coupling normalizing flow (``FlowConfig.kind = "coupling"``; Eq. 6 and 8).

A bijection f: x (b, n, p*f) -> z (b, n, p*f) built from ``coupling_layers`` affine couplings. Each layer
keeps half of the (permuted) features of every token, x_a, and transforms the other half elementwise:

    z_b = x_b * exp(s) + m,   (s, m) = NN([x_a, c])

where NN is a small 1-D conv network over the token axis (kernel 3, ``coupling_width`` channels) and c is
the time-aligned video condition (b, n, d): the video enters every layer. Which half is kept alternates
from layer to layer, and each layer first applies its own fixed random permutation of the features, so
every feature is transformed and mixed. s = a * tanh(raw) with a learned per-feature bound a keeps the
scales finite. The last conv is zero-initialised, so a fresh flow is the identity (up to permutations).

Exact log-likelihood (Eq. 6, 8): log p(x | c) = log N(f(x); mu, I) + sum_layers sum s, since each
layer's Jacobian is triangular with diagonal exp(s) (permutations have |det| 1). The loss is the
negative log-likelihood in nats per dimension. Sampling draws z ~ N(mu, I) and runs the exact inverse.
mu = 0 here; the vanilla flow (``openfoley.flow.nf``) learns mu from the video instead.

Exact-likelihood flows have no time, solver or guidance: ``sample`` accepts ``steps``, ``solver`` and
``cfg_scale`` for the common interface and ignores them (one pass through the inverse is the sampler),
and ``cond.drop`` is not used (no null condition: CFG is a property of the ODE/diffusion variants).
"""

from __future__ import annotations

import math
from typing import cast

import torch
from torch import Tensor, nn

from openfoley.config import Config
from openfoley.flow.base import FlowCondition, FlowLoss, Generator, randn
from openfoley.nn.blocks import zero_init


class AffineCoupling(nn.Module):
    """One permute-then-couple layer: x (b, n, dim), c (b, n, cond_dim) or None -> (z, logdet (b,))."""

    perm: Tensor  # buffers (dim,)
    inv_perm: Tensor
    keep: Tensor  # bool, True = passed through unchanged

    def __init__(self, dim: int, cond_dim: int, width: int, parity: int, seed: int):
        super().__init__()
        if dim < 2:
            raise ValueError(f"a coupling layer needs at least 2 features, got {dim}")
        self.dim, self.cond_dim = dim, cond_dim
        g = torch.Generator().manual_seed(seed)  # fixed, reproducible permutation (saved as a buffer)
        perm = torch.randperm(dim, generator=g)
        self.register_buffer("perm", perm)
        self.register_buffer("inv_perm", torch.argsort(perm))
        keep = torch.zeros(dim, dtype=torch.bool)
        half = dim // 2
        if parity % 2 == 0:
            keep[:half] = True
        else:
            keep[half:] = True
        self.register_buffer("keep", keep)
        # created in layer order: the seeded initialisation depends on it
        first, mid, last = (nn.Conv1d(dim + cond_dim, width, 3, padding=1), nn.Conv1d(width, width, 1),
                            nn.Conv1d(width, 2 * dim, 3, padding=1))
        self.net = nn.Sequential(first, nn.GELU(), mid, nn.GELU(), last)
        zero_init(last)
        self.bound = nn.Parameter(torch.ones(dim))

    def _scale_shift(self, kept: Tensor, c: Tensor | None) -> tuple[Tensor, Tensor]:
        """kept (b, n, dim) with transformed features zeroed -> s, m (b, n, dim), zero on kept features."""
        h = kept if c is None else torch.cat([kept, c], -1)  # (b, n, dim + dc)
        raw = self.net(h.transpose(1, 2)).transpose(1, 2)  # (b, n, 2 dim)
        s_raw, m = raw.chunk(2, -1)
        free = (~self.keep).to(kept.dtype)
        return self.bound * torch.tanh(s_raw) * free, m * free

    def _check(self, x: Tensor, c: Tensor | None) -> None:
        if x.dim() != 3 or x.shape[-1] != self.dim:
            raise ValueError(f"coupling input must be (b, n, {self.dim}), got {tuple(x.shape)}")
        if (c is None) != (self.cond_dim == 0) or (c is not None and tuple(c.shape) != (*x.shape[:2], self.cond_dim)):
            raise ValueError(f"coupling condition must be {'None' if self.cond_dim == 0 else (*x.shape[:2], self.cond_dim)}"
                             f", got {None if c is None else tuple(c.shape)}")

    def forward(self, x: Tensor, c: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Data direction -> noise direction: returns z (b, n, dim) and log|det dz/dx| (b,)."""
        self._check(x, c)
        x = x[..., self.perm]
        kept = x * self.keep.to(x.dtype)
        s, m = self._scale_shift(kept, c)
        z = kept + (x * torch.exp(s) + m) * (~self.keep).to(x.dtype)
        return z, s.sum(dim=(1, 2))

    def inverse(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        """Exact inverse of ``forward``: z (b, n, dim) -> x (b, n, dim)."""
        self._check(z, c)
        kept = z * self.keep.to(z.dtype)
        s, m = self._scale_shift(kept, c)
        x = kept + ((z - m) * torch.exp(-s)) * (~self.keep).to(z.dtype)
        return x[..., self.inv_perm]


class CouplingFlow(nn.Module):
    """A stack of ``layers`` AffineCouplings with alternating halves; video enters each layer if cond_dim > 0."""

    def __init__(self, dim: int, cond_dim: int, width: int, layers: int):
        super().__init__()
        self.layers = nn.ModuleList(AffineCoupling(dim, cond_dim, width, parity=i, seed=1000 + i)
                                    for i in range(layers))

    def forward(self, x: Tensor, c: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """x (b, n, dim) -> z (b, n, dim), log|det| (b,)."""
        logdet = torch.zeros(x.shape[0], device=x.device, dtype=x.dtype)
        for layer in self.layers:
            x, ld = layer(x, c)
            logdet = logdet + ld
        return x, logdet

    def inverse(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        """z (b, n, dim) -> x (b, n, dim)."""
        for layer in reversed(self.layers):
            z = cast(AffineCoupling, layer).inverse(z, c)
        return z


def gaussian_log_prob(z: Tensor, mu: Tensor | float = 0.0) -> Tensor:
    """log N(z; mu, I) summed over all but the batch dimension: z (b, ...) -> (b,)."""
    return (-0.5 * ((z - mu) ** 2 + math.log(2 * math.pi))).flatten(1).sum(1)


class CouplingGenerator(Generator):
    """Exact-likelihood generator: a ``CouplingFlow`` and a Gaussian prior N(mu(c), I).

    ``cond_in_layers``: feed the aligned video tokens to every coupling layer (this file's variant).
    ``cond_prior``: learn the prior mean per token from the video (the vanilla flow of ``nf.py``).
    """

    def __init__(self, token_dim: int, cond_dim: int, width: int, layers: int, *,
                 cond_in_layers: bool = True, cond_prior: bool = False):
        super().__init__()
        self.token_dim, self.cond_dim = token_dim, cond_dim
        self.cond_in_layers, self.cond_prior = cond_in_layers, cond_prior
        self.flow = CouplingFlow(token_dim, cond_dim if cond_in_layers else 0, width, layers)
        self.prior_mean = None
        if cond_prior:
            self.prior_mean = nn.Linear(cond_dim, token_dim)
            zero_init(self.prior_mean)

    @classmethod
    def from_config(cls, cfg: Config) -> CouplingGenerator:
        f = cfg.flow
        return cls(cfg.audio_token_dim, cfg.cond_dim, f.coupling_width, f.coupling_layers,
                   cond_in_layers=True, cond_prior=False)

    def _layer_cond(self, cond: FlowCondition) -> Tensor | None:
        return cond.tokens if self.cond_in_layers else None

    def _mu(self, cond: FlowCondition) -> Tensor | float:
        return self.prior_mean(cond.tokens) if self.prior_mean is not None else 0.0

    def log_prob(self, x1: Tensor, cond: FlowCondition) -> Tensor:
        """Exact log p(x1 | c) in nats, (b,)."""
        self.check_x1(x1, cond)
        z, logdet = self.flow(x1, self._layer_cond(cond))
        return gaussian_log_prob(z, self._mu(cond)) + logdet

    def loss(self, x1: Tensor, cond: FlowCondition, generator: torch.Generator) -> FlowLoss:
        """Negative log-likelihood in nats per dimension (deterministic: ``generator`` is unused)."""
        nll = -self.log_prob(x1, cond) / x1[0].numel()  # (b,)
        return FlowLoss(loss=nll.mean(), per_bin=None)

    @torch.no_grad()
    def sample(self, cond: FlowCondition, generator: torch.Generator, steps: int | None = None,
               solver: str | None = None, cfg_scale: float | None = None) -> Tensor:
        """x1 = f^{-1}(z), z ~ N(mu(c), I) drawn with ``generator``; steps/solver/cfg_scale are unused."""
        b, n, _ = cond.tokens.shape
        dtype = next(self.parameters()).dtype
        z = randn((b, n, self.token_dim), generator, device=cond.device, dtype=dtype) + self._mu(cond)
        return self.flow.inverse(z, self._layer_cond(cond))
