"""Transformer building blocks shared by the encoders, the MMA transformer and the velocity network.

Shapes (package alphabet; ``q``/``k`` below are query/key sequence lengths of an attention call):
    x        (b, q, d)       tokens
    mask     (b, k) or (b, q, k)   True = visible/valid (a key-padding or full visibility mask)
    bias     (b, h|1, q, k)  float added to self-attention logits (``TimeDistanceBias``: ALiBi on seconds)
    context  (b, k, dc)      tokens attended to by cross-attention
    cond     (b, dc) or (b, q, dc)  conditioning vector, global or per token (adaptive LayerNorm)

``TransformerBlock`` is pre-norm: ``x + SelfAttn(LN(x))``, then ``x + CrossAttn(LN(x), context)``
when built with ``context_dim``, then ``x + MLP(LN(x))``. Built with ``cond_dim`` the self-attention
and MLP sub-layers use adaptive LayerNorm with gates (DiT's adaLN-Zero): a zero-initialised linear
map from ``cond`` gives shift, scale and gate per sub-layer, so a fresh block is the identity on its
self-attention and MLP branches and the network starts from its residual stream. Cross-attention is
not modulated (as in PixArt-style conditioning); it is ordinary pre-norm.

Attention uses ``torch.nn.functional.scaled_dot_product_attention``. A query with no visible key
(for example cross-attention to a fully dropped condition) gets an attention output of exactly
zero instead of NaN. Dropout is applied to sub-layer outputs (not to attention probabilities) and,
like all ``nn.Dropout``, draws from torch's global generator; it is inactive in ``eval()`` mode.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise ValueError(msg)


def zero_init(*layers: nn.Linear | nn.Conv1d) -> None:
    """Zero each layer's weight and bias: an output or gate layer that starts as the zero map (DiT)."""
    for layer in layers:
        nn.init.zeros_(layer.weight)
        if layer.bias is not None:
            nn.init.zeros_(layer.bias)


def modulate(x: Tensor, shift: Tensor, scale: Tensor) -> Tensor:
    """Adaptive LayerNorm modulation: x (b, q, d), shift/scale (b, 1 or q, d) -> x * (1 + scale) + shift."""
    return x * (1 + scale) + shift


class Attention(nn.Module):
    """Multi-head attention. Self-attention when ``context`` is None, else cross-attention."""

    def __init__(self, dim: int, heads: int, context_dim: int | None = None):
        super().__init__()
        _check(dim % heads == 0, f"attention width {dim} is not divisible by heads {heads}")
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(context_dim or dim, 2 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: Tensor, context: Tensor | None = None, mask: Tensor | None = None,
                bias: Tensor | None = None) -> Tensor:
        """x (b, q, d), context (b, k, dc) or None, mask (b, k) / (b, q, k) bool, bias (b, h|1, q, k)
        float added to the attention logits, or None -> (b, q, d)."""
        ctx = x if context is None else context
        b, nq, d = x.shape
        nk = ctx.shape[1]
        _check(ctx.shape[0] == b, f"context batch {tuple(ctx.shape)} != tokens batch {tuple(x.shape)}")
        h = self.heads
        q = self.q(x).view(b, nq, h, d // h).transpose(1, 2)  # (b, h, q, d/h)
        k, v = self.kv(ctx).view(b, nk, 2, h, d // h).permute(2, 0, 3, 1, 4)  # 2 x (b, h, k, d/h)
        attn_mask = None
        keep = None
        if mask is not None:
            _check(mask.dtype == torch.bool, f"attention mask must be bool (True = visible), got {mask.dtype}")
            if mask.dim() == 2:
                _check(mask.shape == (b, nk), f"key mask {tuple(mask.shape)} != (b, k) = {(b, nk)}")
                mask = mask[:, None, :]  # (b, 1, k)
            _check(mask.dim() == 3 and mask.shape[0] == b and mask.shape[2] == nk and mask.shape[1] in (1, nq),
                   f"mask {tuple(mask.shape)} must be (b, k) or (b, q, k) with b={b}, q={nq}, k={nk}")
            any_visible = mask.any(-1, keepdim=True)  # (b, 1|q, 1)
            # Rows with no visible key would be NaN in softmax: let them attend anywhere, then zero them.
            attn_mask = (mask | ~any_visible)[:, None]  # (b, 1, 1|q, k)
            keep = any_visible[:, None]  # (b, 1, 1|q, 1)
        if bias is not None:
            _check(bias.dim() == 4 and bias.shape[0] == b and bias.shape[1] in (1, h) and bias.shape[2:] == (nq, nk),
                   f"attention bias {tuple(bias.shape)} must be (b, h|1, q, k) with b={b}, h={h}, q={nq}, k={nk}")
            bias = bias.to(q.dtype)
            if attn_mask is not None:
                bias = bias.masked_fill(~attn_mask, float("-inf"))
            attn_mask = bias
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)  # (b, h, q, d/h)
        if keep is not None:
            o = o * keep
        o = o.transpose(1, 2).reshape(b, nq, d)  # (b, q, d)
        return self.out(o)


class MLP(nn.Module):
    """Linear(d, r d), GELU, Linear(r d, d)."""

    def __init__(self, dim: int, mlp_ratio: float = 4.0):
        super().__init__()
        hidden = int(round(dim * mlp_ratio))
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class TransformerBlock(nn.Module):
    """Pre-norm block: self-attention, optional cross-attention, MLP; optional adaLN-Zero modulation."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float = 4.0, dropout: float = 0.0,
                 context_dim: int | None = None, cond_dim: int | None = None):
        super().__init__()
        self.dim = dim
        self.modulated = cond_dim is not None
        affine = not self.modulated  # adaLN supplies scale/shift itself
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=affine)
        self.attn = Attention(dim, heads)
        self.cross = None
        if context_dim is not None:
            self.norm_cross = nn.LayerNorm(dim)
            self.cross = Attention(dim, heads, context_dim=context_dim)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=affine)
        self.mlp = MLP(dim, mlp_ratio)
        self.drop = nn.Dropout(dropout)
        if cond_dim is not None:
            lin = nn.Linear(cond_dim, 6 * dim)
            self.modulation = nn.Sequential(nn.SiLU(), lin)
            zero_init(lin)

    def forward(self, x: Tensor, mask: Tensor | None = None, context: Tensor | None = None,
                context_mask: Tensor | None = None, cond: Tensor | None = None,
                bias: Tensor | None = None) -> Tensor:
        """x (b, q, d); mask (b, q) | (b, q, q); context (b, k, dc); context_mask (b, k); cond (b, dc) | (b, q, dc);
        bias (b, h|1, q, q) float added to the self-attention logits."""
        _check(x.dim() == 3 and x.shape[-1] == self.dim, f"tokens {tuple(x.shape)} must be (b, q, d={self.dim})")
        if self.modulated:
            if cond is None:
                raise ValueError("this block was built with cond_dim: pass cond")
            if cond.dim() == 2:
                cond = cond[:, None, :]  # (b, 1, dc)
            _check(cond.dim() == 3 and cond.shape[0] == x.shape[0] and cond.shape[1] in (1, x.shape[1]),
                   f"cond {tuple(cond.shape)} must be (b, dc) or (b, q, dc) for tokens {tuple(x.shape)}")
            sh1, sc1, g1, sh2, sc2, g2 = self.modulation(cond).chunk(6, dim=-1)  # 6 x (b, 1|q, d)
            x = x + g1 * self.drop(self.attn(modulate(self.norm1(x), sh1, sc1), mask=mask, bias=bias))
        else:
            _check(cond is None, "this block was built without cond_dim but got cond")
            x = x + self.drop(self.attn(self.norm1(x), mask=mask, bias=bias))
        if self.cross is not None:
            _check(context is not None, "this block was built with context_dim: pass context")
            x = x + self.drop(self.cross(self.norm_cross(x), context=context, mask=context_mask))
        else:
            _check(context is None, "this block was built without context_dim but got context")
        if self.modulated:
            x = x + g2 * self.drop(self.mlp(modulate(self.norm2(x), sh2, sc2)))
        else:
            x = x + self.drop(self.mlp(self.norm2(x)))
        return x


class Transformer(nn.Module):
    """A stack of ``depth`` TransformerBlocks followed by a final LayerNorm. Same arguments per block."""

    def __init__(self, dim: int, depth: int, heads: int, mlp_ratio: float = 4.0, dropout: float = 0.0,
                 context_dim: int | None = None, cond_dim: int | None = None):
        super().__init__()
        self.blocks = nn.ModuleList(
            TransformerBlock(dim, heads, mlp_ratio, dropout, context_dim=context_dim, cond_dim=cond_dim)
            for _ in range(depth)
        )
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: Tensor, mask: Tensor | None = None, context: Tensor | None = None,
                context_mask: Tensor | None = None, cond: Tensor | None = None,
                bias: Tensor | None = None) -> Tensor:
        """x (b, q, d) -> (b, q, d); other arguments as in ``TransformerBlock.forward``."""
        for blk in self.blocks:
            x = blk(x, mask=mask, context=context, context_mask=context_mask, cond=cond, bias=bias)
        return self.norm(x)


class TimeDistanceBias(nn.Module):
    """Per-head attention bias ``-slope_h * |t_q - t_k|`` from timestamps in seconds (ALiBi on time).

    Slopes start geometric from ``1 / min_reach`` to ``1 / max_reach`` (per second) and are learned
    (as logs). A head with slope 10/s gives a token 0.08 s away a logit penalty of 0.8 and one 1 s away
    10, so it looks at the same instant; a head with slope 0.1/s sees the whole clip. Returns
    (b, h, q, k) for ``Attention``'s ``bias``.
    """

    def __init__(self, heads: int, min_reach: float = 0.1, max_reach: float = 10.0):
        super().__init__()
        reach = torch.logspace(torch.log10(torch.tensor(min_reach)), torch.log10(torch.tensor(max_reach)), heads)
        self.log_slope = nn.Parameter(-reach.log())  # slope = 1 / reach

    def forward(self, times_q: Tensor, times_k: Tensor) -> Tensor:
        """times_q (b, q), times_k (b, k) seconds -> (b, h, q, k)."""
        dist = (times_q[:, :, None] - times_k[:, None, :]).abs()  # (b, q, k)
        return -self.log_slope.exp()[None, :, None, None] * dist[:, None]
