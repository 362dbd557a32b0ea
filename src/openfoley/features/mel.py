"""Log-mel spectrograms and their inverse, in pure torch (batched, any device).

Forward: waveform (b, s) -> centre-padded STFT (hann window of ``win_length`` inside ``n_fft``,
reflect padding, hop ``hop_length``) -> magnitude -> mel filterbank -> ``log(max(mel, log_floor))``
-> (b, f, m). The centred STFT yields ``s // hop + 1`` frames; the last one (centred on the final
sample, half of it padding) is dropped so that ``m = s // hop`` exactly, which is what
``Config.mel_frames`` promises (8 s at 16 kHz, hop 320 -> 400 frames).

Mel scale: **Slaney** (linear below 1 kHz at 200/3 Hz per mel, logarithmic above, 27 mels per factor
6.4) with Slaney area normalisation (each triangle has unit area in Hz). This is the scale and
normalisation of the filterbanks most public mel vocoders were trained on, so a mel made here is on
their scale; at the paper's 8 kHz / 128 bands the linear low end also keeps the lowest triangles wider
than one FFT bin, which HTK's scale would not.

Inverse: ``exp`` -> mel pseudo-inverse, clamped to be non-negative and refined by a few
multiplicative non-negative least-squares updates (``mel_to_linear``) -> fast Griffin-Lim with
momentum (``griffin_lim``) -> (b, s) with ``s = m * hop``.

``resample_time`` linearly resamples the time axis (the ``paper`` preset's 400 native frames <-> 128
time steps per clip, docs/paper-notes.md); the inverse is the same call with the native length.

Shapes (package alphabet): b batch, s samples, f mel bins, m mel frames. The linear-frequency axis
has ``n_fft // 2 + 1`` bins.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from openfoley.config import AudioConfig
from openfoley.errors import ConfigError

# Slaney mel scale constants: linear part 200/3 Hz per mel up to 1 kHz (= 15 mels), then log with
# 27 mels per factor 6.4 in frequency.
_F_SP = 200.0 / 3.0
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = math.log(6.4) / 27.0


def hz_to_mel(hz: torch.Tensor) -> torch.Tensor:
    """Slaney mel of frequencies in Hz (elementwise)."""
    hz = torch.as_tensor(hz, dtype=torch.float64)
    lin = hz / _F_SP
    log = _MIN_LOG_MEL + torch.log(torch.clamp(hz, min=_MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOGSTEP
    return torch.where(hz < _MIN_LOG_HZ, lin, log)


def mel_to_hz(mel: torch.Tensor) -> torch.Tensor:
    """Inverse of ``hz_to_mel`` (elementwise)."""
    mel = torch.as_tensor(mel, dtype=torch.float64)
    lin = mel * _F_SP
    log = _MIN_LOG_HZ * torch.exp(_LOGSTEP * (torch.clamp(mel, min=_MIN_LOG_MEL) - _MIN_LOG_MEL))
    return torch.where(mel < _MIN_LOG_MEL, lin, log)


def mel_edges(n_mels: int, f_min: float, f_max: float) -> torch.Tensor:
    """(f + 2,) float64 Hz: triangle i rises from edge i, peaks at edge i+1, falls to edge i+2."""
    lo, hi = hz_to_mel(torch.tensor(f_min)), hz_to_mel(torch.tensor(f_max))
    return mel_to_hz(torch.linspace(float(lo), float(hi), n_mels + 2, dtype=torch.float64))


def mel_filterbank(
    sample_rate: int,
    n_fft: int,
    n_mels: int,
    f_min: float = 0.0,
    f_max: float | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """(f, n_fft//2+1) float32 Slaney-scale, area-normalised triangular filters.

    Row i is ``max(0, min((x - e_i)/(e_{i+1} - e_i), (e_{i+2} - x)/(e_{i+2} - e_{i+1})))`` times
    ``2 / (e_{i+2} - e_i)`` at the FFT bin frequencies x, with edges e from ``mel_edges``.
    """
    nyquist = sample_rate / 2
    f_max = nyquist if f_max is None else float(f_max)
    if not 0.0 <= f_min < f_max <= nyquist:
        raise ConfigError(f"mel range must satisfy 0 <= f_min < f_max <= {nyquist}, got {f_min}..{f_max}")
    if n_mels < 1 or n_fft < 2:
        raise ConfigError(f"need n_mels >= 1 and n_fft >= 2, got n_mels={n_mels}, n_fft={n_fft}")
    x = torch.linspace(0.0, nyquist, n_fft // 2 + 1, dtype=torch.float64)  # bin frequencies
    e = mel_edges(n_mels, f_min, f_max)
    lower, centre, upper = e[:-2, None], e[1:-1, None], e[2:, None]  # (f, 1) each
    rise = (x[None, :] - lower) / (centre - lower)
    fall = (upper - x[None, :]) / (upper - centre)
    tri = torch.clamp(torch.minimum(rise, fall), min=0.0)  # (f, n_fft//2+1)
    fb = tri * (2.0 / (upper - lower))
    return fb.to(dtype=torch.float32, device=device)


def _as_batch(wav: torch.Tensor) -> tuple[torch.Tensor, bool]:
    if wav.dim() == 1:
        return wav[None], True
    if wav.dim() != 2:
        raise ValueError(f"expected a waveform (s,) or (b, s), got shape {tuple(wav.shape)}")
    return wav, False


def _window(cfg: AudioConfig, device: torch.device) -> torch.Tensor:
    if not 0 < cfg.win_length <= cfg.n_fft:
        raise ConfigError(f"audio.win_length must be in 1..n_fft ({cfg.n_fft}), got {cfg.win_length}")
    return torch.hann_window(cfg.win_length, periodic=True, dtype=torch.float32, device=device)


def stft(wav: torch.Tensor, cfg: AudioConfig) -> torch.Tensor:
    """Complex centred STFT: (b, s) -> (b, n_fft//2+1, s//hop + 1), all frames kept."""
    if wav.shape[-1] <= cfg.n_fft // 2:
        raise ValueError(f"waveform of {wav.shape[-1]} samples is too short for n_fft={cfg.n_fft}")
    return torch.stft(
        wav.float(), cfg.n_fft, hop_length=cfg.hop_length, win_length=cfg.win_length,
        window=_window(cfg, wav.device), center=True, pad_mode="reflect", return_complex=True,
    )


def mel_magnitude(wav: torch.Tensor, cfg: AudioConfig) -> torch.Tensor:
    """Linear (not log) mel magnitudes: (b, s) -> (b, f, s // hop)."""
    mag = stft(wav, cfg).abs()[..., :-1]  # (b, n_fft//2+1, m): drop the last centred frame
    fb = mel_filterbank(cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.f_min, cfg.f_max, wav.device)
    return torch.einsum("fk,bkm->bfm", fb, mag)


def log_mel(wav: torch.Tensor, cfg: AudioConfig) -> torch.Tensor:
    """Log-mel spectrogram: (b, s) -> (b, f, m) float32, or (s,) -> (f, m); m = s // hop_length."""
    x, single = _as_batch(wav)
    out = torch.log(torch.clamp(mel_magnitude(x, cfg), min=cfg.log_floor))
    assert out.shape[1:] == (cfg.n_mels, x.shape[-1] // cfg.hop_length), (
        f"log_mel: got {tuple(out.shape)} for input {tuple(x.shape)}")
    return out[0] if single else out


def resample_time(mel: torch.Tensor, m_out: int) -> torch.Tensor:
    """Linear resampling along the last (time) axis: (..., m) -> (..., m_out).

    Frames are treated as cells covering the clip evenly (``align_corners=False``), so 400 frames per
    10 s and 128 frames per 10 s describe the same span; calling it again with the old length inverts
    it up to interpolation smoothing.
    """
    if m_out < 1:
        raise ValueError(f"m_out must be >= 1, got {m_out}")
    if mel.shape[-1] == m_out:
        return mel
    lead = mel.shape[:-1]
    flat = mel.reshape(-1, 1, mel.shape[-1]).float()  # (B, 1, m)
    out = F.interpolate(flat, size=m_out, mode="linear", align_corners=False)
    return out.reshape(*lead, m_out)


def mel_to_linear(mel: torch.Tensor, cfg: AudioConfig, nnls_iters: int = 8) -> torch.Tensor:
    """Non-negative linear magnitudes from linear mel magnitudes: (b, f, m) -> (b, n_fft//2+1, m).

    Starts from the pseudo-inverse clamped at zero, then runs ``nnls_iters`` multiplicative updates
    ``x <- x * (W^T y) / (W^T W x)`` that decrease ``||W x - y||`` while keeping x >= 0 (Lee & Seung).
    """
    if mel.dim() != 3 or mel.shape[1] != cfg.n_mels:
        raise ValueError(f"mel_to_linear: expected (b, {cfg.n_mels}, m), got {tuple(mel.shape)}")
    fb = mel_filterbank(cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.f_min, cfg.f_max, mel.device)
    y = mel.float()
    x = torch.einsum("kf,bfm->bkm", torch.linalg.pinv(fb), y).clamp(min=0.0)
    # Bins no filter covers (above f_max, or below f_min) stay at zero; the floor lets the others move.
    x = x + 1e-8 * (fb.sum(0) > 0)[None, :, None]
    wty = torch.einsum("fk,bfm->bkm", fb, y)
    gram = fb.T @ fb  # (k, k)
    for _ in range(nnls_iters):
        x = x * wty / (torch.einsum("kj,bjm->bkm", gram, x) + 1e-12)
    return x


def griffin_lim(
    mag: torch.Tensor,
    cfg: AudioConfig,
    iters: int | None = None,
    generator: torch.Generator | None = None,
    momentum: float = 0.99,
) -> torch.Tensor:
    """Waveform from a magnitude spectrogram: (b, n_fft//2+1, m) -> (b, m * hop).

    Fast Griffin-Lim (Perraudin et al. 2013) with ``momentum``; phases start uniformly random from
    ``generator`` (None: a generator seeded 0, so the default is deterministic). The dropped last frame
    of ``log_mel`` is restored as a copy of frame m-1 so the centred inverse STFT covers m * hop samples.
    """
    iters = cfg.griffin_lim_iters if iters is None else iters
    n_bins = cfg.n_fft // 2 + 1
    if mag.dim() != 3 or mag.shape[1] != n_bins:
        raise ValueError(f"griffin_lim: expected (b, {n_bins}, m), got {tuple(mag.shape)}")
    if generator is None:
        generator = torch.Generator().manual_seed(0)
    mag = torch.cat([mag, mag[..., -1:]], dim=-1).float()  # (b, k, m+1)
    length = (mag.shape[-1] - 1) * cfg.hop_length
    window = _window(cfg, mag.device)

    def istft(spec: torch.Tensor) -> torch.Tensor:
        return torch.istft(spec, cfg.n_fft, hop_length=cfg.hop_length, win_length=cfg.win_length,
                           window=window, center=True, length=length)

    def fwd(wav: torch.Tensor) -> torch.Tensor:
        return torch.stft(wav, cfg.n_fft, hop_length=cfg.hop_length, win_length=cfg.win_length,
                          window=window, center=True, pad_mode="reflect", return_complex=True)

    phase = torch.rand(mag.shape, generator=generator, device=generator.device).to(mag.device)
    angles = torch.polar(torch.ones_like(mag), 2 * math.pi * phase)
    prev = torch.zeros_like(angles)
    for _ in range(iters):
        rebuilt = fwd(istft(mag * angles))
        angles = rebuilt - (momentum / (1 + momentum)) * prev
        angles = angles / (angles.abs() + 1e-16)
        prev = rebuilt
    return istft(mag * angles)


def log_mel_to_wav(
    logmel: torch.Tensor,
    cfg: AudioConfig,
    iters: int | None = None,
    generator: torch.Generator | None = None,
    native_frames: int | None = None,
) -> torch.Tensor:
    """Hear any log-mel: (b, f, m) -> (b, m' * hop), or (f, m) -> (s,).

    ``native_frames`` (m'): if given and different from m, the mel is first resampled along time to
    the native hop (undoing ``AudioConfig.time_steps``); ``Config.mel_frames`` is the right value.
    """
    x, single = (logmel[None], True) if logmel.dim() == 2 else (logmel, False)
    if native_frames is not None:
        x = resample_time(x, native_frames)
    wav = griffin_lim(mel_to_linear(torch.exp(x.float()), cfg), cfg, iters, generator)
    return wav[0] if single else wav


def spectral_convergence(ref: torch.Tensor, est: torch.Tensor) -> torch.Tensor:
    """||ref - est||_F / ||ref||_F per batch item, for magnitude spectrograms (b, k, m) -> (b,)."""
    return (ref - est).flatten(1).norm(dim=1) / ref.flatten(1).norm(dim=1).clamp(min=1e-12)
