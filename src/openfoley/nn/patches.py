"""Mel patches along time and the interval-centre timestamps shared by every stream.

``patchify``: log-mel (b, f, m) -> (b, n, p*f) with n = m // p; token j holds mel frames
``j*p .. j*p + p - 1``, flattened frame-major (``b f (n p) -> b n (p f)``). ``unpatchify`` is its exact
inverse. The audio encoder, the MMA audio target (Eq. 5, first sum) and the flow's audio latent all
use this one layout.

``centre_times``: element i of a uniform stream with spacing ``step`` seconds sits at the centre of
its interval, ``(i + 0.5) * step``. Video frames (step 1/fps, the frame's display interval) and audio
tokens (step seconds/n) both use it, so in the ``small`` preset (12.5 fps, 0.08 s tokens) frame i and
token i carry the same timestamp, and ``openfoley.flow.velocity.token_times`` agrees.
"""

from __future__ import annotations

import torch
from einops import rearrange
from torch import Tensor


def patchify(mel: Tensor, p: int) -> Tensor:
    """(b, f, m) -> (b, n, p*f), n = m // p; m must be a multiple of p."""
    if mel.dim() != 3 or mel.shape[-1] % p:
        raise ValueError(f"mel {tuple(mel.shape)} must be (b, f, m) with m a multiple of p={p}")
    return rearrange(mel, "b f (n p) -> b n (p f)", p=p)


def unpatchify(tokens: Tensor, p: int, f: int) -> Tensor:
    """(b, n, p*f) -> (b, f, n*p): the exact inverse of ``patchify``."""
    if tokens.dim() != 3 or tokens.shape[-1] != p * f:
        raise ValueError(f"tokens {tuple(tokens.shape)} must be (b, n, p*f) with p={p}, f={f}")
    return rearrange(tokens, "b n (p f) -> b f (n p)", p=p, f=f)


def centre_times(count: int, step: float, batch: int | None = None,
                 device: torch.device | str | None = None) -> Tensor:
    """(count,) or (batch, count) seconds: (i + 0.5) * step."""
    t = (torch.arange(count, device=device, dtype=torch.float32) + 0.5) * step
    return t if batch is None else t.expand(batch, count).clone()
