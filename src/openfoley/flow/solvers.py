"""Stateless fixed-grid ODE solvers: integrate dx/dt = v(x, t) along an explicit time grid.

``integrate(velocity_fn, x0, grid, method)`` walks ``grid`` (g,) from ``grid[0]`` to ``grid[-1]`` and
returns the final state (or, with ``return_trajectory=True``, every state on the grid). The solver
knows nothing about networks, guidance or conditions: ``velocity_fn(x, t)`` takes the state (any
shape) and a 0-dim time tensor and returns a tensor of the state's shape. The generator wraps its
network (with CFG and refinement) in such a function. Time convention: t=0 noise, t=1 data
(``openfoley.flow.path``); a grid from 0 to 1 generates, a grid from 1 to 0 inverts.

Methods (global error order in the step size h):
  - ``euler``:    x + h v(x, t)                                                     order 1, 1 eval/step
  - ``midpoint``: x + h v(x + h/2 v(x, t), t + h/2)                                 order 2, 2 evals/step
  - ``heun``:     k1 = v(x, t), k2 = v(x + h k1, t + h), x + h/2 (k1 + k2)          order 2, 2 evals/step
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from openfoley.errors import ConfigError

VelocityFn = Callable[[Tensor, Tensor], Tensor]


@dataclass(frozen=True)
class Trajectory:
    """States along the grid: ``times`` (g,), ``states`` (g, *x0.shape); ``states[-1]`` is the result."""

    times: Tensor
    states: Tensor
    evals: int


def time_grid(steps: int, t0: float = 0.0, t1: float = 1.0, *, device: torch.device | str | None = None,
              dtype: torch.dtype = torch.float32) -> Tensor:
    """``steps + 1`` equally spaced times from ``t0`` to ``t1`` inclusive."""
    if steps < 1:
        raise ConfigError(f"the number of ODE steps must be >= 1, got {steps}")
    return torch.linspace(t0, t1, steps + 1, device=device, dtype=dtype)


def _euler(f: VelocityFn, x: Tensor, t: Tensor, h: Tensor) -> Tensor:
    return x + h * f(x, t)


def _midpoint(f: VelocityFn, x: Tensor, t: Tensor, h: Tensor) -> Tensor:
    half = h / 2
    return x + h * f(x + half * f(x, t), t + half)


def _heun(f: VelocityFn, x: Tensor, t: Tensor, h: Tensor) -> Tensor:
    k1 = f(x, t)
    k2 = f(x + h * k1, t + h)
    return x + (h / 2) * (k1 + k2)


STEPPERS = {"euler": (_euler, 1), "midpoint": (_midpoint, 2), "heun": (_heun, 2)}


def evals_per_step(method: str) -> int:
    """Velocity evaluations one step of ``method`` costs."""
    return _stepper(method)[1]


def _stepper(method: str):
    try:
        return STEPPERS[method]
    except KeyError:
        raise ConfigError(f"ODE solver must be one of {sorted(STEPPERS)}, got {method!r}") from None


def integrate(velocity_fn: VelocityFn, x0: Tensor, grid: Tensor, method: str = "euler",
              return_trajectory: bool = False) -> Tensor | Trajectory:
    """Integrate from ``x0`` at ``grid[0]`` to ``grid[-1]``; ``grid`` is (g,), g >= 2, strictly monotone."""
    step, per = _stepper(method)
    if grid.dim() != 1 or grid.numel() < 2:
        raise ValueError(f"grid must be 1-D with at least 2 times, got shape {tuple(grid.shape)}")
    d = grid[1:] - grid[:-1]
    if not (bool((d > 0).all()) or bool((d < 0).all())):
        raise ValueError("grid must be strictly increasing or strictly decreasing")
    grid = grid.to(device=x0.device, dtype=x0.dtype)
    x = x0
    states = [x0] if return_trajectory else None
    for i in range(grid.numel() - 1):
        t, h = grid[i], grid[i + 1] - grid[i]
        x = step(velocity_fn, x, t, h)
        if states is not None:
            states.append(x)
    if states is not None:
        return Trajectory(times=grid, states=torch.stack(states), evals=per * (grid.numel() - 1))
    return x
