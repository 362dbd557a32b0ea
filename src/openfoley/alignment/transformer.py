"""The cross-modal transformer of MMA: one transformer over [video tokens; audio tokens] (sec. 3.2).

Inputs (package alphabet):
    video (b, t, d), video_times (b, t) s     encoder features of the frames and their timestamps
    audio (b, n, d), audio_times (b, n) s     encoder tokens of the audio and their timestamps
    video_visible (b, t), audio_visible (b, n)  bool, False = masked by MMA (replaced by a mask token)
    video_valid (b, t), audio_valid (b, n)      bool, False = padding or absent (no token attends to it)
Outputs: ``CrossModalOutput(video (b, t, d), audio (b, n, d))``.

Before the network sees anything, every masked position's value is *replaced* by its modality's
learned mask token (``torch.where``, so masked values cannot leak, not even through gradients). Each
token then gets a learned modality embedding plus ``seconds_embedding`` of its timestamp. The time
embedding is one module shared by both streams, so a frame and the audio token at the same instant
receive the same time code (small preset: frame i and token i both sit at (i + 0.5) * 0.08 s).
Every self-attention logit also gets ``-slope_h * |t_q - t_k|`` (``nn.blocks.TimeDistanceBias``,
learned slopes from 10/s to 0.1/s across heads): same-instant tokens of both streams are close by
construction. Measured on the tiny preset: without this bias the transformer did not learn to predict
masked audio from same-instant video in 300 steps (loss stuck at the mean predictor, 0.395 with the
video visible and hidden alike); with it, 120 steps reach 0.013 with the video visible vs 0.536 hidden.

All valid tokens attend to all valid tokens (BERT-style, mask tokens included as queries and keys);
``*_valid`` becomes the key-padding mask. With ``audio_valid`` all False the network runs on video
alone, which is how aligned features are made for the generator (``openfoley.alignment.mma``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from openfoley.config import Config
from openfoley.nn.blocks import TimeDistanceBias, Transformer
from openfoley.nn.embeddings import seconds_embedding


@dataclass(frozen=True)
class CrossModalOutput:
    """video (b, t, d) and audio (b, n, d) hidden states after the final LayerNorm."""

    video: Tensor
    audio: Tensor


def _ones(x: Tensor) -> Tensor:
    return torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)


class CrossModalTransformer(nn.Module):
    """Joint transformer over video and audio tokens on one seconds axis. Built from ``Config``."""

    def __init__(self, cfg: Config):
        super().__init__()
        a = cfg.alignment
        d = cfg.encoder.width
        self.width = d
        self.mask_video = nn.Parameter(torch.randn(d) * 0.02)
        self.mask_audio = nn.Parameter(torch.randn(d) * 0.02)
        self.modality = nn.Parameter(torch.randn(2, d) * 0.02)  # 0 = video, 1 = audio
        self.time = seconds_embedding(d)
        self.time_bias = TimeDistanceBias(a.heads)
        self.net = Transformer(d, a.depth, a.heads, a.mlp_ratio, a.dropout)

    def forward(self, video: Tensor, video_times: Tensor, audio: Tensor, audio_times: Tensor,
                video_visible: Tensor | None = None, audio_visible: Tensor | None = None,
                video_valid: Tensor | None = None, audio_valid: Tensor | None = None) -> CrossModalOutput:
        b, t, d = video.shape
        n = audio.shape[1]
        shapes = (f"video {tuple(video.shape)}, video_times {tuple(video_times.shape)}, audio "
                  f"{tuple(audio.shape)}, audio_times {tuple(audio_times.shape)}")
        if d != self.width or audio.shape != (b, n, d) or video_times.shape != (b, t) or audio_times.shape != (b, n):
            raise ValueError(f"cross-modal transformer (d={self.width}) got {shapes}")
        video_visible = _ones(video) if video_visible is None else video_visible
        audio_visible = _ones(audio) if audio_visible is None else audio_visible
        video_valid = _ones(video) if video_valid is None else video_valid
        audio_valid = _ones(audio) if audio_valid is None else audio_valid
        for name, m, shape in (("video_visible", video_visible, (b, t)), ("audio_visible", audio_visible, (b, n)),
                               ("video_valid", video_valid, (b, t)), ("audio_valid", audio_valid, (b, n))):
            if m.shape != shape or m.dtype != torch.bool:
                raise ValueError(f"{name} must be bool {shape}, got {m.dtype} {tuple(m.shape)} ({shapes})")
        v = torch.where(video_visible[..., None], video, self.mask_video.to(video.dtype))  # (b, t, d)
        a = torch.where(audio_visible[..., None], audio, self.mask_audio.to(audio.dtype))  # (b, n, d)
        v = v + self.modality[0] + self.time(video_times)
        a = a + self.modality[1] + self.time(audio_times)
        x = torch.cat([v, a], dim=1)  # (b, t + n, d)
        valid = torch.cat([video_valid, audio_valid], dim=1)  # (b, t + n)
        times = torch.cat([video_times, audio_times], dim=1).float()  # (b, t + n)
        y = self.net(x, mask=valid, bias=self.time_bias(times, times))  # (b, t + n, d)
        return CrossModalOutput(video=y[:, :t], audio=y[:, t:])
