"""The velocity transformer of MFG: v_theta(x_t, t | video) over audio latent tokens.

Inputs (package shape alphabet):
    x     (b, n, p*f)  the state on the path (normalised log-mel patches), t=0 noise .. t=1 data
    t     (b,)         flow time in [0, 1]
    cond  FlowCondition: tokens (b, n, dc), keys (b, k, dc), key_times (b, k) s, key_mask (b, k), drop (b,)
    key_visibility (b, n, k) optional bool: which key frames each audio token may attend to
                   (the Eq. 7 "local" branch, ``openfoley.flow.cfm``); None = all valid key frames
Output:
    v     (b, n, p*f)  the predicted velocity (or, reused by ``openfoley.flow.ddpm``, the noise)

Architecture (built on ``openfoley.nn``):
  - input projection of each audio token, plus a sinusoidal embedding of the token's centre time in
    seconds (the same time axis as the key frames, so attention can line them up);
  - the time-aligned video condition, projected and **added per token**: each audio token knows the
    video at its own instant (sec. 3.3);
  - ``depth`` pre-norm ``TransformerBlock``s: self-attention over audio tokens, cross-attention to the
    key-frame features (each plus the embedding of its true timestamp), adaLN-Zero modulation by the
    flow-time embedding;
  - ``global_cond`` (``flow.global_cond``): the condition tokens' mean and max over the clip, projected
    (zero at init) and added to the flow-time embedding, so every adaLN reads what the whole clip shows
    (``global_route``);
  - a final adaLN LayerNorm and a **zero-initialised** output projection, plus a zero-initialised
    time-gated skip g(t) * x (see ``__init__`` for the measurement behind it): a fresh net is the
    zero field.

``prepare(cond, key_visibility)`` computes everything that depends only on the condition (the
per-token condition plus positions, the key-frame context and its mask); samplers call it once and pass
the result as ``cond`` at every ODE step.

Classifier-free guidance: where ``cond.drop`` is True the aligned tokens are replaced by a learned null
vector and every key frame is hidden; the cross-attention then sees only a learned "null key" that is
always present (it also keeps attention defined for clips with no valid key frame).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from openfoley.flow.base import FlowCondition
from openfoley.nn.blocks import TransformerBlock, modulate, zero_init
from openfoley.nn.embeddings import flow_time_embedding, seconds_embedding


@dataclass(frozen=True)
class PreparedFlowCondition:
    """``VelocityNet.prepare``'s output: add (b, n, d) per-token condition + position, context
    (b, 1+k, d) key features (null key first), context_mask (b, 1+k) or (b, n, 1+k) bool, glob (b, d)
    the global route added to the flow-time embedding (zeros without ``global_cond``)."""

    add: Tensor
    context: Tensor
    context_mask: Tensor
    glob: Tensor


def global_route(proj: nn.Linear | None, tokens: Tensor, width: int, gain: float = 1.0) -> Tensor:
    """tokens (b, n, dc), the condition after CFG's null replacement -> (b, width): ``proj`` of their mean
    and max over the n tokens, concatenated (2 dc inputs); zeros when ``proj`` is None (no global route).

    ``gain`` (``flow.global_gain``, sampling only) scales the part that depends on the clip:
    ``bias + gain * W [mean, max]``; 1 is the trained route."""
    if proj is None:
        return tokens.new_zeros(tokens.shape[0], width)
    out = proj(torch.cat([tokens.mean(1), tokens.amax(1)], -1))
    if gain == 1.0:
        return out
    return proj.bias + gain * (out - proj.bias)


def token_times(n: int, token_seconds: float, device: torch.device | str | None = None) -> Tensor:
    """(n,) centre time in seconds of each audio token: (i + 0.5) * token_seconds."""
    return (torch.arange(n, device=device, dtype=torch.float32) + 0.5) * token_seconds


class VelocityNet(nn.Module):
    """v_theta(x, t | cond): see the module docstring for inputs, outputs and architecture."""

    def __init__(self, token_dim: int, cond_dim: int, width: int, depth: int, heads: int,
                 mlp_ratio: float = 4.0, dropout: float = 0.0, token_seconds: float = 0.08,
                 global_cond: bool = False, global_gain: float = 1.0):
        super().__init__()
        self.token_dim, self.cond_dim, self.width = token_dim, cond_dim, width
        self.token_seconds = float(token_seconds)
        self.in_proj = nn.Linear(token_dim, width)
        self.pos = seconds_embedding(width)
        self.cond_proj = nn.Linear(cond_dim, width)
        self.key_proj = nn.Linear(cond_dim, width)
        self.key_time = seconds_embedding(width)
        self.time = flow_time_embedding(width)
        self.null_token = nn.Parameter(torch.zeros(cond_dim))  # learned null of the aligned tokens
        self.null_key = nn.Parameter(torch.randn(1, 1, width) * 0.02)  # always-visible learned key
        self.blocks = nn.ModuleList(
            TransformerBlock(width, heads, mlp_ratio, dropout, context_dim=width, cond_dim=width)
            for _ in range(depth)
        )
        self.norm = nn.LayerNorm(width, elementwise_affine=False)
        final_lin = nn.Linear(width, 2 * width)
        self.final_mod = nn.Sequential(nn.SiLU(), final_lin)
        self.out = nn.Linear(width, token_dim)
        # Time-gated skip: v += g(t) * x, per feature. The optimal velocity has a large part linear in
        # x whose gain depends only on t (on Gaussian data v* = a(t) x + b(t) mu); through a width-d
        # bottleneck narrower than p*f the network cannot pass x on, and on the tiny preset (d=32,
        # p*f=128) the loss stalled at ~1.0 (tests/test_flow_generators.py) until this was added.
        self.skip = nn.Linear(width, token_dim)
        zero_init(final_lin, self.out, self.skip)  # zero field at init (DiT)
        self.global_proj: nn.Linear | None = None
        if global_cond:
            self.global_proj = nn.Linear(2 * cond_dim, width)
            zero_init(self.global_proj)
        self.global_gain = float(global_gain)  # sampling only: eval mode (``global_route``)

    def prepare(self, cond: FlowCondition, key_visibility: Tensor | None = None) -> PreparedFlowCondition:
        """The part of the network that depends only on the condition: run once per sample, not per
        ODE step (``openfoley.flow.cfm``/``ddpm`` samplers call it before integrating)."""
        b, n = cond.tokens.shape[:2]
        k = cond.keys.shape[1]
        if tuple(cond.tokens.shape) != (b, n, self.cond_dim):
            raise ValueError(f"cond.tokens {tuple(cond.tokens.shape)} must be (b, n, d={self.cond_dim})")
        drop = cond.dropped()  # (b,)
        tokens = torch.where(drop[:, None, None], self.null_token.to(cond.tokens.dtype), cond.tokens)
        add = self.pos(token_times(n, self.token_seconds, tokens.device)) + self.cond_proj(tokens)  # (b, n, d)

        keys = self.key_proj(cond.keys) + self.key_time(cond.key_times)  # (b, k, d)
        context = torch.cat([self.null_key.expand(b, 1, self.width).to(keys.dtype), keys], 1)  # (b, 1+k, d)
        visible = cond.key_mask & ~drop[:, None]  # (b, k)
        if key_visibility is not None:
            if tuple(key_visibility.shape) != (b, n, k) or key_visibility.dtype != torch.bool:
                raise ValueError(f"key_visibility must be bool (b={b}, n={n}, k={k}), got "
                                 f"{key_visibility.dtype} {tuple(key_visibility.shape)}")
            visible = visible[:, None, :] & key_visibility  # (b, n, k)
            always = torch.ones(b, n, 1, dtype=torch.bool, device=add.device)
        else:
            always = torch.ones(b, 1, dtype=torch.bool, device=add.device)
        context_mask = torch.cat([always, visible], -1)  # (b, 1+k) or (b, n, 1+k)
        return PreparedFlowCondition(add=add, context=context, context_mask=context_mask,
                                     glob=global_route(self.global_proj, tokens, self.width,
                                                       1.0 if self.training else self.global_gain))

    def forward(self, x: Tensor, t: Tensor, cond: FlowCondition, key_visibility: Tensor | None = None) -> Tensor:
        """x (b, n, p*f), t (b,), cond, key_visibility (b, n, k) | None -> v (b, n, p*f):
        ``predict(x, t, prepare(cond, key_visibility))``."""
        return self.predict(x, t, self.prepare(cond, key_visibility))

    def predict(self, x: Tensor, t: Tensor, cond: PreparedFlowCondition) -> Tensor:
        """x (b, n, p*f), t (b,), a ``prepare``d condition -> v (b, n, p*f) (the per-ODE-step part)."""
        b, n, _ = x.shape
        if tuple(x.shape) != (b, n, self.token_dim) or tuple(cond.add.shape) != (b, n, self.width):
            raise ValueError(f"x {tuple(x.shape)} must be (b, n, p*f={self.token_dim}) and match the condition's "
                             f"(b, n) = {tuple(cond.add.shape[:2])}")
        if tuple(t.shape) != (b,):
            raise ValueError(f"t must be (b={b},), got {tuple(t.shape)}")
        h = self.in_proj(x) + cond.add
        context, context_mask = cond.context, cond.context_mask

        c = self.time(t) + cond.glob  # (b, d)
        for blk in self.blocks:
            h = blk(h, context=context, context_mask=context_mask, cond=c)
        shift, scale = self.final_mod(c)[:, None, :].chunk(2, dim=-1)  # 2 x (b, 1, d)
        gain = self.skip(c)[:, None, :]  # (b, 1, p*f)
        return self.out(modulate(self.norm(h), shift, scale)) + gain * x  # (b, n, p*f)
