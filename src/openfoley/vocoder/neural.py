"""A small Vocos-style neural vocoder: log-mel frames -> STFT magnitude and phase -> inverse STFT.

Vocos (Siuzdenko 2023) keeps the network at the frame rate: a 1-D ConvNeXt backbone over mel frames
predicts, per frame, a log-magnitude and a phase for every linear-frequency bin, and a fixed inverse
STFT turns them into samples. No upsampling layers, so it is cheap on CPU (measured in
``docs/vocoder.md``). Our reading:

* **Frames.** ``features.mel.log_mel`` gives m = s // hop frames, the centred STFT's frames 0..m-1
  (its last frame, centred on sample s, is dropped). The network sees the mel padded by one repeated
  frame at the end, predicts m + 1 STFT frames and the centred inverse STFT (same window, hop and
  ``n_fft`` as the analysis) returns exactly m * hop samples. ``istft_head`` is that inverse alone: on
  the true magnitude and phase of a waveform's STFT it reconstructs the waveform to float precision.
* **Magnitude.** The head predicts a log-gain *on top of* the mel pseudo-inverse ``log(pinv(W) mel)``
  (W the mel filterbank), and that part of the head starts at zero (DiT-style zero init), so an
  untrained network already outputs the pseudo-inverse magnitude and training spends its steps on
  phase and spectral detail. Log-magnitudes are clamped at ``max_log_mag`` (Vocos clips at exp 100).
* **Phase.** As in Vocos, the head gives one real number p per bin and the spectrum is
  ``mag * (cos p + i sin p)``: no wrapping problem, no magnitude to normalise.

Shapes (package alphabet): b batch, f mel bins, m mel frames, s samples (s = m * hop), d width;
k = n_fft // 2 + 1 linear-frequency bins (a local letter; not the key-frame k of the package).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from openfoley.config import AudioConfig
from openfoley.errors import ModelError
from openfoley.features.mel import mel_filterbank


@dataclass(frozen=True)
class VocoderConfig:
    """The neural vocoder's own config: the audio front end it inverts plus its network size."""

    audio: AudioConfig = field(default_factory=AudioConfig)
    width: int = 192  # d
    intermediate: int = 576  # ConvNeXt MLP width
    layers: int = 6
    kernel: int = 7  # depthwise conv kernel, in frames
    layer_scale: float = 1e-2  # initial ConvNeXt layer-scale (Vocos: 1 / layers)
    max_log_mag: float = 8.0  # clamp on predicted log-magnitude (exp(8) ~ 3000 > a full-scale sine's ~256)
    min_lin: float = 1e-5  # floor of the pseudo-inverse magnitude before its log (= AudioConfig.log_floor)

    @property
    def bins(self) -> int:
        """k: linear-frequency bins of the STFT the head predicts."""
        return self.audio.n_fft // 2 + 1

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "vocoder config") -> VocoderConfig:
        try:
            d = dict(d)
            audio = AudioConfig(**d.pop("audio"))
            return cls(audio=audio, **d)
        except (TypeError, KeyError) as e:
            raise ModelError(f"{where}: does not match this version of OpenFoley ({e})") from None


def vocoder_preset(name: str, audio: AudioConfig) -> VocoderConfig:
    """Network sizes by name: ``tiny`` (tests, ~30k params) and ``small`` (~1.5M params, the built-in)."""
    if name == "tiny":
        return VocoderConfig(audio=audio, width=32, intermediate=64, layers=2)
    if name == "small":
        return VocoderConfig(audio=audio)
    raise ModelError(f"unknown vocoder preset {name!r}; choose tiny or small")


class ConvNeXtBlock(nn.Module):
    """x + gamma * MLP(LN(dwconv(x))) over frames: (b, m, d) -> (b, m, d)."""

    def __init__(self, dim: int, hidden: int, kernel: int, layer_scale: float):
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel, padding=kernel // 2, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pw1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.pw2 = nn.Linear(hidden, dim)
        self.gamma = nn.Parameter(torch.full((dim,), layer_scale))

    def forward(self, x: Tensor) -> Tensor:
        h = self.dwconv(x.transpose(1, 2)).transpose(1, 2)  # (b, m, d)
        return x + self.gamma * self.pw2(self.act(self.pw1(self.norm(h))))


class VocosNet(nn.Module):
    """Log-mel (b, f, m) -> waveform (b, m * hop). Pure: no I/O, no randomness."""

    pinv: Tensor  # non-persistent buffers: mel filterbank pseudo-inverse (k, f), STFT window
    window: Tensor

    def __init__(self, cfg: VocoderConfig):
        super().__init__()
        self.cfg = cfg
        a = cfg.audio
        d, k = cfg.width, cfg.bins
        self.embed = nn.Conv1d(a.n_mels, d, cfg.kernel, padding=cfg.kernel // 2)
        self.norm_in = nn.LayerNorm(d, eps=1e-6)
        self.blocks = nn.ModuleList(
            ConvNeXtBlock(d, cfg.intermediate, cfg.kernel, cfg.layer_scale) for _ in range(cfg.layers))
        self.norm_out = nn.LayerNorm(d, eps=1e-6)
        self.mag = nn.Linear(d, k)
        self.phase = nn.Linear(d, k)
        nn.init.zeros_(self.mag.weight)  # start from the pseudo-inverse magnitude (module docstring)
        nn.init.zeros_(self.mag.bias)
        fb = mel_filterbank(a.sample_rate, a.n_fft, a.n_mels, a.f_min, a.f_max)  # (f, k)
        # Derived from the config, so not saved with the weights.
        self.register_buffer("pinv", torch.linalg.pinv(fb.double()).float(), persistent=False)  # (k, f)
        self.register_buffer("window", torch.hann_window(a.win_length, periodic=True), persistent=False)

    def spectrum(self, logmel: Tensor) -> tuple[Tensor, Tensor]:
        """Log-mel (b, f, m) -> (log-magnitude, phase), each (b, k, m + 1)."""
        a = self.cfg.audio
        assert logmel.dim() == 3 and logmel.shape[1] == a.n_mels, (
            f"VocosNet: expected log-mel (b, {a.n_mels}, m), got {tuple(logmel.shape)}")
        x = torch.cat([logmel, logmel[..., -1:]], dim=-1).float()  # (b, f, m+1): the final centred frame
        prior = torch.einsum("kf,bfm->bkm", self.pinv, x.exp()).clamp(min=self.cfg.min_lin).log()
        h = self.norm_in(self.embed(x).transpose(1, 2))  # (b, m+1, d)
        for block in self.blocks:
            h = block(h)
        h = self.norm_out(h)
        log_mag = (prior + self.mag(h).transpose(1, 2)).clamp(max=self.cfg.max_log_mag)  # (b, k, m+1)
        phase = self.phase(h).transpose(1, 2)  # (b, k, m+1)
        return log_mag, phase

    def istft_head(self, mag: Tensor, phase: Tensor) -> Tensor:
        """Magnitude and phase (b, k, m + 1) -> waveform (b, m * hop) by the centred inverse STFT."""
        a = self.cfg.audio
        assert mag.shape == phase.shape and mag.dim() == 3 and mag.shape[1] == self.cfg.bins, (
            f"istft_head: magnitude {tuple(mag.shape)} and phase {tuple(phase.shape)} must both be "
            f"(b, {self.cfg.bins}, m+1)")
        spec = torch.polar(mag.float(), phase.float())  # (b, k, m+1) complex
        length = (mag.shape[-1] - 1) * a.hop_length
        return torch.istft(spec, a.n_fft, hop_length=a.hop_length, win_length=a.win_length,
                           window=self.window, center=True, length=length)

    def forward(self, logmel: Tensor) -> Tensor:
        log_mag, phase = self.spectrum(logmel)
        wav = self.istft_head(log_mag.exp(), phase)
        assert wav.shape == (logmel.shape[0], logmel.shape[-1] * self.cfg.audio.hop_length), (
            f"VocosNet: log-mel {tuple(logmel.shape)} gave waveform {tuple(wav.shape)}")
        return wav
