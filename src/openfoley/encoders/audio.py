"""Default audio encoder, trained from scratch: log-mel patches along time -> tokens.

Input:  log-mel (b, f, m) (normalised the way the model normalises it; m a multiple of p).
Output: ``AudioTokens(tokens (b, n, d), times (b, n))`` with n = m // p and p =
        ``EncoderConfig.audio_patch`` mel frames per token.

A patch is the p consecutive mel frames of one token, flattened frame-major (``nn.patches.patchify``),
embedded by one linear map and a LayerNorm. Token times are interval centres,
``(j + 0.5) * p * seconds_per_mel_frame`` with ``seconds_per_mel_frame = Config.seconds /
Config.model_mel_frames``, so a clip of any length gets correct absolute times. Cross-token mixing
is the job of the alignment transformer.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn

from openfoley.config import Config
from openfoley.nn.patches import centre_times, patchify


@dataclass(frozen=True)
class AudioTokens:
    """tokens (b, n, d); times (b, n) seconds on the shared time axis."""

    tokens: Tensor
    times: Tensor


def mel_frame_seconds(cfg: Config) -> float:
    """Seconds between consecutive mel frames as the model sees them."""
    return cfg.seconds / cfg.model_mel_frames


class PatchAudioEncoder(nn.Module):
    """log-mel (b, f, m) -> AudioTokens((b, n, d), (b, n))."""

    def __init__(self, cfg: Config):
        super().__init__()
        self.p = cfg.encoder.audio_patch
        self.n_mels = cfg.audio.n_mels
        self.token_seconds = self.p * mel_frame_seconds(cfg)
        self.proj = nn.Linear(self.p * self.n_mels, cfg.encoder.width)
        self.norm = nn.LayerNorm(cfg.encoder.width)

    def forward(self, mel: Tensor) -> AudioTokens:
        if mel.dim() != 3 or mel.shape[1] != self.n_mels or mel.shape[2] % self.p:
            raise ValueError(f"mel {tuple(mel.shape)} must be (b, f={self.n_mels}, m) with m a multiple of p={self.p}")
        patches = patchify(mel, self.p)  # (b, n, p*f)
        tokens = self.norm(self.proj(patches))  # (b, n, d)
        b, n = tokens.shape[:2]
        return AudioTokens(tokens=tokens, times=centre_times(n, self.token_seconds, batch=b, device=mel.device))
