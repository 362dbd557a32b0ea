"""Sinusoidal embeddings of continuous values: seconds on the shared time axis, flow time t in [0, 1].

``sinusoidal(x, dim, min_period, max_period)`` maps any real tensor ``x`` of shape ``(...)`` to
``(..., dim)``: ``dim // 2`` sines followed by ``dim // 2`` cosines whose periods are spaced
geometrically from ``min_period`` to ``max_period`` (in the units of ``x``); an odd ``dim`` gets one
trailing zero. Because the map is a fixed function of the *value*, two streams that share one unit
(video frame times and audio token times, both in seconds) get identical embeddings at the same
instant, which is what lets the cross-modal transformer line a frame up with the audio under it.

Period ranges used in the package (constants below):
  - seconds: 0.02 s .. 200 s. The shortest period is below the 0.08 s frame/token spacing of the
    presets, so neighbours are distinguishable; the longest is far above any clip length, so no two
    instants of a clip alias.
  - flow time t in [0, 1]: 1e-3 .. 10, which resolves the small steps of a 25..1000-step sampler.

``ValueEmbedding`` = sinusoid, then a two-layer MLP (Linear, SiLU, Linear) to the model width: the
usual timestep embedder of diffusion transformers, here for any continuous value.
"""

from __future__ import annotations

import math
from typing import cast

import torch
from torch import Tensor, nn

SECONDS_PERIODS = (0.02, 200.0)
FLOW_TIME_PERIODS = (1e-3, 10.0)


def sinusoidal(x: Tensor, dim: int, min_period: float, max_period: float) -> Tensor:
    """Embed real values ``x`` (...) as (..., dim) sines then cosines, periods min..max (geometric).

    Exact definition: with ``h = dim // 2`` and ``P_i = min_period * (max_period/min_period)**(i/(h-1))``
    (``P_0 = min_period`` when ``h == 1``), output ``[..., i] = sin(2 pi x / P_i)`` and
    ``[..., h + i] = cos(2 pi x / P_i)``.
    """
    if dim < 2:
        raise ValueError(f"sinusoidal embedding needs dim >= 2, got {dim}")
    if not (0 < min_period <= max_period):
        raise ValueError(f"need 0 < min_period <= max_period, got {min_period}, {max_period}")
    half = dim // 2
    i = torch.arange(half, device=x.device, dtype=torch.float64)
    ratio = max_period / min_period
    periods = min_period * ratio ** (i / max(half - 1, 1))
    freqs = (2 * math.pi / periods).to(torch.float32)  # (h,)
    angles = x.to(torch.float32).unsqueeze(-1) * freqs  # (..., h)
    out = torch.cat([angles.sin(), angles.cos()], dim=-1)  # (..., 2h)
    if dim % 2:
        out = torch.nn.functional.pad(out, (0, 1))
    return out


class ValueEmbedding(nn.Module):
    """Continuous value (...) -> (..., d): fixed sinusoid of ``freq_dim`` channels, then an MLP."""

    def __init__(self, dim: int, min_period: float, max_period: float, freq_dim: int = 128):
        super().__init__()
        self.freq_dim = freq_dim
        self.min_period = float(min_period)
        self.max_period = float(max_period)
        self.mlp = nn.Sequential(nn.Linear(freq_dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, x: Tensor) -> Tensor:
        """x (...) float -> (..., d)."""
        e = sinusoidal(x, self.freq_dim, self.min_period, self.max_period)
        return self.mlp(e.to(cast(nn.Linear, self.mlp[0]).weight.dtype))


def seconds_embedding(dim: int, freq_dim: int = 128) -> ValueEmbedding:
    """An embedder for times in seconds on the shared video/audio time axis."""
    return ValueEmbedding(dim, *SECONDS_PERIODS, freq_dim=freq_dim)


def flow_time_embedding(dim: int, freq_dim: int = 128) -> ValueEmbedding:
    """An embedder for the flow time t in [0, 1] (0 = noise, 1 = data)."""
    return ValueEmbedding(dim, *FLOW_TIME_PERIODS, freq_dim=freq_dim)
