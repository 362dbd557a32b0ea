"""Generated training and test audio for the vocoder: noise bursts, clicks, harmonic glides, decaying tones.

Used by the tests, and by ``train_vocoder`` when no sound bank is given. Each clip is a few events of
the kinds Foley is made of (impacts are clicks and noise bursts, engines and whooshes are glides,
bells and knocks are decaying partials), placed at random times, so a vocoder trained on it has seen
transients, noise and tonal partials. All randomness comes from the ``numpy`` generator passed in.

    synth_clip(samples, sample_rate, rng) -> float32 (s,) peak <= 0.9
"""

from __future__ import annotations

import numpy as np


def _envelope(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    attack = max(1, int(sr * rng.uniform(0.0005, 0.01)))
    decay = rng.uniform(0.02, 0.6)  # seconds to e^-1
    t = np.arange(n) / sr
    env = np.exp(-t / decay)
    env[:attack] *= np.linspace(0.0, 1.0, attack)
    return env


def _event(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    kind = rng.integers(4)
    t = np.arange(n) / sr
    if kind == 0:  # noise burst, optionally low-passed by a one-pole filter
        x = rng.standard_normal(n)
        a = rng.uniform(0.0, 0.95)
        for i in range(1, n):
            x[i] += a * x[i - 1]
        x /= np.abs(x).max() + 1e-9
        return x * _envelope(n, sr, rng)
    if kind == 1:  # click: a few samples of impulse through a short resonance
        x = np.zeros(n)
        x[: rng.integers(1, 8)] = rng.choice([-1.0, 1.0])
        f = rng.uniform(200, 0.45 * sr)
        ring = np.exp(-t / rng.uniform(0.001, 0.02)) * np.sin(2 * np.pi * f * t)
        return np.convolve(x, ring)[:n]
    if kind == 2:  # harmonic glide: f0 sweeping exponentially, a few harmonics
        f0, f1 = rng.uniform(60, 800, size=2)
        f_t = f0 * (f1 / f0) ** (t / t[-1] if n > 1 else t)
        phase = 2 * np.pi * np.cumsum(f_t) / sr
        glide = sum((0.6 ** h) * np.sin((h + 1) * phase) for h in range(rng.integers(1, 6))
                    if (h + 1) * max(f0, f1) < 0.45 * sr)  # 0 when no harmonic is below Nyquist
        return np.asarray(glide, dtype=np.float64) * np.minimum(1.0, 4 * _envelope(n, sr, rng))
    # decaying inharmonic partials (bell, knock)
    x = np.zeros(n)
    for _ in range(rng.integers(1, 5)):
        f = rng.uniform(100, 0.4 * sr)
        x += rng.uniform(0.2, 1.0) * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
    return x * _envelope(n, sr, rng)


def synth_clip(samples: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """One clip of ``samples`` samples with 1-4 random events: float32 (s,), peak 0.05-0.9."""
    out = np.zeros(samples)
    for _ in range(rng.integers(1, 5)):
        start = int(rng.integers(0, max(1, samples - sample_rate // 20)))
        n = int(min(samples - start, rng.uniform(0.05, 1.5) * sample_rate))
        if n > 8:
            out[start:start + n] += rng.uniform(0.2, 1.0) * _event(n, sample_rate, rng)
    peak = np.abs(out).max()
    if peak > 0:
        out *= rng.uniform(0.05, 0.9) / peak
    return out.astype(np.float32)
