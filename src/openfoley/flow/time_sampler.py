"""Flow-time samplers for training: which times t in (0, 1) the flow-matching loss is evaluated at.

Time convention: t=0 noise, t=1 data (``openfoley.flow.path``).

- ``uniform``: t ~ U[0, 1).
- ``logit_normal``: t = sigmoid(u), u ~ N(mean, std) (Esser et al. 2024, "SD3"); puts more weight on
  the middle of the path, where the velocity is hardest to predict. Default mean 0, std 1.

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


TIME_SAMPLERS = {"uniform": UniformTime, "logit_normal": LogitNormalTime}


def build_time_sampler(name: str) -> UniformTime | LogitNormalTime:
    """The sampler named by ``FlowConfig.time_sampler``."""
    try:
        return TIME_SAMPLERS[name]()
    except KeyError:
        raise ConfigError(f"flow.time_sampler must be one of {sorted(TIME_SAMPLERS)}, got {name!r}") from None
