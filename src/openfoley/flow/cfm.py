"""Conditional flow matching (CFM), the default MFG generator (``FlowConfig.kind = "cfm"``).

Training (sec. 3.3): x0 ~ N(0, I), t from the time sampler, x_t and u_t from ``CondOTPath``
(t=0 noise, t=1 data), the condition switched to the learned null with probability ``cond_dropout``;
loss = mean ||v_theta(x_t, t | c) - u_t||^2. The loss is also reported in 4 equal flow-time bins.

Sampling: integrate dx/dt = v(x, t) from noise at t=0 to data at t=1 on a uniform grid of ``steps``
steps with a stateless solver (``openfoley.flow.solvers``). The velocity at each evaluation is

    v = v_uncond + s (v_cond - v_uncond)  [+ lambda (v_local - v_uncond)  when refine is on]

with s = ``cfg_scale`` and lambda = ``refine_scale``. ``v_local`` is the Eq. 7 refinement of the paper,
in the reading of docs/flow.md: the velocity when each audio token sees only the ``refine_neighbors``
key frames nearest its own instant (plus its aligned token). All branches run in one batched forward.
So that ``v_local`` is in distribution, training shows the same local key visibility to a fraction
``cond_dropout`` of the examples when refine is on.

Shapes: x1 (b, n, p*f); cond as in ``openfoley.flow.base``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from openfoley.config import Config
from openfoley.flow.base import FlowCondition, FlowLoss, Generator, binned_mean, rand, randn
from openfoley.flow.guidance import guided_velocity
from openfoley.flow.path import CondOTPath
from openfoley.flow.solvers import Trajectory, integrate, time_grid
from openfoley.flow.time_sampler import build_time_sampler
from openfoley.flow.unet import ConvVelocityNet, build_velocity_net
from openfoley.flow.velocity import VelocityNet, token_times


def nearest_keys(n: int, token_seconds: float, key_times: Tensor, key_mask: Tensor, neighbors: int) -> Tensor:
    """(b, n, k) bool: for each audio token, its ``neighbors`` valid key frames nearest in time.

    key_times (b, k) seconds, key_mask (b, k) bool. Ties go to the earlier key frame. A clip with
    fewer valid key frames than ``neighbors`` gets all of them.
    """
    b, k = key_times.shape
    tt = token_times(n, token_seconds, key_times.device)  # (n,)
    dist = (tt[None, :, None] - key_times[:, None, :].float()).abs()  # (b, n, k)
    dist = dist.masked_fill(~key_mask[:, None, :], float("inf"))
    j = min(max(neighbors, 1), k)
    # Ties to the earlier key frame whatever the top-k does with them (torch's and ONNX Runtime's differ):
    # 1e-9 s per key index, in float64, far below any real difference of times.
    order = torch.arange(k, device=key_times.device, dtype=torch.float64)
    idx = (dist.double() + 1e-9 * order).topk(j, dim=-1, largest=False).indices  # (b, n, j)
    near = (idx[..., None] == torch.arange(k, device=key_times.device)).any(-2)  # (b, n, k): one-hot of idx
    return near & key_mask[:, None, :]


class CFMGenerator(Generator):
    """Flow matching generator around a ``VelocityNet``; see the module docstring."""

    supports_inpainting = True  # sample(known=..., known_mask=...) keeps those tokens on the path
    supports_guidance = True  # sample(guide=..., guide_scale=...): gradient guidance on the predicted data

    def __init__(self, net: VelocityNet | ConvVelocityNet, *, sigma_min: float = 0.0, time_sampler: str = "logit_normal",
                 cond_dropout: float = 0.1, steps: int = 16, solver: str = "euler", cfg_scale: float = 2.0,
                 refine: bool = True, refine_scale: float = 0.5, refine_neighbors: int = 1,
                 time_low_share: float = 0.0, time_low_max: float = 0.1):
        super().__init__()
        self.net = net
        self.token_dim = net.token_dim
        self.path = CondOTPath(sigma_min)
        self.time_sampler = build_time_sampler(time_sampler, time_low_share, time_low_max)
        self.cond_dropout = cond_dropout
        self.steps, self.solver, self.cfg_scale = steps, solver, cfg_scale
        self.refine, self.refine_scale, self.refine_neighbors = refine, refine_scale, refine_neighbors

    @classmethod
    def from_config(cls, cfg: Config) -> CFMGenerator:
        f = cfg.flow
        net = build_velocity_net(cfg)
        return cls(net, sigma_min=f.sigma_min, time_sampler=f.time_sampler, cond_dropout=f.cond_dropout,
                   steps=f.steps, solver=f.solver, cfg_scale=f.cfg_scale, refine=f.refine,
                   refine_scale=f.refine_scale, refine_neighbors=f.refine_neighbors,
                   time_low_share=f.time_low_share, time_low_max=f.time_low_max)

    def local_visibility(self, cond: FlowCondition) -> Tensor:
        """(b, n, k) key frames each token sees in the Eq. 7 local branch."""
        return nearest_keys(cond.tokens.shape[1], self.net.token_seconds, cond.key_times, cond.key_mask,
                            self.refine_neighbors)

    def loss(self, x1: Tensor, cond: FlowCondition, generator: torch.Generator) -> FlowLoss:
        """Flow-matching loss on data latents x1 (b, n, p*f)."""
        self.check_x1(x1, cond)
        b = x1.shape[0]
        x0 = randn(tuple(x1.shape), generator, device=x1.device, dtype=x1.dtype)
        t = self.time_sampler(b, generator, device=x1.device)
        cond = cond.dropout(self.cond_dropout, generator)
        vis = None
        if self.refine:
            use_local = rand((b,), generator, device=x1.device) < self.cond_dropout  # (b,)
            vis = self.local_visibility(cond) | ~use_local[:, None, None]  # (b, n, k)
        ps = self.path.sample(x0, x1, t)
        v = self.net(ps.x_t, t, cond, key_visibility=vis)
        per_example = (v.float() - ps.u_t.float()).pow(2).mean(dim=(1, 2))  # (b,)
        loss = per_example.mean()
        return FlowLoss(loss=loss, per_bin=binned_mean(per_example, t))

    def branches(self, cond: FlowCondition, need_uncond: bool, refine: bool) -> tuple[FlowCondition, Tensor | None]:
        """The condition of every branch one velocity evaluation runs, batched: [cond] (+ [null] when
        ``need_uncond``) (+ [cond with the Eq. 7 local key visibility] when ``refine``), and that key
        visibility (r*b, n, k) (None without refine). ``lite.export`` exports all three."""
        b, n, _ = cond.tokens.shape
        k = cond.keys.shape[1]
        branches = [cond] + ([cond.null()] if need_uncond else [])
        vis = None
        if refine:
            branches.append(cond)
            full = torch.ones((len(branches) - 1) * b, n, k, dtype=torch.bool, device=cond.device)
            vis = torch.cat([full, self.local_visibility(cond)])  # (r*b, n, k)
        return (branches[0].cat(*branches[1:]) if len(branches) > 1 else cond), vis

    def velocity_fn(self, cond: FlowCondition, cfg_scale: float, refine: bool):
        """(x (b, n, p*f), t 0-dim) -> guided velocity (b, n, p*f), for ``integrate``."""
        b = cond.tokens.shape[0]
        need_uncond = cfg_scale != 1.0 or refine
        big, vis = self.branches(cond, need_uncond, refine)
        r = big.tokens.shape[0] // b
        prepared: Any = self.net.prepare(big, vis)  # once for all steps; its type is the network's own

        def fn(x: Tensor, t: Tensor) -> Tensor:
            out = self.net.predict(x.repeat(r, 1, 1), t.expand(r * b).to(x.dtype), prepared)
            parts = out.chunk(r)  # r x (b, n, p*f)
            if not need_uncond:
                return parts[0]
            return guided_velocity(parts[0], parts[1], cfg_scale, parts[2] if refine else None,
                                   self.refine_scale)

        return fn

    @staticmethod
    def guided_fn(fn, guide: Callable[[Tensor], Tensor], scale: float):
        """Gradient guidance on the predicted data: v' = v - scale * d guide(x1_hat) / d x1_hat.

        ``x1_hat = x + (1 - t) v`` is where the straight path from the current state would land; ``guide``
        maps it (b, n, p*f) to a scalar to lower (a sum over the batch, so each clip gets its own
        gradient). Summed over an Euler integration the correction moves the sample by about
        -scale * (the time-average of that gradient); no gradient goes through the network.
        """

        def out(x: Tensor, t: Tensor) -> Tensor:
            v = fn(x, t)
            with torch.enable_grad():
                x1 = (x + (1 - t) * v).detach().requires_grad_(True)
                (g,) = torch.autograd.grad(guide(x1), x1)
            return v - scale * g

        return out

    @torch.no_grad()
    def sample(self, cond: FlowCondition, generator: torch.Generator, steps: int | None = None,
               solver: str | None = None, cfg_scale: float | None = None, refine: bool | None = None,
               return_trajectory: bool = False, known: Tensor | None = None, known_mask: Tensor | None = None,
               guide: Callable[[Tensor], Tensor] | None = None, guide_scale: float = 0.0):
        """x1 (b, n, p*f) from noise drawn with ``generator``; None arguments take the config's values.

        ``guide``/``guide_scale``: gradient guidance on the predicted data (``guided_fn``), off when
        either is missing or zero.

        Inpainting (how ``openfoley.pipeline`` carries a long video's sound across windows): ``known``
        (b, n, p*f) and ``known_mask`` (b, n) bool, True = known token. Every velocity evaluation sees the
        known tokens at their path point x_t = path(x0, known, t) between this sample's own noise x0 and
        ``known`` (``CondOTPath``; t=0 noise, t=1 data), and moves them with the path's velocity, so the
        unknown tokens are generated in their context; the result holds ``known`` exactly there.
        """
        steps = self.steps if steps is None else steps
        solver = self.solver if solver is None else solver
        cfg_scale = self.cfg_scale if cfg_scale is None else cfg_scale
        refine = (self.refine if refine is None else refine) and self.refine_scale != 0.0
        b, n, _ = cond.tokens.shape
        dtype = next(self.net.parameters()).dtype
        x0 = randn((b, n, self.token_dim), generator, device=cond.device, dtype=dtype)
        grid = time_grid(steps, device=cond.device, dtype=dtype)
        fn = self.velocity_fn(cond, cfg_scale, refine)
        if guide is not None and guide_scale != 0.0:
            fn = self.guided_fn(fn, guide, guide_scale)
        if known is None and known_mask is None:
            return integrate(fn, x0, grid, solver, return_trajectory=return_trajectory)
        if known is None or known_mask is None:
            raise ValueError("inpainting needs both known and known_mask")
        if tuple(known.shape) != tuple(x0.shape) or tuple(known_mask.shape) != (b, n) or known_mask.dtype != torch.bool:
            raise ValueError(f"known must be (b={b}, n={n}, p*f={self.token_dim}) and known_mask bool (b, n), got "
                             f"{tuple(known.shape)} and {known_mask.dtype} {tuple(known_mask.shape)}")
        known, m = known.to(device=x0.device, dtype=dtype), known_mask.to(x0.device)[..., None]  # m (b, n, 1)

        def on_path(t: Tensor) -> tuple[Tensor, Tensor]:
            ps = self.path.sample(x0, known, t.reshape(1).expand(b).to(dtype))
            return ps.x_t, ps.u_t

        def inpainted(x: Tensor, t: Tensor) -> Tensor:
            x_t, u_t = on_path(t)
            return torch.where(m, u_t, fn(torch.where(m, x_t, x), t))

        out = integrate(inpainted, x0, grid, solver, return_trajectory=return_trajectory)
        if not isinstance(out, Trajectory):  # return_trajectory=False
            return torch.where(m, known, out)
        states = torch.stack([torch.where(m, on_path(t)[0], s) for t, s in zip(out.times, out.states, strict=True)])
        states[-1] = torch.where(m, known, states[-1])
        return Trajectory(times=out.times, states=states, evals=out.evals)
