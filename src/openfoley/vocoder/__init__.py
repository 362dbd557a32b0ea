"""Vocoders: log-mel spectrogram (b, f, m) -> waveform (b, s) with s = m * hop.

Every vocoder is a callable ``vocoder(logmel, generator=None) -> wav`` with attributes ``cfg`` (the
``AudioConfig`` it inverts), ``kind`` and ``name``. The input must be at the native hop
(``Config.mel_frames`` frames per clip; resample with ``features.mel.resample_time`` first when the
model uses ``audio.time_steps``). A (f, m) input gives an (s,) output.

    build_vocoder("griffinlim", cfg)            # fast Griffin-Lim (features.mel), no weights
    build_vocoder("neural", cfg, weights=DIR)   # Vocos-style network (neural.py), trained by train.py
    build_vocoder("auto", cfg)                  # the built-in neural vocoder if it matches cfg, else GL

The built-in weights live in ``openfoley/assets/vocoder-small`` and are shipped only when they beat
Griffin-Lim on held-out bank audio (``docs/vocoder.md`` has the measurements and the decision).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Protocol

import torch

from openfoley.config import AudioConfig
from openfoley.errors import ConfigError, ModelError
from openfoley.vocoder.griffinlim import GriffinLimVocoder
from openfoley.vocoder.neural import VocoderConfig, VocosNet, vocoder_preset
from openfoley.vocoder.weights import load_vocoder, read_meta, save_vocoder

BUILTIN_DIR = Path(__file__).resolve().parents[1] / "assets" / "vocoder-small"
KINDS = ("auto", "griffinlim", "neural")
# AudioConfig fields that do not change what a mel frame means (Griffin-Lim's own setting, and the
# model-side time resampling that callers undo before vocoding).
_IGNORED_AUDIO_FIELDS = ("griffin_lim_iters", "griffin_lim_momentum", "griffin_lim_init", "time_steps")


class Vocoder(Protocol):
    cfg: AudioConfig
    kind: str

    @property
    def name(self) -> str: ...

    def __call__(self, logmel: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor: ...


class NeuralVocoder:
    """Wraps a ``VocosNet`` for inference: ``__call__(logmel (b, f, m)) -> (b, m * hop)``.

    Deterministic (no sampling); ``generator`` is accepted for the common interface and ignored.
    """

    kind = "neural"

    def __init__(self, net: VocosNet, name: str = "neural"):
        self.net = net.eval()
        self.cfg = net.cfg.audio
        self._name = name

    @property
    def name(self) -> str:
        return self._name

    def to(self, device: torch.device | str) -> NeuralVocoder:
        self.net.to(device)
        return self

    def __call__(self, logmel: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        single = logmel.dim() == 2
        x = logmel[None] if single else logmel
        if x.dim() != 3 or x.shape[1] != self.cfg.n_mels or x.shape[-1] < 1:
            raise ValueError(f"vocoder: expected log-mel (b, {self.cfg.n_mels}, m), got {tuple(logmel.shape)}")
        device = next(self.net.parameters()).device
        with torch.inference_mode():
            wav = self.net(x.to(device=device, dtype=torch.float32))
        return wav[0] if single else wav


def same_audio(a: AudioConfig, b: AudioConfig) -> bool:
    """Whether two audio configs define the same log-mel frames (ignoring GL iterations, time_steps)."""
    da, db = dataclasses.asdict(a), dataclasses.asdict(b)
    for k in _IGNORED_AUDIO_FIELDS:
        da.pop(k), db.pop(k)
    return da == db


def builtin_available(cfg: AudioConfig) -> bool:
    """Whether the shipped neural vocoder exists and inverts ``cfg``'s log-mel."""
    if not (BUILTIN_DIR / "vocoder.json").is_file():
        return False
    try:
        return same_audio(load_vocoder(BUILTIN_DIR).cfg.audio, cfg)
    except ModelError:
        return False


def build_vocoder(kind: str, cfg: AudioConfig, weights: str | os.PathLike | None = None) -> Vocoder:
    """A vocoder for log-mels made with ``cfg``.

    ``kind``: ``griffinlim``; ``neural`` (weights from ``weights``, default the built-in folder;
    ModelError if missing or trained for other audio settings); ``auto`` (neural when ``weights`` is
    given or the built-in matches ``cfg``, else Griffin-Lim).
    """
    if kind not in KINDS:
        raise ConfigError(f"unknown vocoder {kind!r}; choose one of {', '.join(KINDS)}")
    if kind == "griffinlim":
        return GriffinLimVocoder(cfg)
    if kind == "auto" and weights is None and not builtin_available(cfg):
        return GriffinLimVocoder(cfg)
    folder = Path(weights) if weights is not None else BUILTIN_DIR
    if weights is None and not folder.is_dir():
        raise ModelError(f"{folder}: no built-in neural vocoder in this install; use --vocoder griffinlim")
    net = load_vocoder(folder)
    if not same_audio(net.cfg.audio, cfg):
        raise ModelError(f"{folder}: vocoder was trained for other audio settings "
                         f"({net.cfg.audio}) than the model's ({cfg})")
    return NeuralVocoder(net, name=f"neural:{folder.name}")


__all__ = [
    "BUILTIN_DIR", "GriffinLimVocoder", "KINDS", "NeuralVocoder", "Vocoder", "VocoderConfig", "VocosNet",
    "build_vocoder", "builtin_available", "load_vocoder", "read_meta", "same_audio", "save_vocoder",
    "vocoder_preset",
]
