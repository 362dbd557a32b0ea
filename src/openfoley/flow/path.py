"""The probability path of conditional flow matching and THE time convention of the package.

Time convention (written here once; every sampler and generator in ``openfoley.flow`` follows it):

    t = 0 is noise (x0 ~ N(0, I)),  t = 1 is data (x1, the normalised audio latent).

Path (conditional optimal transport with a floor sigma_min, Lipman et al. 2023):

    x_t = (1 - (1 - sigma_min) t) x0 + t x1
    u_t = d/dt x_t = x1 - (1 - sigma_min) x0          (the target velocity, constant in t)

At t=0 the path returns the noise exactly; at t=1 it returns x1 + sigma_min x0 (exactly x1 when
sigma_min = 0, the default). The DDPM variant keeps its own index convention internally (Eq. 1-2) and
converts to this one wherever it meets shared code (``openfoley.flow.ddpm``).

Shapes: x0, x1, x_t, u_t are (b, ...) with t (b,) broadcast over the trailing dimensions.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor


@dataclass(frozen=True)
class PathSample:
    """A point on the path: ``x_t`` and the target velocity ``u_t`` at times ``t`` (b,)."""

    t: Tensor
    x_t: Tensor
    u_t: Tensor


def _expand(t: Tensor, like: Tensor) -> Tensor:
    """(b,) -> (b, 1, ..., 1) matching ``like``'s rank."""
    if t.dim() != 1 or t.shape[0] != like.shape[0]:
        raise ValueError(f"t must be (b={like.shape[0]},), got {tuple(t.shape)}")
    return t.reshape(-1, *([1] * (like.dim() - 1))).to(like.dtype)


@dataclass(frozen=True)
class CondOTPath:
    """x_t = (1 - (1 - sigma_min) t) x0 + t x1 with t=0 noise and t=1 data."""

    sigma_min: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.sigma_min < 1.0:
            raise ValueError(f"sigma_min must be in [0, 1), got {self.sigma_min}")

    def sample(self, x0: Tensor, x1: Tensor, t: Tensor) -> PathSample:
        """x_t and u_t for noise ``x0`` (b, ...), data ``x1`` (b, ...), times ``t`` (b,)."""
        if x0.shape != x1.shape:
            raise ValueError(f"x0 {tuple(x0.shape)} and x1 {tuple(x1.shape)} must have the same shape")
        tt = _expand(t, x1)
        x_t = (1 - (1 - self.sigma_min) * tt) * x0 + tt * x1
        u_t = x1 - (1 - self.sigma_min) * x0
        return PathSample(t=t, x_t=x_t, u_t=u_t)

    def x1_from_velocity(self, x_t: Tensor, v: Tensor, t: Tensor) -> Tensor:
        """Data estimate implied by a velocity prediction ``v`` at ``x_t``: solves the two path
        equations for x1 (exact when ``v`` is the true conditional velocity)."""
        tt = _expand(t, x_t)
        a = 1 - self.sigma_min
        # x0 = (x1 - v) / a  =>  x_t = (1 - a t)(x1 - v) / a + t x1 = x1 / a - (1 - a t) v / a
        return a * x_t + (1 - a * tt) * v
