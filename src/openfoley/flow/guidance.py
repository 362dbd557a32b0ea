"""Classifier-free guidance and the Eq. 7 refinement term, as pure functions of velocities.

Classifier-free guidance (Ho & Salimans 2022), applied to velocities (or epsilons, for DDPM):

    v = v_uncond + s (v_cond - v_uncond)

s = 1 returns the conditional output exactly, s = 0 the unconditional one, s > 1 extrapolates.

Eq. 7 refinement (the reading in docs/flow.md): an extra term lambda * (v_local - v_uncond), where
``v_local`` is the velocity conditioned only on the key frames nearest each audio token's instant. It is
added to the guided velocity, so each ODE step moves z by h * lambda * g(v_t) on top of its usual update.

All tensors share one shape (b, n, p*f); nothing here is stochastic or learned.
"""

from __future__ import annotations

from torch import Tensor


def cfg_combine(v_cond: Tensor, v_uncond: Tensor, scale: float) -> Tensor:
    """v_uncond + scale * (v_cond - v_uncond); ``scale == 1`` returns ``v_cond`` itself."""
    if v_cond.shape != v_uncond.shape:
        raise ValueError(f"v_cond {tuple(v_cond.shape)} and v_uncond {tuple(v_uncond.shape)} differ in shape")
    if scale == 1.0:
        return v_cond
    return v_uncond + scale * (v_cond - v_uncond)


def refine_term(v_local: Tensor, v_uncond: Tensor) -> Tensor:
    """g(v_t) of Eq. 7: the direction the locally aligned key frames pull in, relative to no video."""
    if v_local.shape != v_uncond.shape:
        raise ValueError(f"v_local {tuple(v_local.shape)} and v_uncond {tuple(v_uncond.shape)} differ in shape")
    return v_local - v_uncond


def guided_velocity(v_cond: Tensor, v_uncond: Tensor, scale: float, v_local: Tensor | None = None,
                    refine_scale: float = 0.0) -> Tensor:
    """CFG combine plus, when ``v_local`` is given, ``refine_scale * refine_term(v_local, v_uncond)``."""
    v = cfg_combine(v_cond, v_uncond, scale)
    if v_local is not None and refine_scale != 0.0:
        v = v + refine_scale * refine_term(v_local, v_uncond)
    return v
