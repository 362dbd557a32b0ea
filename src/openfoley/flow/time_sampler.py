"""Flow-time samplers for training: which times t in (0, 1) the flow-matching loss is evaluated at.

Time convention: t=0 noise, t=1 data (``openfoley.flow.path``).

- ``uniform``: t ~ U[0, 1).
- ``logit_normal``: t = sigmoid(u), u ~ N(mean, std) (Esser et al. 2024, "SD3"); puts more weight on
  the middle of the path, where the velocity is hardest to predict. Default mean 0, std 1.
- either, with ``low_share`` > 0 (``flow.time_low_share``): that share of the draws taken uniformly from
  [0, low_max) instead (``LowMix``). Logit-normal almost never draws the start of the path (P(t < 0.02)
  = 5e-5), yet a sampler's first step at t = 0 is where the clip-wide sound is decided
  (docs/sync-diagnosis.md part 24).

Every sampler takes an explicit ``torch.Generator`` and returns (b,) times on ``device``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from openfoley.errors import ConfigError
from openfoley.flow.base import rand, randn


@dataclass(frozen=True)
class UniformTime:
    """t ~ U[0, 1)."""

    def __call__(self, b: int, generator: torch.Generator, device: torch.device | str | None = None) -> Tensor:
        return rand((b,), generator, device=device)


@dataclass(frozen=True)
class LogitNormalTime:
    """t = sigmoid(u), u ~ N(mean, std): density on (0, 1) with median sigmoid(mean)."""

    mean: float = 0.0
    std: float = 1.0

    def __call__(self, b: int, generator: torch.Generator, device: torch.device | str | None = None) -> Tensor:
        return torch.sigmoid(self.mean + self.std * randn((b,), generator, device=device))


@dataclass(frozen=True)
class LowMix:
    """``base``'s draws, each replaced with probability ``share`` by t ~ U[0, low_max)."""

    base: UniformTime | LogitNormalTime
    share: float
    low_max: float

    def __call__(self, b: int, generator: torch.Generator, device: torch.device | str | None = None) -> Tensor:
        t = self.base(b, generator, device)
        low = rand((b,), generator, device=device) * self.low_max
        pick = rand((b,), generator, device=device) < self.share
        return torch.where(pick, low, t)


TIME_SAMPLERS = {"uniform": UniformTime, "logit_normal": LogitNormalTime}


def build_time_sampler(name: str, low_share: float = 0.0, low_max: float = 0.1) -> UniformTime | LogitNormalTime | LowMix:
    """The sampler named by ``FlowConfig.time_sampler``, mixed with U[0, low_max) at ``low_share``."""
    try:
        base = TIME_SAMPLERS[name]()
    except KeyError:
        raise ConfigError(f"flow.time_sampler must be one of {sorted(TIME_SAMPLERS)}, got {name!r}") from None
    if not (0.0 <= low_share <= 1.0 and 0.0 < low_max <= 1.0):
        raise ConfigError(f"flow.time_low_share must be in [0, 1] and flow.time_low_max in (0, 1], got "
                          f"{low_share} and {low_max}")
    return LowMix(base, low_share, low_max) if low_share > 0 else base
