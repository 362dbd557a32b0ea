"""The generator interface every MFG variant implements, its condition and its loss record.

A generator models the normalised audio latent ``x1`` (b, n, p*f) given a ``FlowCondition``:

    tokens     (b, n, d)  video features aligned to each audio token's instant (one per audio token)
    keys       (b, k, d)  key-frame features (the selective frame conditioning)
    key_times  (b, k)     key-frame timestamps in seconds (their true times, so sync survives)
    key_mask   (b, k)     bool, True = valid key frame
    drop       (b,)       bool, True = this example uses the learned null condition (CFG)

The null condition is not a tensor the caller builds: the network owns learned null vectors and
substitutes them where ``drop`` is True (``FlowCondition.null`` / ``FlowCondition.dropout``).

``Generator.from_config(cfg)``, ``Generator.loss(x1, cond, generator) -> FlowLoss`` and
``Generator.sample(cond, generator, steps=None, solver=None, cfg_scale=None) -> x1`` are the whole
interface (plus the ``supports_inpainting`` and ``supports_guidance`` flags); ``openfoley.flow.build_generator`` picks the variant
from ``FlowConfig.kind``.
"""

from __future__ import annotations

import abc
import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn

from openfoley.config import Config


def randn(shape: tuple[int, ...], generator: torch.Generator, *, device: torch.device | str | None = None,
          dtype: torch.dtype = torch.float32) -> Tensor:
    """Standard normal draw from ``generator`` (on the generator's device), moved to ``device``."""
    x = torch.randn(shape, generator=generator, device=generator.device, dtype=dtype)
    return x.to(device) if device is not None else x


def rand(shape: tuple[int, ...], generator: torch.Generator, *, device: torch.device | str | None = None,
         dtype: torch.dtype = torch.float32) -> Tensor:
    """Uniform [0, 1) draw from ``generator`` (on the generator's device), moved to ``device``."""
    x = torch.rand(shape, generator=generator, device=generator.device, dtype=dtype)
    return x.to(device) if device is not None else x


@dataclass(frozen=True, eq=False)
class FlowCondition:
    """What the generator is conditioned on (shapes in the module docstring). No ``==``: tensors."""

    tokens: Tensor
    keys: Tensor
    key_times: Tensor
    key_mask: Tensor
    drop: Tensor | None = None

    def __post_init__(self) -> None:
        b, n, d = self.tokens.shape
        if self.keys.dim() != 3 or self.keys.shape[0] != b or self.keys.shape[2] != d:
            raise ValueError(f"keys must be (b={b}, k, d={d}), got {tuple(self.keys.shape)}")
        k = self.keys.shape[1]
        if tuple(self.key_times.shape) != (b, k):
            raise ValueError(f"key_times must be (b={b}, k={k}), got {tuple(self.key_times.shape)}")
        if tuple(self.key_mask.shape) != (b, k) or self.key_mask.dtype != torch.bool:
            raise ValueError(f"key_mask must be bool (b={b}, k={k}), got {self.key_mask.dtype} "
                             f"{tuple(self.key_mask.shape)}")
        if self.drop is not None and (tuple(self.drop.shape) != (b,) or self.drop.dtype != torch.bool):
            raise ValueError(f"drop must be bool (b={b},), got {self.drop.dtype} {tuple(self.drop.shape)}")

    @property
    def batch(self) -> int:
        return self.tokens.shape[0]

    @property
    def device(self) -> torch.device:
        return self.tokens.device

    def dropped(self) -> Tensor:
        """(b,) bool: which examples use the null condition (all False when ``drop`` is None)."""
        if self.drop is None:
            return torch.zeros(self.batch, dtype=torch.bool, device=self.device)
        return self.drop

    def null(self) -> FlowCondition:
        """The same condition with every example switched to the learned null condition."""
        return dataclasses.replace(self, drop=torch.ones(self.batch, dtype=torch.bool, device=self.device))

    def dropout(self, p: float, generator: torch.Generator) -> FlowCondition:
        """Switch each example to the null condition with probability ``p`` (CFG training)."""
        if p <= 0:
            return self
        drop = rand((self.batch,), generator, device=self.device) < p
        return dataclasses.replace(self, drop=self.dropped() | drop)

    def cat(self, *others: FlowCondition) -> FlowCondition:
        """Concatenate along the batch (used to run cond and null branches in one forward)."""
        allc = (self, *others)
        return FlowCondition(
            tokens=torch.cat([c.tokens for c in allc]),
            keys=torch.cat([c.keys for c in allc]),
            key_times=torch.cat([c.key_times for c in allc]),
            key_mask=torch.cat([c.key_mask for c in allc]),
            drop=torch.cat([c.dropped() for c in allc]),
        )


@dataclass
class FlowLoss:
    """One training step's objective.

    ``loss``: the scalar to back-propagate. ``per_bin``: (bins,) mean loss of the examples whose flow
    time falls in each of ``bins`` equal bins of [0, 1] (t=0 noise, t=1 data; NaN where a bin is empty),
    for logging only; None for the exact-likelihood flows, which have no time.
    """

    loss: Tensor
    per_bin: Tensor | None = None


def binned_mean(values: Tensor, t: Tensor, bins: int = 4) -> Tensor:
    """(bins,) mean of per-example ``values`` (b,) grouped by time ``t`` (b,) in [0, 1]; NaN if empty."""
    idx = (t.detach().clamp(0, 1) * bins).long().clamp(max=bins - 1)
    v = values.detach().float()
    sums = torch.zeros(bins, device=v.device).index_add_(0, idx, v)
    counts = torch.zeros(bins, device=v.device).index_add_(0, idx, torch.ones_like(v))
    return torch.where(counts > 0, sums / counts.clamp(min=1), torch.full_like(sums, float("nan")))


class Generator(nn.Module, abc.ABC):
    """A conditional generative model of audio latents x1 (b, n, p*f); see the module docstring."""

    token_dim: int  # p*f
    # True where ``sample`` also takes ``known`` (b, n, p*f) and ``known_mask`` (b, n) bool and holds those
    # tokens on its path (inpainting: the pipeline continues the previous window's overlap with it)
    supports_inpainting: ClassVar[bool] = False
    # True where ``sample`` also takes ``guide`` (x1 (b, n, p*f) -> scalar) and ``guide_scale`` and lowers
    # the guide along the way (gradient guidance on the predicted data; CFM's ``guided_fn``)
    supports_guidance: ClassVar[bool] = False

    @classmethod
    @abc.abstractmethod
    def from_config(cls, cfg: Config) -> Generator:
        """A freshly initialised generator for ``cfg.flow`` (``openfoley.flow.build_generator`` calls it)."""

    @abc.abstractmethod
    def loss(self, x1: Tensor, cond: FlowCondition, generator: torch.Generator) -> FlowLoss:
        """Training objective on a batch of data latents ``x1`` (b, n, p*f)."""

    @abc.abstractmethod
    def sample(self, cond: FlowCondition, generator: torch.Generator, steps: int | None = None,
               solver: str | None = None, cfg_scale: float | None = None) -> Tensor:
        """Draw x1 (b, n, p*f) for ``cond``; None arguments take the config's values."""

    def check_x1(self, x1: Tensor, cond: FlowCondition) -> None:
        """Assert x1 is (b, n, p*f) and matches the condition's batch and token count."""
        b, n, _ = cond.tokens.shape
        if x1.dim() != 3 or tuple(x1.shape) != (b, n, self.token_dim):
            raise ValueError(f"x1 must be (b={b}, n={n}, p*f={self.token_dim}) to match the condition, "
                             f"got {tuple(x1.shape)}")
