"""Blind audio SNR estimate: energy of the loudest frames against a noise floor from the quietest.

The paper keeps clips with "audio SNR above 15 dB" without saying how SNR is measured on clips that
have no clean reference. We read it as the additive model x = s + n with a stationary noise floor n
and a sound event s that is present in some frames:

    frame power  P_j = mean(x[j*L:(j+1)*L]^2),  L = frame_seconds * sample_rate samples (no overlap)
    noise power  N   = mean of the quietest ``fraction`` of frames      (frames holding only n)
    loud power   S+N = mean of the loudest ``fraction`` of frames       (frames holding s + n)
    SNR_dB           = 10 * log10((S+N - N) / N)

For a signal and noise that are uncorrelated within each frame (e.g. sinusoids with whole periods per
frame at different frequencies, or independent noise in expectation), this returns exactly the power
ratio S/N of the event frames. Edge cases: N == 0 with a louder event gives +inf (digital silence
floor); no frame louder than the floor (stationary sound, silence) gives -inf. A stationary
recording therefore scores low: it has no event above a floor, which is what the filter removes.

Shapes: x is (s,) float, s audio samples (package shape alphabet).
"""

from __future__ import annotations

import math

import numpy as np


def frame_powers(x: np.ndarray, sample_rate: int, frame_seconds: float = 0.025) -> np.ndarray:
    """(s,) samples -> (j,) mean power of each whole non-overlapping frame (a trailing part is dropped)."""
    assert x.ndim == 1, f"expected mono audio of shape (s,), got {x.shape}"
    length = max(1, round(frame_seconds * sample_rate))
    j = x.shape[0] // length
    if j == 0:
        return np.zeros(0, dtype=np.float64)
    frames = x[: j * length].astype(np.float64).reshape(j, length)  # (j, L)
    return np.mean(frames * frames, axis=1)


def estimate_snr_db(x: np.ndarray, sample_rate: int, frame_seconds: float = 0.025,
                    fraction: float = 0.1) -> float:
    """SNR in dB of an (s,) waveform by the loud-frames-over-quiet-frames rule in the module docstring.

    ``fraction`` of the frames (at least one) form each of the loud and the quiet set.
    """
    if not 0 < fraction <= 0.5:
        raise ValueError(f"fraction must be in (0, 0.5], got {fraction}")
    p = np.sort(frame_powers(x, sample_rate, frame_seconds))
    if p.size == 0:
        return -math.inf
    k = max(1, int(math.floor(fraction * p.size)))
    noise = float(np.mean(p[:k]))
    loud = float(np.mean(p[-k:]))
    signal = loud - noise
    if signal <= 0:
        return -math.inf
    if noise <= 0:
        return math.inf
    return 10.0 * math.log10(signal / noise)
