"""Per-modality encoders: video frames -> (b, t, d) features with timestamps, log-mel -> (b, n, d) tokens.

``build_video_encoder(cfg)`` / ``build_audio_encoder(cfg)`` pick the variant from ``EncoderConfig``:
video ``conv``, ``patch``, ``motion`` or ``window`` (from scratch, ``video.py``; ``patch`` adds a frame-difference
path, ``motion`` local motion before and after each frame, ``window`` a convolutional path over three
frames at full resolution on top of ``motion``) or ``siglip`` (pretrained, ``pretrained.py``); audio
``patch`` (from scratch, ``audio.py``) or ``audiomae`` (pretrained). Pretrained weights come from the
local paths ``encoder.video_weights`` / ``encoder.audio_weights``.
"""

from __future__ import annotations

from openfoley.config import Config
from openfoley.encoders.audio import AudioTokens, PatchAudioEncoder
from openfoley.encoders.pretrained import AudioMAEEncoder, SiglipVideoEncoder
from openfoley.encoders.video import (
    ConvVideoEncoder,
    MotionVideoEncoder,
    PatchVideoEncoder,
    VideoEncoder,
    VideoFeatures,
    WindowVideoEncoder,
)
from openfoley.errors import ConfigError

VIDEO_ENCODERS = ("conv", "patch", "motion", "window", "siglip")
AUDIO_ENCODERS = ("patch", "audiomae")


def build_video_encoder(cfg: Config) -> VideoEncoder:
    """The video encoder named by ``cfg.encoder.video`` (pretrained ones load their weights here)."""
    kind = cfg.encoder.video
    if kind == "conv":
        return ConvVideoEncoder(cfg)
    if kind == "patch":
        return PatchVideoEncoder(cfg)
    if kind == "motion":
        return MotionVideoEncoder(cfg)
    if kind == "window":
        return WindowVideoEncoder(cfg)
    if kind == "siglip":
        return SiglipVideoEncoder.from_weights(cfg)
    raise ConfigError(f"encoder.video must be one of {VIDEO_ENCODERS}, got {kind!r}")


def build_audio_encoder(cfg: Config) -> PatchAudioEncoder | AudioMAEEncoder:
    """The audio encoder named by ``cfg.encoder.audio``; maps log-mel (b, f, m) to ``AudioTokens``."""
    kind = cfg.encoder.audio
    if kind == "patch":
        return PatchAudioEncoder(cfg)
    if kind == "audiomae":
        return AudioMAEEncoder.from_weights(cfg)
    raise ConfigError(f"encoder.audio must be one of {AUDIO_ENCODERS}, got {kind!r}")


__all__ = ["AudioTokens", "VideoFeatures", "VideoEncoder", "ConvVideoEncoder", "PatchVideoEncoder", "MotionVideoEncoder",
           "WindowVideoEncoder", "PatchAudioEncoder",
           "SiglipVideoEncoder", "AudioMAEEncoder", "build_video_encoder", "build_audio_encoder"]
