"""Adapters for pretrained encoders, weights loaded from a local path the user gives (never downloaded).

Video, ``encoder.video = "siglip"``: a SigLIP vision tower (ViT: patch conv, learned position
embedding, pre-norm blocks with GELU-tanh MLPs, post-LayerNorm, multi-head attention pooling with a
learned probe). Parameter names follow the Hugging Face ``SiglipVisionModel`` layout
(``vision_model.embeddings.patch_embedding.weight``, ``vision_model.encoder.layers.0.self_attn.q_proj
.weight``, ``vision_model.head.probe``, ...), so such a ``model.safetensors`` (vision-only or the full
two-tower file, whose text keys are ignored) loads as is. Frames are resized to the tower's image size
and scaled to [-1, 1] (SigLIP's mean = std = 0.5).

Audio, ``encoder.audio = "audiomae"``: an AudioMAE-style ViT (timm names: ``patch_embed.proj``,
``cls_token``, ``pos_embed``, ``blocks.i.attn.qkv``, ``norm``) over a (frames x mel bins) spectrogram
image cut into square patches, patches ordered time-major. Our log-mel (b, f, m) is bilinearly resized
to the tower's (input_frames, input_bins) grid and normalised with AudioMAE's fbank statistics. Our
mel is not AudioMAE's Kaldi fbank, so expect to fine-tune; the adapter gives the architecture and the
weights, not a promise of identical features. Patch outputs are averaged over frequency, giving one
vector per time column, then linearly resampled to n tokens.

Both towers are frozen (``requires_grad=False``); a trainable linear projection to d (and, for video,
the usual ``TemporalMixer``) sits on top. The tower's size is read from the weights (``*Spec.from_
state_dict``; heads are width // 64 except for the known SigLIP-so400m width 1152, which has 16).

Loading: ``.safetensors`` via safetensors, anything else via ``torch.load(weights_only=True)``; a dict
nested under ``model``/``state_dict`` and a ``module.`` prefix are unwrapped. A missing path, an
unreadable file, missing keys or a shape mismatch raise ``ModelError`` naming the file and the first
offending keys.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from openfoley.checkpoint import read_state_file
from openfoley.config import Config
from openfoley.encoders.audio import AudioTokens, mel_frame_seconds
from openfoley.encoders.video import TemporalMixer, VideoEncoder, as_unit_frames, check_frames
from openfoley.errors import ModelError
from openfoley.nn.patches import centre_times

_HEADS_BY_WIDTH = {1152: 16}
AUDIOMAE_MEAN, AUDIOMAE_STD = -4.2677393, 4.5689974


def _heads(width: int) -> int:
    return _HEADS_BY_WIDTH.get(width, max(1, width // 64))


# --- weight files ----------------------------------------------------------------------------------
def read_state_dict(path: str | Path | None, what: str) -> dict[str, Tensor]:
    """Read a weights file into a flat {name: tensor} dict, or raise ModelError naming the file."""
    if path is None:
        raise ModelError(f"{what}: no weights path given (set encoder.video_weights / encoder.audio_weights)")
    return read_state_file(path, what)


def load_into(module: nn.Module, sd: dict[str, Tensor], prefix: str, path: str | Path, what: str) -> None:
    """Copy ``sd[prefix + name]`` into every parameter/buffer of ``module``; extra keys are ignored."""
    own = module.state_dict()
    missing = [k for k in own if prefix + k not in sd]
    if missing:
        raise ModelError(f"{path}: not {what} weights: missing {len(missing)} key(s), e.g. "
                         f"{', '.join(prefix + k for k in missing[:3])}")
    bad = [f"{prefix + k} {tuple(sd[prefix + k].shape)} != {tuple(v.shape)}" for k, v in own.items()
           if sd[prefix + k].shape != v.shape]
    if bad:
        raise ModelError(f"{path}: {what} weights do not match the architecture: {'; '.join(bad[:3])}")
    module.load_state_dict({k: sd[prefix + k].to(v.dtype) for k, v in own.items()})


# --- SigLIP vision tower ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ViTSpec:
    """A square-image ViT: image_size, patch, width, depth, heads, mlp (hidden size)."""

    image_size: int = 224
    patch: int = 16
    width: int = 768
    depth: int = 12
    heads: int = 12
    mlp: int = 3072
    head: bool = True  # attention-pooling head; without one (some SigLIP towers) patches are averaged

    @classmethod
    def from_state_dict(cls, sd: dict[str, Tensor], prefix: str, path: str | Path) -> ViTSpec:
        try:
            w = sd[prefix + "embeddings.patch_embedding.weight"]  # (D, 3, P, P)
            npos = sd[prefix + "embeddings.position_embedding.weight"].shape[0]
            mlp = sd[prefix + "encoder.layers.0.mlp.fc1.weight"].shape[0]
        except KeyError as e:
            raise ModelError(f"{path}: not SigLIP vision weights (no key {e.args[0]})") from None
        depth = len({k[len(prefix):].split(".")[2] for k in sd if k.startswith(prefix + "encoder.layers.")})
        side = math.isqrt(npos)
        return cls(image_size=side * w.shape[-1], patch=w.shape[-1], width=w.shape[0], depth=depth,
                   heads=_heads(w.shape[0]), mlp=mlp, head=prefix + "head.probe" in sd)


class _SiglipAttention(nn.Module):
    def __init__(self, d: int, heads: int):
        super().__init__()
        self.heads = heads
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (nn.Linear(d, d) for _ in range(4))

    def forward(self, x: Tensor) -> Tensor:
        q, k, v = (rearrange(f(x), "b l (h e) -> b h l e", h=self.heads) for f in (self.q_proj, self.k_proj, self.v_proj))
        return self.out_proj(rearrange(F.scaled_dot_product_attention(q, k, v), "b h l e -> b l (h e)"))


class _SiglipMLP(nn.Module):
    def __init__(self, d: int, hidden: int):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(d, hidden), nn.Linear(hidden, d)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))


class _SiglipLayer(nn.Module):
    def __init__(self, s: ViTSpec):
        super().__init__()
        self.layer_norm1 = nn.LayerNorm(s.width, eps=1e-6)
        self.self_attn = _SiglipAttention(s.width, s.heads)
        self.layer_norm2 = nn.LayerNorm(s.width, eps=1e-6)
        self.mlp = _SiglipMLP(s.width, s.mlp)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.self_attn(self.layer_norm1(x))
        return x + self.mlp(self.layer_norm2(x))


class _SiglipHead(nn.Module):
    """Multi-head attention pooling: one learned probe attends over the patch tokens."""

    def __init__(self, s: ViTSpec):
        super().__init__()
        self.probe = nn.Parameter(torch.randn(1, 1, s.width))
        self.attention = nn.MultiheadAttention(s.width, s.heads, batch_first=True)
        self.layernorm = nn.LayerNorm(s.width, eps=1e-6)
        self.mlp = _SiglipMLP(s.width, s.mlp)

    def forward(self, x: Tensor) -> Tensor:  # (B, L, D) -> (B, D)
        h = self.attention(self.probe.expand(x.shape[0], -1, -1), x, x, need_weights=False)[0]
        return (h + self.mlp(self.layernorm(h)))[:, 0]


class _Embeddings(nn.Module):
    def __init__(self, s: ViTSpec):
        super().__init__()
        self.patch_embedding = nn.Conv2d(3, s.width, s.patch, stride=s.patch)
        self.position_embedding = nn.Embedding((s.image_size // s.patch) ** 2, s.width)

    def forward(self, x: Tensor) -> Tensor:  # (B, 3, H, W) -> (B, L, D)
        x = self.patch_embedding(x).flatten(2).transpose(1, 2)
        return x + self.position_embedding.weight[None]


class _Encoder(nn.Module):
    def __init__(self, s: ViTSpec):
        super().__init__()
        self.layers = nn.ModuleList(_SiglipLayer(s) for _ in range(s.depth))


class SiglipVisionTower(nn.Module):
    """images (B, 3, S, S) in [-1, 1] -> pooled (B, D); parameter names as HF ``vision_model.*``."""

    def __init__(self, spec: ViTSpec):
        super().__init__()
        self.spec = spec
        self.embeddings = _Embeddings(spec)
        self.encoder = _Encoder(spec)
        self.post_layernorm = nn.LayerNorm(spec.width, eps=1e-6)
        self.head = _SiglipHead(spec) if spec.head else None

    def forward(self, images: Tensor) -> Tensor:
        x = self.embeddings(images)
        for layer in self.encoder.layers:
            x = layer(x)
        x = self.post_layernorm(x)
        return self.head(x) if self.head is not None else x.mean(1)


SIGLIP_PREFIX = "vision_model."


class SiglipVideoEncoder(VideoEncoder):
    """Frozen SigLIP tower per frame -> trainable Linear(D, d) -> TemporalMixer. (b, t, 3, h, w) -> (b, t, d)."""

    def __init__(self, cfg: Config, spec: ViTSpec):
        super().__init__()
        self.fps, self.size, self.width = float(cfg.video.fps), int(cfg.video.size), int(cfg.encoder.width)
        self.vision_model = SiglipVisionTower(spec)
        self.vision_model.requires_grad_(False)
        self.proj = nn.Linear(spec.width, self.width)
        self.temporal = TemporalMixer(self.width, cfg.encoder.temporal_layers)

    @classmethod
    def from_weights(cls, cfg: Config, path: str | Path | None = None) -> SiglipVideoEncoder:
        """Build the tower the weights describe and load them (path defaults to ``encoder.video_weights``)."""
        path = cfg.encoder.video_weights if path is None else path
        sd = read_state_dict(path, "SigLIP vision")
        assert path is not None  # read_state_dict raised
        enc = cls(cfg, ViTSpec.from_state_dict(sd, SIGLIP_PREFIX, path))
        load_into(enc.vision_model, sd, SIGLIP_PREFIX, path, "SigLIP vision")
        return enc

    def frame_features(self, frames: Tensor) -> Tensor:
        check_frames(frames, self.size)
        b = frames.shape[0]
        s = self.vision_model.spec.image_size
        x = rearrange(as_unit_frames(frames) * 2 - 1, "b t c h w -> (b t) c h w")
        if x.shape[-1] != s:
            x = F.interpolate(x, size=(s, s), mode="bilinear", align_corners=False)
        return rearrange(self.proj(self.vision_model(x)), "(b t) d -> b t d", b=b)


# --- AudioMAE-style audio tower --------------------------------------------------------------------
@dataclass(frozen=True)
class AudioViTSpec:
    """A spectrogram ViT: input_frames x input_bins image, square patches, width, depth, heads, mlp."""

    input_frames: int = 1024
    input_bins: int = 128
    patch: int = 16
    width: int = 768
    depth: int = 12
    heads: int = 12
    mlp: int = 3072

    @property
    def grid(self) -> tuple[int, int]:
        return self.input_frames // self.patch, self.input_bins // self.patch

    @classmethod
    def from_state_dict(cls, sd: dict[str, Tensor], path: str | Path, input_bins: int = 128) -> AudioViTSpec:
        try:
            w = sd["patch_embed.proj.weight"]  # (D, 1, P, P)
            npos = sd["pos_embed"].shape[1] - 1
            mlp = sd["blocks.0.mlp.fc1.weight"].shape[0]
        except KeyError as e:
            raise ModelError(f"{path}: not AudioMAE-style weights (no key {e.args[0]})") from None
        p = w.shape[-1]
        depth = len({k.split(".")[1] for k in sd if k.startswith("blocks.")})
        fbins = input_bins // p
        return cls(input_frames=npos // fbins * p, input_bins=input_bins, patch=p, width=w.shape[0], depth=depth,
                   heads=_heads(w.shape[0]), mlp=mlp)


class _TimmAttention(nn.Module):
    def __init__(self, d: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)

    def forward(self, x: Tensor) -> Tensor:
        q, k, v = rearrange(self.qkv(x), "b l (three h e) -> three b h l e", three=3, h=self.heads)
        return self.proj(rearrange(F.scaled_dot_product_attention(q, k, v), "b h l e -> b l (h e)"))


class _TimmMlp(nn.Module):
    def __init__(self, d: int, hidden: int):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(d, hidden), nn.Linear(hidden, d)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class _TimmBlock(nn.Module):
    def __init__(self, s: AudioViTSpec):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(s.width, eps=1e-6), nn.LayerNorm(s.width, eps=1e-6)
        self.attn, self.mlp = _TimmAttention(s.width, s.heads), _TimmMlp(s.width, s.mlp)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class _PatchEmbed(nn.Module):
    def __init__(self, s: AudioViTSpec):
        super().__init__()
        self.proj = nn.Conv2d(1, s.width, s.patch, stride=s.patch)


class AudioViTTower(nn.Module):
    """spectrogram (B, 1, input_frames, input_bins) -> per-time-column features (B, frames/patch, D)."""

    def __init__(self, spec: AudioViTSpec):
        super().__init__()
        self.spec = spec
        gt, gf = spec.grid
        self.patch_embed = _PatchEmbed(spec)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, spec.width))
        self.pos_embed = nn.Parameter(torch.randn(1, 1 + gt * gf, spec.width) * 0.02)
        self.blocks = nn.ModuleList(_TimmBlock(spec) for _ in range(spec.depth))
        self.norm = nn.LayerNorm(spec.width, eps=1e-6)

    def forward(self, spec_image: Tensor) -> Tensor:
        gt, gf = self.spec.grid
        x = self.patch_embed.proj(spec_image).flatten(2).transpose(1, 2)  # (B, gt*gf, D), time-major
        x = x + self.pos_embed[:, 1:]
        cls = self.cls_token + self.pos_embed[:, :1]
        x = torch.cat([cls.expand(x.shape[0], -1, -1), x], dim=1)
        for blk in self.blocks:
            x = blk(x)
        x = self.norm(x)[:, 1:]
        return rearrange(x, "b (gt gf) d -> b gt gf d", gt=gt, gf=gf).mean(2)  # (B, gt, D)


class AudioMAEEncoder(nn.Module):
    """log-mel (b, f, m) -> AudioTokens((b, n, d), (b, n)) through a frozen AudioMAE-style tower."""

    def __init__(self, cfg: Config, spec: AudioViTSpec):
        super().__init__()
        self.p = cfg.encoder.audio_patch
        self.n_mels = cfg.audio.n_mels
        self.token_seconds = self.p * mel_frame_seconds(cfg)
        self.tower = AudioViTTower(spec)
        self.tower.requires_grad_(False)
        self.proj = nn.Linear(spec.width, cfg.encoder.width)

    @classmethod
    def from_weights(cls, cfg: Config, path: str | Path | None = None) -> AudioMAEEncoder:
        path = cfg.encoder.audio_weights if path is None else path
        sd = read_state_dict(path, "AudioMAE")
        assert path is not None  # read_state_dict raised
        enc = cls(cfg, AudioViTSpec.from_state_dict(sd, path))
        load_into(enc.tower, sd, "", path, "AudioMAE")
        return enc

    def forward(self, mel: Tensor) -> AudioTokens:
        if mel.dim() != 3 or mel.shape[1] != self.n_mels or mel.shape[2] % self.p:
            raise ValueError(f"mel {tuple(mel.shape)} must be (b, f={self.n_mels}, m) with m a multiple of p={self.p}")
        s = self.tower.spec
        b, _, m = mel.shape
        img = (mel.transpose(1, 2)[:, None] - AUDIOMAE_MEAN) / (2 * AUDIOMAE_STD)  # (b, 1, m, f)
        img = F.interpolate(img, size=(s.input_frames, s.input_bins), mode="bilinear", align_corners=False)
        cols = self.proj(self.tower(img))  # (b, gt, d)
        n = m // self.p
        tokens = F.interpolate(cols.transpose(1, 2), size=n, mode="linear", align_corners=False).transpose(1, 2)
        return AudioTokens(tokens=tokens, times=centre_times(n, self.token_seconds, batch=b, device=mel.device))
