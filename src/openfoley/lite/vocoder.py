"""The Griffin-Lim vocoder in numpy alone: ``features.mel.log_mel_to_wav`` without torch.

The lite runtime turns a generated log-mel into a waveform without importing torch (or scipy), so
this module ports the torch vocoder path that ``vocoder.GriffinLimVocoder`` runs with its defaults,
operation for operation:

    exp -> mel_to_linear (pseudo-inverse clamped at 0, then 8 multiplicative NNLS updates)
        -> pghi_phase (phase from the magnitude's gradients, Hillis-Steele scan over frames)
        -> griffin_lim (fast Griffin-Lim with momentum) -> (b, m * hop)

The maths and the reasons for it are documented in ``openfoley.features.mel`` and docs/vocoder.md;
this file only reproduces them. What has to match torch to get the same samples:

- ``stft``: torch.stft with ``center=True``: reflect padding of ``n_fft // 2`` on both sides, frames
  every ``hop`` samples, a periodic Hann window of ``win_length`` centred inside ``n_fft`` (torch's
  float32 formula), each frame's phase measured from its first sample, no scaling.
- ``istft``: torch.istft with ``center=True`` and ``length=``: inverse real FFT of each frame times
  the window, overlap-added (frames summed in increasing order, as torch does), divided by the
  overlap-added squared window, then cut to ``[n_fft // 2, n_fft // 2 + length)``.
- float32 (complex64) wherever torch works in float32, the same epsilons (1e-8 floor for covered bins,
  1e-12 in the NNLS denominator, 1e-16 in the phase normalisation) and the same operation order.
  Torch's CPU cumsum accumulates in float64, so ours does too. Torch's float32 log, exp and complex abs
  are (nearly) correctly rounded while numpy's float32 SIMD versions are off by an ulp on 5-40% of
  inputs, so those are evaluated in float64 and rounded to float32 (``_f32``). The start phasors'
  cos and sin stay numpy float32: in float64 they cost a fifth of the run time (large arguments) and
  moved the waveform by under 4e-6.

The pseudo-inverse comes from numpy's SVD rather than torch's (``_pinv``); its entries differ from
torch's by ~5e-7 relative and everything downstream of it by float32 rounding, except where
``pghi_phase`` picks a different spectral peak between two nearly equal bins: that choice is
discontinuous in the magnitude, so on audio with near-silent stretches two runs whose magnitudes differ
by 1e-7 (torch against itself included) can give waveforms a few percent apart in L2 with the same
spectral convergence. Given the same pseudo-inverse the whole path matches torch to float32 rounding
(tests/test_lite_vocoder.py measures both). Everything is vectorised over batch and frames; only the
log2(m) scan rounds and the Griffin-Lim iterations are Python loops.

``init="random"`` draws its phases from numpy's generator, so it is a different (equally valid)
start than torch's ``torch.Generator`` draw; the default "pghi" start has no randomness and matches.
``native_frames`` time resampling is not ported: the lite runtime only serves models at the native hop.

Shapes (package alphabet): b batch, f mel bins, m mel frames, s samples, k linear bins
(``n_fft // 2 + 1``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import numpy as np

from openfoley.config import AudioConfig
from openfoley.errors import ConfigError

# Slaney mel scale constants (as features.mel): 200/3 Hz per mel up to 1 kHz, then 27 mels per x6.4.
_F_SP = 200.0 / 3.0
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOGSTEP = math.log(6.4) / 27.0
# Hann window's Gaussian equivalent, lambda = 0.25645 L^2 (Prusa et al. 2017, Table I).
_HANN_LAMBDA = 0.25645
GL_INITS = ("random", "pghi")


def _f32(fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> np.ndarray:
    """``fn`` evaluated in float64 and rounded to float32: how torch's float32 log/exp/cos/sin/abs come out."""
    return fn(x.astype(np.complex128 if np.iscomplexobj(x) else np.float64)).astype(np.float32)


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    hz = np.asarray(hz, dtype=np.float64)
    lin = hz / _F_SP
    log = _MIN_LOG_MEL + np.log(np.maximum(hz, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOGSTEP
    return np.where(hz < _MIN_LOG_HZ, lin, log)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    lin = mel * _F_SP
    log = _MIN_LOG_HZ * np.exp(_LOGSTEP * (np.maximum(mel, _MIN_LOG_MEL) - _MIN_LOG_MEL))
    return np.where(mel < _MIN_LOG_MEL, lin, log)


def _linspace(start: float, end: float, steps: int) -> np.ndarray:
    """(steps,) float64 as torch.linspace computes it: from the start up to half way, from the end after."""
    if steps == 1:
        return np.array([start], dtype=np.float64)
    step = (end - start) / (steps - 1)
    i = np.arange(steps, dtype=np.float64)
    return np.where(i < steps // 2, start + step * i, end - step * (steps - 1 - i))


def mel_filterbank(
    sample_rate: int, n_fft: int, n_mels: int, f_min: float = 0.0, f_max: float | None = None
) -> np.ndarray:
    """(f, k) float32 Slaney-scale, area-normalised triangular filters; equal to ``features.mel``'s.

    Built in float64 and cast to float32 at the end, as the torch version is. ``f_min`` and ``f_max``
    pass through float32 on the way to the mel edges, as ``torch.tensor(f_min)`` makes them there.
    """
    nyquist = sample_rate / 2
    f_max = nyquist if f_max is None else float(f_max)
    if not 0.0 <= f_min < f_max <= nyquist:
        raise ConfigError(f"mel range must satisfy 0 <= f_min < f_max <= {nyquist}, got {f_min}..{f_max}")
    if n_mels < 1 or n_fft < 2:
        raise ConfigError(f"need n_mels >= 1 and n_fft >= 2, got n_mels={n_mels}, n_fft={n_fft}")
    x = _linspace(0.0, nyquist, n_fft // 2 + 1)  # bin frequencies
    lo = float(_hz_to_mel(np.array(f_min, dtype=np.float32)))
    hi = float(_hz_to_mel(np.array(f_max, dtype=np.float32)))
    e = _mel_to_hz(_linspace(lo, hi, n_mels + 2))  # (f + 2,) edges in Hz
    lower, centre, upper = e[:-2, None], e[1:-1, None], e[2:, None]  # (f, 1) each
    rise = (x[None, :] - lower) / (centre - lower)
    fall = (upper - x[None, :]) / (upper - centre)
    tri = np.maximum(np.minimum(rise, fall), 0.0)  # (f, k)
    return (tri * (2.0 / (upper - lower))).astype(np.float32)


def _window(cfg: AudioConfig) -> np.ndarray:
    """(n_fft,) float32: torch.hann_window(win_length, periodic=True), zero-padded to the centre of n_fft."""
    n = cfg.win_length
    if not 0 < n <= cfg.n_fft:
        raise ConfigError(f"audio.win_length must be in 1..n_fft ({cfg.n_fft}), got {n}")
    # torch: a symmetric window of n + 1 points, last one dropped; arange * (2 pi / n), cos, * -0.5, + 0.5.
    cos = _f32(np.cos, np.arange(n, dtype=np.float32) * np.float32(2 * math.pi / n))
    hann = cos * np.float32(-0.5) + np.float32(0.5)
    left = (cfg.n_fft - n) // 2
    window = np.zeros(cfg.n_fft, dtype=np.float32)
    window[left:left + n] = hann
    return window


def _frames_stft(wav: np.ndarray, cfg: AudioConfig, window: np.ndarray) -> np.ndarray:
    """(b, s) float32 -> (b, s // hop + 1, k) complex64: the centred STFT, frames before bins."""
    half = cfg.n_fft // 2
    pad = [(0, 0)] * (wav.ndim - 1) + [(half, half)]
    padded = np.pad(wav, pad, mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, cfg.n_fft, axis=-1)[..., ::cfg.hop_length, :]
    return np.fft.rfft(frames * window, axis=-1).astype(np.complex64, copy=False)


def _envelope(cfg: AudioConfig, window: np.ndarray, n_frames: int, length: int) -> np.ndarray:
    """(length,) float32: the overlap-added squared window of ``n_frames`` frames, cut as ``_frames_istft``."""
    sq = np.broadcast_to(window * window, (n_frames, cfg.n_fft))
    env = _cut(_overlap_add(sq, cfg.hop_length), cfg.n_fft // 2, length)
    if not (np.abs(env) > 1e-11).all():
        raise ValueError("istft: the window's overlap-add is zero somewhere (hop too large for the window)")
    return env


def _overlap_add(frames: np.ndarray, hop: int) -> np.ndarray:
    """(..., F, n) -> (..., n + hop (F - 1)): frame i added at sample i * hop, frames summed in order.

    Each frame is cut into ``r = ceil(n / hop)`` blocks of ``hop`` samples; block j of frame i lands on
    output block i + j, so r vectorised adds cover all frames. They run from the last block to the
    first so that every output sample sums its frames in increasing order, as torch's unfold_backward.
    """
    *lead, n_frames, n = frames.shape
    r = -(-n // hop)
    blocks = np.zeros((*lead, n_frames, r * hop), dtype=frames.dtype)
    blocks[..., :n] = frames
    blocks = blocks.reshape(*lead, n_frames, r, hop)
    out = np.zeros((*lead, n_frames + r - 1, hop), dtype=frames.dtype)
    for j in reversed(range(r)):
        out[..., j:j + n_frames, :] += blocks[..., :, j, :]
    return out.reshape(*lead, (n_frames + r - 1) * hop)[..., :n + hop * (n_frames - 1)]


def _cut(y: np.ndarray, start: int, length: int) -> np.ndarray:
    """y[..., start:start + length], zero-padded at the end where y is shorter (torch.istft's ``length``)."""
    y = y[..., start:start + length]
    if y.shape[-1] < length:
        y = np.concatenate([y, np.zeros((*y.shape[:-1], length - y.shape[-1]), dtype=y.dtype)], axis=-1)
    return y


def _frames_istft(spec: np.ndarray, cfg: AudioConfig, window: np.ndarray, envelope: np.ndarray,
                  length: int) -> np.ndarray:
    """(b, F, k) complex64 -> (b, length) float32, with ``envelope`` from ``_envelope``."""
    frames = np.fft.irfft(spec, n=cfg.n_fft, axis=-1).astype(np.float32, copy=False) * window
    return _cut(_overlap_add(frames, cfg.hop_length), cfg.n_fft // 2, length) / envelope


def stft(wav: np.ndarray, cfg: AudioConfig) -> np.ndarray:
    """Complex centred STFT: (b, s) -> (b, k, s // hop + 1) complex64, all frames kept (as ``features.mel.stft``)."""
    wav = np.asarray(wav, dtype=np.float32)
    if wav.shape[-1] <= cfg.n_fft // 2:
        raise ValueError(f"waveform of {wav.shape[-1]} samples is too short for n_fft={cfg.n_fft}")
    return np.swapaxes(_frames_stft(wav, cfg, _window(cfg)), -1, -2)


def istft(spec: np.ndarray, cfg: AudioConfig, length: int) -> np.ndarray:
    """Inverse of ``stft`` as torch.istft(center=True, length=length): (b, k, F) -> (b, length) float32."""
    spec = np.asarray(spec).astype(np.complex64, copy=False)
    if spec.shape[-2] != cfg.n_fft // 2 + 1:
        raise ValueError(f"istft: expected {cfg.n_fft // 2 + 1} bins on axis -2, got shape {spec.shape}")
    window = _window(cfg)
    envelope = _envelope(cfg, window, spec.shape[-1], length)
    return _frames_istft(np.swapaxes(spec, -1, -2), cfg, window, envelope, length)


def mel_to_linear(mel: np.ndarray, cfg: AudioConfig, nnls_iters: int = 8) -> np.ndarray:
    """Non-negative linear magnitudes from linear mel magnitudes: (b, f, m) -> (b, k, m) float32.

    The pseudo-inverse clamped at zero, a 1e-8 floor on bins some filter covers, then ``nnls_iters``
    multiplicative updates ``x <- x * (W^T y) / (W^T (W x) + 1e-12)`` (``features.mel.mel_to_linear``).
    """
    mel = np.asarray(mel)
    if mel.ndim != 3 or mel.shape[1] != cfg.n_mels:
        raise ValueError(f"mel_to_linear: expected (b, {cfg.n_mels}, m), got {tuple(mel.shape)}")
    fb, fbt, pinv, covered = _inverse_parts(cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.f_min, cfg.f_max)
    out = np.empty((mel.shape[0], fb.shape[1], mel.shape[2]), np.float32)
    # One clip at a time with 2-D products: numpy's broadcast (f, k) @ (b, k, m) ran 16x slower than
    # the same product on (k, m) here, and the batch is one window in the pipeline.
    for i, y in enumerate(mel.astype(np.float32, copy=False)):
        x = np.maximum(pinv @ y, np.float32(0.0)) + covered  # (k, m)
        wty = fbt @ y
        for _ in range(nnls_iters):
            x = x * wty / (fbt @ (fb @ x) + np.float32(1e-12))
        out[i] = x
    return out


@functools.lru_cache(maxsize=8)
def _inverse_parts(sample_rate: int, n_fft: int, n_mels: int, f_min: float,
                   f_max: float | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The filterbank W (f, k), W^T (k, f) contiguous, its pseudo-inverse (k, f) and the 1e-8 floor
    (k, 1) on bins some filter covers: computed once per audio setting (the pseudo-inverse's SVD took
    0.13 s, most of a window's vocoder time). Read-only arrays."""
    fb = mel_filterbank(sample_rate, n_fft, n_mels, f_min, f_max)
    parts = (fb, np.ascontiguousarray(fb.T), _pinv(fb), np.float32(1e-8) * (fb.sum(0) > 0).astype(np.float32)[:, None])
    for a in parts:
        a.flags.writeable = False
    return parts


def _pinv(fb: np.ndarray) -> np.ndarray:
    """(k, f) float32 pseudo-inverse of the (f, k) filterbank, with torch.linalg.pinv's default cut-off
    (singular values under max(f, k) * eps times the largest are dropped)."""
    return np.linalg.pinv(fb, rcond=max(fb.shape) * np.finfo(np.float32).eps).astype(np.float32, copy=False)


def _diff(x: np.ndarray, axis: int) -> np.ndarray:
    """Centred difference (x[i+1] - x[i-1]) / 2 along ``axis``, one-sided at both ends."""
    x = np.moveaxis(x, axis, 0)
    n = x.shape[0]
    if n < 2:
        return np.zeros_like(np.moveaxis(x, 0, axis))
    out = np.concatenate([x[1:2] - x[0:1], (x[2:] - x[:-2]) / 2, x[n - 1:n] - x[n - 2:n - 1]])
    return np.moveaxis(out, 0, axis)


def _gather(x: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """torch.gather on the last axis: out[..., i] = x[..., idx[..., i]], x (..., k), idx (..., j) int.

    x's leading shape may be a trailing part of idx's (it is then broadcast, as ``expand`` would). One
    flat ``take``: np.take_along_axis builds an index array per axis and was most of ``pghi_phase``'s time.
    """
    k = x.shape[-1]
    rows = (np.arange(x.size // k) * k).reshape(*x.shape[:-1], 1)
    return np.ascontiguousarray(x).reshape(-1)[idx + rows]


def chain_phase(first: np.ndarray, idx: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """All frames of ``phase_j = phase_{j-1}[..., idx_{j-1}] + shift_{j-1}`` (``features.mel.chain_phase``).

    first (b, k) is frame 0; idx (m-1, b, k) int and shift (m-1, b, k) float32 the maps to frames 1..m-1.
    Returns (m, b, k): a Hillis-Steele scan over the map compositions in log2(m) vectorised rounds.
    """
    idx, shift = idx.copy(), shift.copy()
    d = 1
    while d < idx.shape[0]:  # after this round, item j holds the composition of maps j-2d+1 .. j
        earlier = idx[d:]
        shift[d:] += _gather(shift[:-d], earlier)
        idx[d:] = _gather(idx[:-d], earlier)
        d *= 2
    rest = _gather(first, idx) + shift
    return np.concatenate([first[None], rest])


def pghi_phase(mag: np.ndarray, cfg: AudioConfig, rel_floor: float = 1e-5) -> np.ndarray:
    """A phase (b, k, m) float32 for a magnitude (b, k, m), from the magnitude alone.

    The phase-gradient heuristic with peak-grouped integration of ``features.mel.pghi_phase`` (its
    docstring has the equations): instantaneous frequency and group delay from the log-magnitude's
    centred differences, each bin tied to its larger neighbouring peak, peaks carried frame to frame
    by ``chain_phase``.
    """
    n_bins = cfg.n_fft // 2 + 1
    mag = np.asarray(mag)
    if mag.ndim != 3 or mag.shape[1] != n_bins:
        raise ValueError(f"pghi_phase: expected (b, {n_bins}, m), got {tuple(mag.shape)}")
    b, k, m = mag.shape
    mag = np.ascontiguousarray(mag.astype(np.float32, copy=False).transpose(2, 0, 1))  # (m, b, k)
    lam = _HANN_LAMBDA * cfg.win_length**2
    floor = np.maximum(mag.max(axis=(0, 2), keepdims=True), np.float32(1e-30)) * np.float32(rel_floor)
    logm = _f32(np.log, np.maximum(mag, floor))
    w = np.arange(k, dtype=np.float32) / np.float32(cfg.n_fft)
    # Phase advance per hop (rad), and phase step from bin i to bin i + 1 (rad); python scalars act as
    # float32 here (NEP 50), as torch's do.
    dphi_t = cfg.hop_length * (_diff(logm, 2) * cfg.n_fft / lam + 2 * math.pi * w)  # (m, b, k)
    dphi_w = -(lam / cfg.n_fft) * _diff(logm, 0) / cfg.hop_length - math.pi  # (m, b, k)
    # Frequency-integrated phase of each frame, zero at bin 0 (trapezoid rule; torch's CPU cumsum
    # accumulates in float64).
    cum = np.cumsum((dphi_w[..., 1:] + dphi_w[..., :-1]) / 2, axis=2, dtype=np.float64).astype(np.float32)
    across = np.concatenate([np.zeros((m, b, 1), dtype=np.float32), cum], axis=2)
    # Each bin's peak: local maxima over bins, then the larger of the nearest one below and above.
    padded = np.pad(mag, [(0, 0), (0, 0), (1, 1)], constant_values=-1.0)  # (m, b, k + 2)
    is_peak = (padded[..., 1:-1] >= padded[..., :-2]) & (padded[..., 1:-1] > padded[..., 2:])
    idx = np.broadcast_to(np.arange(k), (m, b, k))
    below = np.maximum.accumulate(np.where(is_peak, idx, -1), axis=2)
    above = np.minimum.accumulate(np.where(is_peak, idx, k)[..., ::-1], axis=2)[..., ::-1]
    mag_below = np.where(below >= 0, _gather(mag, np.maximum(below, 0)), np.float32(-1.0))
    mag_above = np.where(above < k, _gather(mag, np.minimum(above, k - 1)), np.float32(-1.0))
    peak = np.clip(np.where(mag_below >= mag_above, below, above), 0, k - 1)  # (m, b, k)
    offset = across - _gather(across, peak)  # phase of each bin relative to its peak
    step = (dphi_t[1:] + dphi_t[:-1]) / 2  # (m-1, b, k) phase advance from frame j-1 to j
    nxt = peak[1:]  # (m-1, b, k)
    shift = np.remainder(_gather(step, nxt) + offset[1:], np.float32(2 * math.pi))
    phase = chain_phase(across[0], nxt, shift)  # (m, b, k)
    return phase.transpose(1, 2, 0)


def griffin_lim(
    mag: np.ndarray,
    cfg: AudioConfig,
    iters: int | None = None,
    momentum: float | None = None,
    init: str | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Waveform from a magnitude spectrogram: (b, k, m) -> (b, m * hop) float32.

    Fast Griffin-Lim as ``features.mel.griffin_lim``: the last frame copied once so the centred inverse
    covers m * hop samples, a start phase, then ``iters`` rounds of ``rebuilt = STFT(iSTFT(mag * a))``,
    ``a = rebuilt - momentum / (1 + momentum) * previous`` normalised to unit modulus. None takes
    ``cfg.griffin_lim_iters`` / ``griffin_lim_momentum`` / ``griffin_lim_init``. ``init="random"``
    draws uniform phases from ``numpy.random.default_rng(seed)`` (not torch's draw, see the module
    docstring).
    """
    iters = cfg.griffin_lim_iters if iters is None else iters
    momentum = cfg.griffin_lim_momentum if momentum is None else momentum
    init = cfg.griffin_lim_init if init is None else init
    n_bins = cfg.n_fft // 2 + 1
    mag = np.asarray(mag)
    if mag.ndim != 3 or mag.shape[1] != n_bins:
        raise ValueError(f"griffin_lim: expected (b, {n_bins}, m), got {tuple(mag.shape)}")
    if iters < 0 or not momentum >= 0 or init not in GL_INITS:
        raise ValueError(f"griffin_lim: need iters >= 0, momentum >= 0 and init in {GL_INITS}, "
                         f"got {iters}, {momentum}, {init!r}")
    mag = np.concatenate([mag, mag[..., -1:]], axis=-1).astype(np.float32, copy=False)  # (b, k, m+1)
    n_frames = mag.shape[-1]
    length = (n_frames - 1) * cfg.hop_length
    window = _window(cfg)
    envelope = _envelope(cfg, window, n_frames, length)
    if init == "pghi":
        phase = pghi_phase(mag, cfg)
    else:
        phase = (2 * math.pi * np.random.default_rng(seed).random(mag.shape, dtype=np.float32)).astype(np.float32)
    # From here on frames come before bins ((b, m+1, k)), the layout the FFTs want.
    mag_t = np.ascontiguousarray(mag.transpose(0, 2, 1))
    phase_t = phase.transpose(0, 2, 1)
    angles = np.empty(phase_t.shape, dtype=np.complex64)  # torch.polar(1, phase), to an ulp (module docstring)
    angles.real = np.cos(phase_t)
    angles.imag = np.sin(phase_t)
    prev = np.zeros_like(angles)
    coef = momentum / (1 + momentum)
    for _ in range(iters):
        rebuilt = _frames_stft(_frames_istft(mag_t * angles, cfg, window, envelope, length), cfg, window)
        angles = rebuilt - coef * prev
        # torch divides a complex by a real as (a + ib) * (1 / c): multiplying by the reciprocal is that.
        angles = angles * (np.float32(1.0) / (_f32(np.abs, angles) + np.float32(1e-16)))
        prev = rebuilt
    return _frames_istft(mag_t * angles, cfg, window, envelope, length)


def log_mel_to_wav(
    logmel: np.ndarray,
    cfg: AudioConfig,
    iters: int | None = None,
    momentum: float | None = None,
    init: str | None = None,
    seed: int = 0,
) -> np.ndarray:
    """Hear a log-mel: (b, f, m) -> (b, m * hop) float32, or (f, m) -> (m * hop,).

    ``exp`` -> ``mel_to_linear`` -> ``griffin_lim``; the arguments as ``griffin_lim``. The same as
    ``features.mel.log_mel_to_wav`` (``native_frames=None``) up to float32 rounding and the peak
    choices it can flip (module docstring).
    """
    logmel = np.asarray(logmel)
    x, single = (logmel[None], True) if logmel.ndim == 2 else (logmel, False)
    mag = mel_to_linear(_f32(np.exp, x.astype(np.float32, copy=False)), cfg)
    wav = griffin_lim(mag, cfg, iters, momentum, init, seed)
    return wav[0] if single else wav
