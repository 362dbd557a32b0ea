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
multiplicative non-negative least-squares updates (``mel_to_linear``) -> a phase from the magnitude's
gradients (``pghi_phase``) -> a few iterations of fast Griffin-Lim with momentum (``griffin_lim``)
-> (b, s) with ``s = m * hop``. Defaults (``AudioConfig.griffin_lim_*``) and their measurement:
docs/vocoder.md.

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
    for _ in range(nnls_iters):  # W^T (W x), not (W^T W) x: 2 f k m multiply-adds instead of k^2 m
        x = x * wty / (torch.einsum("fk,bfm->bkm", fb, torch.einsum("fk,bkm->bfm", fb, x)) + 1e-12)
    return x


# Hann window's Gaussian equivalent: g(t) = exp(-pi t^2 / lambda) with lambda = 0.25645 L^2 for a Hann
# window of L samples (Prusa, Balazs & Sondergaard 2017, "A noniterative method for reconstruction of
# phase from STFT magnitude", Table I).
_HANN_LAMBDA = 0.25645
GL_INITS = ("random", "pghi")


def _diff(x: torch.Tensor, dim: int) -> torch.Tensor:
    """Centred difference (x[i+1] - x[i-1]) / 2 along ``dim``, one-sided at both ends."""
    n = x.shape[dim]
    if n < 2:
        return torch.zeros_like(x)
    a, b = x.narrow(dim, 0, n - 1), x.narrow(dim, 1, n - 1)
    inner = (x.narrow(dim, 2, n - 2) - x.narrow(dim, 0, n - 2)) / 2
    return torch.cat([b.narrow(dim, 0, 1) - a.narrow(dim, 0, 1), inner,
                      b.narrow(dim, n - 2, 1) - a.narrow(dim, n - 2, 1)], dim)


def pghi_phase(mag: torch.Tensor, cfg: AudioConfig, rel_floor: float = 1e-5) -> torch.Tensor:
    """A phase (b, k, m) for a magnitude (b, k, m) from the magnitude alone: Griffin-Lim's starting point.

    Phase-gradient heuristic (Prusa et al. 2017). For a Gaussian window exp(-pi t^2 / lambda) the log
    of the STFT is analytic in (t - i lambda w), so the phase gradient follows from the log-magnitude
    gradient. In torch.stft's convention (each frame's phase measured from its first sample, t the
    frame centre in samples, w in cycles per sample; derivation in docs/vocoder.md):

        d phi / dt = (1 / lambda) d log|V| / dw + 2 pi w       (the instantaneous frequency)
        d phi / dw = -lambda d log|V| / dt - pi n_fft           (the time of the energy in the frame)

    With the Hann window's lambda = 0.25645 win_length^2, and derivatives as centred differences over
    bins (dw = 1 / n_fft) and frames (dt = hop). Integration, in place of the paper's heap: within a
    frame the bins are grouped around spectral peaks (each bin goes to the larger of the nearest peak
    below and above it); a peak's phase is carried from the previous frame by its instantaneous
    frequency (trapezoid rule), and every other bin of its group is the peak's phase plus the
    frequency-direction gradient summed from the peak. Frame 0 is integrated across frequency from
    bin 0. A stationary tone therefore keeps its phase advance of 2 pi w hop per frame, and a click
    gets the linear phase across bins that puts it at its time in the frame (tests/test_mel.py).
    Bins under ``rel_floor`` times the loudest one use that floor in the logarithm.
    """
    n_bins = cfg.n_fft // 2 + 1
    if mag.dim() != 3 or mag.shape[1] != n_bins:
        raise ValueError(f"pghi_phase: expected (b, {n_bins}, m), got {tuple(mag.shape)}")
    b, k, m = mag.shape
    mag = mag.float().permute(2, 0, 1).contiguous()  # (m, b, k): bins contiguous, frames outermost
    lam = _HANN_LAMBDA * cfg.win_length**2
    floor = mag.amax(dim=(0, 2), keepdim=True).clamp(min=1e-30) * rel_floor
    logm = torch.log(torch.maximum(mag, floor))
    w = torch.arange(k, dtype=torch.float32, device=mag.device) / cfg.n_fft
    # Phase advance per hop (rad), and phase step from bin i to bin i + 1 (rad).
    dphi_t = cfg.hop_length * (_diff(logm, 2) * cfg.n_fft / lam + 2 * math.pi * w)  # (m, b, k)
    dphi_w = -(lam / cfg.n_fft) * _diff(logm, 0) / cfg.hop_length - math.pi  # (m, b, k)
    # Frequency-integrated phase of each frame, zero at bin 0 (trapezoid rule).
    across = F.pad(torch.cumsum((dphi_w[..., 1:] + dphi_w[..., :-1]) / 2, 2), (1, 0))
    # Each bin's peak: local maxima over bins, then the larger of the nearest one below and above.
    padded = F.pad(mag, (1, 1), value=-1.0)  # (m, b, k + 2)
    is_peak = (padded[..., 1:-1] >= padded[..., :-2]) & (padded[..., 1:-1] > padded[..., 2:])
    idx = torch.arange(k, device=mag.device).expand(m, b, k)
    below = torch.where(is_peak, idx, -1).cummax(2).values
    above = torch.where(is_peak, idx, k).flip(2).cummin(2).values.flip(2)
    mag_below = torch.where(below >= 0, mag.gather(2, below.clamp(min=0)), -1.0)
    mag_above = torch.where(above < k, mag.gather(2, above.clamp(max=k - 1)), -1.0)
    peak = torch.where(mag_below >= mag_above, below, above).clamp(0, k - 1)  # (m, b, k)
    offset = across - across.gather(2, peak)  # phase of each bin relative to its peak
    step = (dphi_t[1:] + dphi_t[:-1]) / 2  # (m-1, b, k) phase advance from frame j-1 to j
    # Frame j's phase is an affine map of frame j-1's: phase_j = phase_{j-1}[P_j] + c_j, with P_j the
    # peaks and c_j the carried advance plus the offsets. The maps compose as (P, c) then (Q, d) =
    # (P[Q], c[Q] + d), so all prefixes come from a Hillis-Steele scan in log2(m) vectorised rounds
    # instead of m sequential ones. Each frame's shift is taken modulo 2 pi first, so the sums stay
    # below 2 pi m (float32 keeps them to ~1e-4 rad for a minute of frames).
    idx = peak[1:]  # (m-1, b, k)
    phase = chain_phase(across[0], idx, torch.remainder(step.gather(2, idx) + offset[1:], 2 * math.pi))
    return phase.permute(1, 2, 0)  # (b, k, m)


def chain_phase(first: torch.Tensor, idx: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """All frames of the recurrence ``phase_j = phase_{j-1}.gather(-1, idx_{j-1}) + shift_{j-1}``.

    first (b, k) is frame 0; idx (m-1, b, k) int64 and shift (m-1, b, k) float the maps to frames 1..m-1.
    Returns (m, b, k). Hillis-Steele scan over the map compositions (see ``pghi_phase``): log2(m)
    vectorised rounds, equal to the sequential loop up to float rounding (tests/test_griffin_lim.py).
    """
    idx, shift = idx.clone(), shift.clone()
    d = 1
    while d < idx.shape[0]:  # after this round, item j holds the composition of maps j-2d+1 .. j
        earlier = idx[d:]
        shift[d:] += shift[:-d].gather(2, earlier)
        idx[d:] = idx[:-d].gather(2, earlier)
        d *= 2
    return torch.cat([first[None], first.expand_as(shift).gather(2, idx) + shift])


def griffin_lim(
    mag: torch.Tensor,
    cfg: AudioConfig,
    iters: int | None = None,
    generator: torch.Generator | None = None,
    momentum: float | None = None,
    init: str | None = None,
) -> torch.Tensor:
    """Waveform from a magnitude spectrogram: (b, n_fft//2+1, m) -> (b, m * hop).

    Fast Griffin-Lim (Perraudin, Balazs & Sondergaard 2013): each iteration projects the spectrogram
    onto the consistent ones (iSTFT then STFT), then takes the phase of ``rebuilt - momentum / (1 +
    momentum) * previous`` (their Algorithm 2; the ``1 + momentum`` factor of their extrapolation
    drops out when only the phase is kept). ``momentum`` 0 is classic Griffin-Lim (Griffin & Lim
    1984), exactly. ``init``: "pghi" starts from ``pghi_phase`` (no randomness), "random" from phases
    uniform in [0, 2 pi) drawn from ``generator`` (None: a generator seeded 0, so it is deterministic
    too). None takes ``cfg.griffin_lim_iters`` / ``griffin_lim_momentum`` / ``griffin_lim_init``.
    The dropped last frame of ``log_mel`` is restored as a copy of frame m-1 so the centred inverse
    STFT covers m * hop samples.
    """
    iters = cfg.griffin_lim_iters if iters is None else iters
    momentum = cfg.griffin_lim_momentum if momentum is None else momentum
    init = cfg.griffin_lim_init if init is None else init
    n_bins = cfg.n_fft // 2 + 1
    if mag.dim() != 3 or mag.shape[1] != n_bins:
        raise ValueError(f"griffin_lim: expected (b, {n_bins}, m), got {tuple(mag.shape)}")
    if iters < 0 or not momentum >= 0 or init not in GL_INITS:
        raise ValueError(f"griffin_lim: need iters >= 0, momentum >= 0 and init in {GL_INITS}, "
                         f"got {iters}, {momentum}, {init!r}")
    mag = torch.cat([mag, mag[..., -1:]], dim=-1).float()  # (b, k, m+1)
    length = (mag.shape[-1] - 1) * cfg.hop_length
    window = _window(cfg, mag.device)

    def istft(spec: torch.Tensor) -> torch.Tensor:
        return torch.istft(spec, cfg.n_fft, hop_length=cfg.hop_length, win_length=cfg.win_length,
                           window=window, center=True, length=length)

    def fwd(wav: torch.Tensor) -> torch.Tensor:
        return torch.stft(wav, cfg.n_fft, hop_length=cfg.hop_length, win_length=cfg.win_length,
                          window=window, center=True, pad_mode="reflect", return_complex=True)

    if init == "pghi":
        phase = pghi_phase(mag, cfg)
    else:
        if generator is None:
            generator = torch.Generator().manual_seed(0)
        phase = 2 * math.pi * torch.rand(mag.shape, generator=generator, device=generator.device).to(mag.device)
    angles = torch.polar(torch.ones_like(mag), phase)
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
    momentum: float | None = None,
    init: str | None = None,
) -> torch.Tensor:
    """Hear any log-mel: (b, f, m) -> (b, m' * hop), or (f, m) -> (s,).

    ``native_frames`` (m'): if given and different from m, the mel is first resampled along time to
    the native hop (undoing ``AudioConfig.time_steps``); ``Config.mel_frames`` is the right value.
    ``iters``, ``generator``, ``momentum``, ``init``: as ``griffin_lim``.
    """
    x, single = (logmel[None], True) if logmel.dim() == 2 else (logmel, False)
    if native_frames is not None:
        x = resample_time(x, native_frames)
    wav = griffin_lim(mel_to_linear(torch.exp(x.float()), cfg), cfg, iters, generator, momentum, init)
    return wav[0] if single else wav


def spectral_convergence(ref: torch.Tensor, est: torch.Tensor) -> torch.Tensor:
    """||ref - est||_F / ||ref||_F per batch item, for magnitude spectrograms (b, k, m) -> (b,)."""
    return (ref - est).flatten(1).norm(dim=1) / ref.flatten(1).norm(dim=1).clamp(min=1e-12)
