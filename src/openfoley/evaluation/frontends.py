"""Exact front ends of the published audio evaluators: waveform in, the network's input tensor out.

Numbers from evaluators are only comparable with the literature if the audio reaches the network
exactly as it did in the published toolkits. Each function here reproduces one of them (written from
their documented settings; no code copied):

- ``vggish_patches`` (VGGish, used for FAD): mono 16 kHz; frames of 400 samples (25 ms) every 160
  (10 ms), no centring or padding; periodic Hann window; magnitude (not power) of a 512-point rfft;
  64 HTK-mel bands 125-7500 Hz with triangles drawn in the mel domain and the DC bin excluded;
  ``log(mel + 0.01)``; then non-overlapping patches of 96 frames (0.96 s). Output (N, 1, 96, 64);
  audio shorter than one patch gives N = 0.
- ``passt_mel`` (PaSST, used for KL): mono 32 kHz padded with zeros (or cropped) to 10 s;
  pre-emphasis ``x[n] - 0.97 x[n-1]``; centred STFT (reflect padding) with n_fft 1024, a symmetric
  Hann window of 800 samples, hop 320; power; 128 Kaldi-style mel banks (HTK mel, triangles in the mel
  domain) from 0 to 15500 Hz (PaSST's evaluation-time f_max = sr/2 - 500); ``log(mel + 1e-5)``; then
  ``(x + 4.5) / 5``. Output (b, 128, 1000) for 10 s.
- ``cnn14_log_mel`` (PANNs CNN14, for KL/classification): mono 32 kHz; centred STFT (reflect) with
  n_fft 1024 = window 1024 (periodic Hann), hop 320; power; 64 Slaney mel bands 50-14000 Hz with
  Slaney area normalisation (``openfoley.features.mel.mel_filterbank``, the librosa default that PANNs
  uses); ``10 log10(max(mel, 1e-10))``. Output (b, 1, m, 64), m = s // 320 + 1.

``resample`` uses a polyphase filter (scipy ``resample_poly``); the published VGGish pipeline uses
resampy, so resampled inputs differ from it at the level of the anti-aliasing filter only.

Shapes (package alphabet): b batch, s samples, m mel frames, f mel bins.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from scipy.signal import resample_poly

from openfoley.features.mel import mel_filterbank

VGGISH_SR = 16000
VGGISH_WIN = 400  # 25 ms
VGGISH_HOP = 160  # 10 ms
VGGISH_N_FFT = 512  # next power of two above the window
VGGISH_MELS = 64
VGGISH_FMIN, VGGISH_FMAX = 125.0, 7500.0
VGGISH_LOG_OFFSET = 0.01
VGGISH_PATCH = 96  # frames per 0.96 s example (and the hop between examples)

PASST_SR = 32000
PASST_SECONDS = 10.0
PASST_N_FFT, PASST_WIN, PASST_HOP, PASST_MELS = 1024, 800, 320, 128
PASST_FMIN, PASST_FMAX = 0.0, 15500.0

CNN14_SR = 32000
CNN14_N_FFT, CNN14_HOP, CNN14_MELS = 1024, 320, 64
CNN14_FMIN, CNN14_FMAX = 50.0, 14000.0


def htk_mel(hz: np.ndarray | float) -> np.ndarray:
    """HTK mel scale ``1127 ln(1 + f / 700)`` (elementwise, float64)."""
    return 1127.0 * np.log1p(np.asarray(hz, dtype=np.float64) / 700.0)


def mel_domain_triangles(freqs_hz: np.ndarray, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    """(k, f) float64 weights of ``n_mels`` triangles drawn in the HTK-mel domain at frequencies (k,).

    Band edges are ``n_mels + 2`` points evenly spaced in mel between ``fmin`` and ``fmax``; band i
    rises linearly *in mel* from edge i to edge i+1 and falls to edge i+2 (peak 1, no area
    normalisation). This is the filterbank of VGGish's ``mel_features`` and of Kaldi's
    ``get_mel_banks`` (which PaSST uses); both differ from librosa's ``htk=True`` mel, whose
    triangles are linear in Hz.
    """
    if not 0.0 <= fmin < fmax:
        raise ValueError(f"need 0 <= fmin < fmax, got {fmin}..{fmax}")
    mel = htk_mel(freqs_hz)[:, None]  # (k, 1)
    edges = np.linspace(htk_mel(fmin), htk_mel(fmax), n_mels + 2)
    lower, centre, upper = edges[None, :-2], edges[None, 1:-1], edges[None, 2:]  # (1, f) each
    rise = (mel - lower) / (centre - lower)
    fall = (upper - mel) / (upper - centre)
    return np.maximum(0.0, np.minimum(rise, fall))


def vggish_mel_matrix() -> torch.Tensor:
    """(257, 64) float32: VGGish's mel weights over the 257 rfft bins of a 512-point FFT at 16 kHz."""
    freqs = np.linspace(0.0, VGGISH_SR / 2, VGGISH_N_FFT // 2 + 1)
    w = mel_domain_triangles(freqs, VGGISH_MELS, VGGISH_FMIN, VGGISH_FMAX)
    w[0, :] = 0.0  # the DC bin never contributes (HTK convention kept by VGGish)
    return torch.from_numpy(w).float()


def resample(wav: torch.Tensor | np.ndarray, sr_in: int, sr_out: int) -> torch.Tensor:
    """Polyphase resampling along the last axis: (..., s) -> (..., s * sr_out / sr_in) float32."""
    x = torch.as_tensor(wav).float()
    if sr_in == sr_out:
        return x
    if sr_in <= 0 or sr_out <= 0:
        raise ValueError(f"sample rates must be positive, got {sr_in} -> {sr_out}")
    g = math.gcd(int(sr_in), int(sr_out))
    y = resample_poly(x.numpy().astype(np.float64), int(sr_out) // g, int(sr_in) // g, axis=-1)
    return torch.from_numpy(np.ascontiguousarray(y)).float()


def to_mono(wav: torch.Tensor | np.ndarray) -> torch.Tensor:
    """(s,) or (c, s) -> (s,) float32 by averaging channels (as every toolkit here does)."""
    x = torch.as_tensor(wav).float()
    if x.dim() == 2:
        return x.mean(dim=0)
    if x.dim() != 1:
        raise ValueError(f"expected a waveform (s,) or (c, s), got shape {tuple(x.shape)}")
    return x


def vggish_log_mel(wav: torch.Tensor | np.ndarray, sr: int = VGGISH_SR) -> torch.Tensor:
    """VGGish log-mel frames of one clip: (s,) or (c, s) at ``sr`` -> (m, 64) float32.

    m = 1 + (s16 - 400) // 160 frames for s16 samples at 16 kHz (0 if s16 < 400).
    """
    x = resample(to_mono(wav), sr, VGGISH_SR)
    if x.shape[0] < VGGISH_WIN:
        return torch.zeros(0, VGGISH_MELS)
    frames = x.unfold(0, VGGISH_WIN, VGGISH_HOP)  # (m, 400)
    window = torch.hann_window(VGGISH_WIN, periodic=True)
    mag = torch.fft.rfft(frames * window, n=VGGISH_N_FFT).abs()  # (m, 257)
    mel = mag @ vggish_mel_matrix()  # (m, 64)
    out = torch.log(mel + VGGISH_LOG_OFFSET)
    assert out.shape == (1 + (x.shape[0] - VGGISH_WIN) // VGGISH_HOP, VGGISH_MELS), (
        f"vggish_log_mel: got {tuple(out.shape)} for {x.shape[0]} samples")
    return out


def vggish_patches(wav: torch.Tensor | np.ndarray, sr: int = VGGISH_SR) -> torch.Tensor:
    """VGGish network input for one clip: (s,) or (c, s) -> (N, 1, 96, 64), N = m // 96.

    Patches do not overlap and a trailing partial patch is dropped, as in the published pipeline
    (0.96 s examples with a 0.96 s hop).
    """
    mel = vggish_log_mel(wav, sr)  # (m, 64)
    n = mel.shape[0] // VGGISH_PATCH
    return mel[: n * VGGISH_PATCH].reshape(n, 1, VGGISH_PATCH, VGGISH_MELS)


def pad_or_crop(wav: torch.Tensor, length: int) -> torch.Tensor:
    """(..., s) -> (..., length): zero-pad at the end or keep the first ``length`` samples."""
    s = wav.shape[-1]
    if s >= length:
        return wav[..., :length]
    return F.pad(wav, (0, length - s))


def _batch(wav: torch.Tensor | np.ndarray) -> tuple[torch.Tensor, bool]:
    x = torch.as_tensor(wav).float()
    if x.dim() == 1:
        return x[None], True
    if x.dim() != 2:
        raise ValueError(f"expected a mono waveform (s,) or batch (b, s), got shape {tuple(x.shape)}")
    return x, False


def passt_mel_matrix() -> torch.Tensor:
    """(128, 513) float32: Kaldi mel banks over bins k * 31.25 Hz, k < 512, plus a zero Nyquist column."""
    freqs = np.arange(PASST_N_FFT // 2) * (PASST_SR / PASST_N_FFT)
    w = mel_domain_triangles(freqs, PASST_MELS, PASST_FMIN, PASST_FMAX).T  # (128, 512)
    return F.pad(torch.from_numpy(w).float(), (0, 1))


def passt_mel(wav: torch.Tensor | np.ndarray, sr: int = PASST_SR,
              seconds: float | None = PASST_SECONDS) -> torch.Tensor:
    """PaSST input: mono (s,) or (b, s) at ``sr`` -> (b, 128, m), m = 1000 for 10 s.

    ``seconds``: pad/crop length (None keeps the clip's own length). Batched input only.
    """
    x, _ = _batch(wav)
    x = resample(x, sr, PASST_SR)
    if seconds is not None:
        x = pad_or_crop(x, round(seconds * PASST_SR))
    x = x[:, 1:] - 0.97 * x[:, :-1]  # pre-emphasis: (b, s - 1)
    if x.shape[-1] <= PASST_N_FFT // 2:
        raise ValueError(f"passt_mel: {x.shape[-1] + 1} samples is too short for n_fft {PASST_N_FFT}")
    spec = torch.stft(x, PASST_N_FFT, hop_length=PASST_HOP, win_length=PASST_WIN,
                      window=torch.hann_window(PASST_WIN, periodic=False), center=True,
                      pad_mode="reflect", return_complex=True)  # (b, 513, m)
    power = spec.real**2 + spec.imag**2
    mel = torch.einsum("fk,bkm->bfm", passt_mel_matrix(), power)
    out = (torch.log(mel + 1e-5) + 4.5) / 5.0
    assert out.shape == (x.shape[0], PASST_MELS, x.shape[-1] // PASST_HOP + 1), (
        f"passt_mel: got {tuple(out.shape)} for input {tuple(x.shape)}")
    return out


def cnn14_log_mel(wav: torch.Tensor | np.ndarray, sr: int = CNN14_SR) -> torch.Tensor:
    """PANNs CNN14 input: mono (s,) or (b, s) at ``sr`` -> (b, 1, m, 64), m = s32 // 320 + 1.

    No padding or cropping here: PANNs runs on the clip as given (AudioSet clips are 10 s).
    """
    x, _ = _batch(wav)
    x = resample(x, sr, CNN14_SR)
    if x.shape[-1] <= CNN14_N_FFT // 2:
        raise ValueError(f"cnn14_log_mel: {x.shape[-1]} samples is too short for n_fft {CNN14_N_FFT}")
    spec = torch.stft(x, CNN14_N_FFT, hop_length=CNN14_HOP, win_length=CNN14_N_FFT,
                      window=torch.hann_window(CNN14_N_FFT, periodic=True), center=True,
                      pad_mode="reflect", return_complex=True)  # (b, 513, m)
    power = spec.real**2 + spec.imag**2
    fb = mel_filterbank(CNN14_SR, CNN14_N_FFT, CNN14_MELS, CNN14_FMIN, CNN14_FMAX)  # (64, 513)
    mel = torch.einsum("fk,bkm->bmf", fb, power)
    out = 10.0 * torch.log10(torch.clamp(mel, min=1e-10))
    return out[:, None]  # (b, 1, m, 64)
