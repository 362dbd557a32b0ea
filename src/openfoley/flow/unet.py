"""A 1-D convolutional U-Net velocity network over the mel time axis (``FlowConfig.net = "unet"``).

Same interface as ``openfoley.flow.velocity.VelocityNet`` (``prepare``/``predict``/``forward``, the learned nulls,
``token_dim``/``cond_dim``/``width``/``token_seconds``), so ``CFMGenerator`` and ``DDPMGenerator`` take
either. Why it exists: docs/sync-diagnosis.md. With a perfect event track as its condition, the
token transformer still produced broadband clicks at token boundaries all over the clip after 400
steps (event-time F1 0.23, 12 onsets per clip for 5.6 true events); this network sees the latent
as a spectrogram, so neighbouring mel frames are treated alike by construction.

Inputs and output (package shape alphabet), as VelocityNet:
    x     (b, n, p*f)  the state on the path (normalised log-mel patches), t=0 noise .. t=1 data
    t     (b,)         flow time
    cond  FlowCondition: tokens (b, n, dc), keys (b, k, dc), key_times (b, k), key_mask (b, k), drop (b,)
    key_visibility (b, n, k) optional bool: the Eq. 7 local branch (which key frames each token sees)
    v     (b, n, p*f)

Architecture, with L = log2(p) levels (p = ``encoder.audio_patch``, a power of two):
  - ``unpatchify`` to a spectrogram (b, f, m), m = n * p, then a kernel-3 conv to c = width // 2
    channels at the mel frame rate, plus the level-0 video condition (so the condition reaches the
    output from the first step, not only through the zero-initialised residual branches);
  - per level l = 0..L-1 (rate m / 2^l): ``blocks`` residual blocks (each: GroupNorm, SiLU, kernel-5
    conv, FiLM by the flow time, plus the **per-token video condition linearly interpolated to that rate
    and added per frame**, then GroupNorm, SiLU, dropout, a zero-initialised kernel-5 conv), then a
    stride-2 conv down;
  - the bottleneck at the token rate (n positions, width d): token-time embedding + per-token
    condition added, ``depth`` adaLN ``TransformerBlock``s with self-attention over time and
    cross-attention to the key frames (each plus the embedding of its true time), exactly the
    key-frame path of VelocityNet, so Eq. 7's key visibility applies unchanged;
  - back up with transposed convs, skip concatenation and ``blocks`` residual blocks per level; GroupNorm,
    SiLU and a zero-initialised kernel-3 conv to f channels, ``patchify`` back to tokens, plus the
    zero-initialised time-gated skip g(t) * x of VelocityNet. A fresh network is the zero field.
  - ``global_cond`` (``flow.global_cond``): the condition tokens' mean and max over the clip, projected
    (zero at init) and added to the flow-time embedding that every FiLM and adaLN reads, and an
    adaptive scale and shift of the output GroupNorm from that embedding (zero at init). GroupNorm over
    time takes each group's clip-wide offset away, so without this a clip-wide spectral colour can only
    pass as differences between channels (docs/sync-diagnosis.md part 24).

Classifier-free guidance as in VelocityNet: dropped examples see a learned null token vector (at
every level, since every level reads the same projected tokens) and only the learned null key.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from openfoley.config import Config
from openfoley.flow.base import FlowCondition
from openfoley.flow.velocity import VelocityNet, global_route, token_times
from openfoley.nn.blocks import TransformerBlock, zero_init
from openfoley.nn.embeddings import flow_time_embedding, seconds_embedding
from openfoley.nn.patches import patchify, unpatchify


@dataclass(frozen=True)
class PreparedUNetCondition:
    """The condition-only part of the network: ``levels[l]`` (b, c_l, m / 2^l) per-frame additions,
    ``add`` (b, n, d) at the bottleneck, ``context`` (b, 1+k, d), ``context_mask`` (b, 1+k) | (b, n, 1+k),
    ``glob`` (b, d) the global route added to the flow-time embedding (zeros without ``global_cond``)."""

    levels: tuple[Tensor, ...]
    add: Tensor
    context: Tensor
    context_mask: Tensor
    glob: Tensor


def _groups(c: int) -> int:
    return next(g for g in (8, 4, 2, 1) if c % g == 0)


class ResBlock1d(nn.Module):
    """x (b, c, m) + FiLM(time (b, dt)) + cond (b, c, m) -> (b, c, m); zero residual at init."""

    def __init__(self, c: int, time_dim: int, kernel: int = 5, dropout: float = 0.0):
        super().__init__()
        self.norm1 = nn.GroupNorm(_groups(c), c)
        self.conv1 = nn.Conv1d(c, c, kernel, padding=kernel // 2)
        self.film = nn.Linear(time_dim, 2 * c)
        self.norm2 = nn.GroupNorm(_groups(c), c)
        self.drop = nn.Dropout(dropout)
        self.conv2 = nn.Conv1d(c, c, kernel, padding=kernel // 2)
        zero_init(self.conv2)

    def forward(self, x: Tensor, tc: Tensor, cond: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        shift, scale = self.film(tc)[:, :, None].chunk(2, dim=1)  # 2 x (b, c, 1)
        h = h * (1 + scale) + shift + cond
        return x + self.conv2(self.drop(F.silu(self.norm2(h))))


class ConvVelocityNet(nn.Module):
    """v_theta(x, t | cond) as a 1-D U-Net over mel frames; see the module docstring."""

    def __init__(self, token_dim: int, cond_dim: int, width: int, depth: int, heads: int, patch: int,
                 mlp_ratio: float = 4.0, dropout: float = 0.0, token_seconds: float = 0.08,
                 global_cond: bool = False, global_gain: float = 1.0, blocks: int = 1):
        super().__init__()
        if blocks < 1:
            raise ValueError(f"unet velocity needs at least 1 residual block per level, got {blocks}")
        if patch < 1 or patch & (patch - 1) or token_dim % patch:
            raise ValueError(f"unet velocity needs encoder.audio_patch a power of two dividing p*f, got p={patch}, "
                             f"p*f={token_dim}")
        self.token_dim, self.cond_dim, self.width, self.patch = token_dim, cond_dim, width, patch
        self.n_mels = token_dim // patch
        self.token_seconds = float(token_seconds)
        self.levels = patch.bit_length() - 1  # log2(p)
        c = max(8, width // 2)
        self.c = c
        self.time = flow_time_embedding(width)
        self.null_token = nn.Parameter(torch.zeros(cond_dim))
        self.null_key = nn.Parameter(torch.randn(1, 1, width) * 0.02)
        self.inp = nn.Conv1d(self.n_mels, c, 3, padding=1)
        self.level_cond = nn.ModuleList(nn.Linear(cond_dim, c) for _ in range(self.levels))
        self.down_blocks = nn.ModuleList(ResBlock1d(c, width, dropout=dropout) for _ in range(self.levels))
        # blocks 2.. of each level (``flow.unet_blocks``); empty, so no tensors, with one block a level
        self.down_more = nn.ModuleList(
            nn.ModuleList(ResBlock1d(c, width, dropout=dropout) for _ in range(blocks - 1)) for _ in range(self.levels))
        self.downs = nn.ModuleList(
            nn.Conv1d(c, width if i == self.levels - 1 else c, 4, stride=2, padding=1) for i in range(self.levels))
        if self.levels == 0:
            self.to_mid = nn.Conv1d(c, width, 1)
        self.pos = seconds_embedding(width)
        self.cond_proj = nn.Linear(cond_dim, width)
        self.key_proj = nn.Linear(cond_dim, width)
        self.key_time = seconds_embedding(width)
        self.mid = nn.ModuleList(
            TransformerBlock(width, heads, mlp_ratio, dropout, context_dim=width, cond_dim=width) for _ in range(depth))
        self.ups = nn.ModuleList(
            nn.ConvTranspose1d(width if i == self.levels - 1 else c, c, 4, stride=2, padding=1)
            for i in range(self.levels))
        self.merges = nn.ModuleList(nn.Conv1d(2 * c, c, 1) for _ in range(self.levels))
        self.up_blocks = nn.ModuleList(ResBlock1d(c, width, dropout=dropout) for _ in range(self.levels))
        self.up_more = nn.ModuleList(
            nn.ModuleList(ResBlock1d(c, width, dropout=dropout) for _ in range(blocks - 1)) for _ in range(self.levels))
        if self.levels == 0:
            self.from_mid = nn.Conv1d(width, c, 1)
        self.out_norm = nn.GroupNorm(_groups(c), c)
        self.out = nn.Conv1d(c, self.n_mels, 3, padding=1)
        self.skip = nn.Linear(width, token_dim)
        zero_init(self.out, self.skip)
        self.global_proj: nn.Linear | None = None
        self.out_mod: nn.Linear | None = None
        if global_cond:
            self.global_proj = nn.Linear(2 * cond_dim, width)
            self.out_mod = nn.Linear(width, 2 * c)
            zero_init(self.global_proj, self.out_mod)
        self.global_gain = float(global_gain)  # sampling only: eval mode (``global_route``)

    def prepare(self, cond: FlowCondition, key_visibility: Tensor | None = None) -> PreparedUNetCondition:
        """Everything that depends only on the condition (once per sample, not per ODE step)."""
        b, n = cond.tokens.shape[:2]
        k = cond.keys.shape[1]
        if tuple(cond.tokens.shape) != (b, n, self.cond_dim):
            raise ValueError(f"cond.tokens {tuple(cond.tokens.shape)} must be (b, n, d={self.cond_dim})")
        drop = cond.dropped()
        tokens = torch.where(drop[:, None, None], self.null_token.to(cond.tokens.dtype), cond.tokens)  # (b, n, dc)
        levels = []
        for lvl, proj in enumerate(self.level_cond):
            m = n * self.patch // 2 ** lvl
            h = proj(tokens).transpose(1, 2)  # (b, c, n)
            levels.append(F.interpolate(h, size=m, mode="linear", align_corners=False))  # (b, c, m_l)
        add = self.pos(token_times(n, self.token_seconds, tokens.device)) + self.cond_proj(tokens)  # (b, n, d)
        keys = self.key_proj(cond.keys) + self.key_time(cond.key_times)  # (b, k, d)
        context = torch.cat([self.null_key.expand(b, 1, self.width).to(keys.dtype), keys], 1)
        visible = cond.key_mask & ~drop[:, None]
        if key_visibility is not None:
            if tuple(key_visibility.shape) != (b, n, k) or key_visibility.dtype != torch.bool:
                raise ValueError(f"key_visibility must be bool (b={b}, n={n}, k={k}), got "
                                 f"{key_visibility.dtype} {tuple(key_visibility.shape)}")
            visible = visible[:, None, :] & key_visibility
            always = torch.ones(b, n, 1, dtype=torch.bool, device=add.device)
        else:
            always = torch.ones(b, 1, dtype=torch.bool, device=add.device)
        return PreparedUNetCondition(levels=tuple(levels), add=add, context=context,
                                     context_mask=torch.cat([always, visible], -1),
                                     glob=global_route(self.global_proj, tokens, self.width,
                                                       1.0 if self.training else self.global_gain))

    def forward(self, x: Tensor, t: Tensor, cond: FlowCondition, key_visibility: Tensor | None = None) -> Tensor:
        """x (b, n, p*f), t (b,), cond, key_visibility (b, n, k) | None -> v (b, n, p*f):
        ``predict(x, t, prepare(cond, key_visibility))``."""
        return self.predict(x, t, self.prepare(cond, key_visibility))

    def predict(self, x: Tensor, t: Tensor, cond: PreparedUNetCondition) -> Tensor:
        """x (b, n, p*f), t (b,), a ``prepare``d condition -> v (b, n, p*f) (the per-ODE-step part)."""
        b, n, _ = x.shape
        if tuple(x.shape) != (b, n, self.token_dim) or tuple(cond.add.shape) != (b, n, self.width):
            raise ValueError(f"x {tuple(x.shape)} must be (b, n, p*f={self.token_dim}) and match the condition's "
                             f"(b, n) = {tuple(cond.add.shape[:2])}")
        if tuple(t.shape) != (b,):
            raise ValueError(f"t must be (b={b},), got {tuple(t.shape)}")
        tc = self.time(t) + cond.glob  # (b, d)
        h = self.inp(unpatchify(x, self.patch, self.n_mels))  # (b, c, m)
        if self.levels:
            h = h + cond.levels[0]  # the video condition also enters the residual stream directly
        skips = []
        for lvl in range(self.levels):
            h = self.down_blocks[lvl](h, tc, cond.levels[lvl])
            for blk in self.down_more[lvl].children():
                h = blk(h, tc, cond.levels[lvl])
            skips.append(h)
            h = self.downs[lvl](h)
        if self.levels == 0:
            h = self.to_mid(h)
        z = h.transpose(1, 2) + cond.add  # (b, n, d)
        for blk in self.mid:
            z = blk(z, context=cond.context, context_mask=cond.context_mask, cond=tc)
        h = z.transpose(1, 2)  # (b, d, n)
        if self.levels == 0:
            h = self.from_mid(h)
        for lvl in reversed(range(self.levels)):
            h = self.ups[lvl](h)
            h = self.merges[lvl](torch.cat([h, skips[lvl]], 1))
            h = self.up_blocks[lvl](h, tc, cond.levels[lvl])
            for blk in self.up_more[lvl].children():
                h = blk(h, tc, cond.levels[lvl])
        h = self.out_norm(h)
        if self.out_mod is not None:
            shift, scale = self.out_mod(tc)[:, :, None].chunk(2, dim=1)  # 2 x (b, c, 1)
            h = h * (1 + scale) + shift
        v = patchify(self.out(F.silu(h)), self.patch)  # (b, n, p*f)
        return v + self.skip(tc)[:, None, :] * x


def build_velocity_net(cfg: Config) -> VelocityNet | ConvVelocityNet:
    """The velocity/epsilon network named by ``cfg.flow.net`` (transformer | unet)."""
    f = cfg.flow
    width = f.width or cfg.encoder.width
    if f.net == "unet":
        return ConvVelocityNet(cfg.audio_token_dim, cfg.cond_dim, width, f.depth, f.heads,
                               cfg.encoder.audio_patch, f.mlp_ratio, f.dropout,
                               token_seconds=1.0 / cfg.tokens_per_second, global_cond=f.global_cond,
                               global_gain=f.global_gain, blocks=f.unet_blocks)
    return VelocityNet(cfg.audio_token_dim, cfg.cond_dim, width, f.depth, f.heads, f.mlp_ratio, f.dropout,
                       token_seconds=1.0 / cfg.tokens_per_second, global_cond=f.global_cond,
                       global_gain=f.global_gain)


__all__ = ["ConvVelocityNet", "PreparedUNetCondition", "ResBlock1d", "build_velocity_net"]
