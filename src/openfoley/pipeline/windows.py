"""Long videos as overlapping model windows: the window plan, the crossfading stitcher, and onsets.

The model sees windows of ``cfg.seconds`` (T video frames, N audio tokens, S samples). A video of any
length is cut into windows that start every ``hop`` and share ``overlap`` with the window before:

    window j covers grid frames [j * H_f, j * H_f + T), tokens [j * H_n, j * H_n + N), samples
    [j * H_s, j * H_s + S), with overlap O = T - H_f frames = N - H_n tokens = S - H_s samples.

The overlap must be a whole number of frames, tokens and samples at once, so it is a multiple of the
smallest such unit (``WindowPlan.unit_tokens``; 1 token for the tiny and small presets, 8 tokens =
5 frames = 0.625 s for the paper preset).

``Stitcher`` holds the output waveform and log-mel of the whole video (small: 64 kB per second at
16 kHz) and nothing else; each window is crossfaded into it over the overlap with complementary
raised-cosine weights (r_i = sin^2(pi/2 (i + 0.5) / O), 1 - r_i), which sum to one, so a signal both
windows agree on passes unchanged and no step is introduced at either end of the fade.

``detect_onsets`` finds sound onsets in a log-mel (half-wave rectified spectral flux, peak-picked),
for the ``--plot`` figure. ``onset_peaks`` finds the frames where the video predicts a sound starts
(the onset head's track, peak-picked as onset guidance's "peaks" guide does).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from openfoley.config import Config


def _lcm(a: int, b: int) -> int:
    return a * b // math.gcd(a, b)


@dataclass(frozen=True)
class WindowPlan:
    """Window geometry for one model config; all counts are whole numbers (see the module docstring)."""

    frames: int  # T per window
    tokens: int  # N per window
    samples: int  # S per window
    mel_frames: int  # native mel frames per window
    overlap_tokens: int  # O in tokens (0 = windows only touch)
    fps: float
    sample_rate: int

    @property
    def overlap_frames(self) -> int:
        return self.overlap_tokens * self.frames // self.tokens

    @property
    def overlap_samples(self) -> int:
        return self.overlap_tokens * self.samples // self.tokens

    @property
    def hop_frames(self) -> int:
        return self.frames - self.overlap_frames

    @property
    def hop_samples(self) -> int:
        return self.samples - self.overlap_samples

    @property
    def hop_seconds(self) -> float:
        return self.hop_frames / self.fps

    @property
    def window_seconds(self) -> float:
        return self.frames / self.fps

    def count(self, n_frames: int) -> int:
        """Windows needed for ``n_frames`` grid frames (the same count ``io.iter_video_windows`` yields)."""
        if n_frames <= self.frames:
            return 1
        return 1 + math.ceil((n_frames - self.frames) / self.hop_frames)

    def mel_offset(self, j: int) -> int:
        """First native mel frame of window j on the whole video's mel time axis."""
        return round(j * self.hop_samples * self.mel_frames / self.samples)


def unit_tokens(cfg: Config) -> int:
    """Smallest token count that is also a whole number of video frames and of audio samples."""
    per_frame = Fraction(cfg.video_frames, cfg.audio_tokens)
    per_sample = Fraction(cfg.samples, cfg.audio_tokens)
    return _lcm(per_frame.denominator, per_sample.denominator)


def plan_windows(cfg: Config, overlap: float | None = None) -> WindowPlan:
    """The plan for ``cfg`` with ``overlap`` seconds shared by neighbouring windows.

    None takes one eighth of the window (1 s for the 8 s ``small`` window): enough context for the next
    window to continue the sound (the overlap is generated twice, so it costs 1/7 more compute). The
    overlap is rounded to whole units (``unit_tokens``) and kept below one window.
    """
    n = cfg.audio_tokens
    u = unit_tokens(cfg)
    seconds = cfg.seconds / 8 if overlap is None else float(overlap)
    if not seconds >= 0:
        raise ValueError(f"overlap must be >= 0 seconds, got {overlap}")
    o = u * round(seconds * cfg.tokens_per_second / u)
    o = min(o, ((n - 1) // u) * u)  # at least one unit of hop
    return WindowPlan(frames=cfg.video_frames, tokens=n, samples=cfg.samples, mel_frames=cfg.mel_frames,
                      overlap_tokens=max(0, o), fps=cfg.video.fps, sample_rate=cfg.audio.sample_rate)


def fade_in(n: int) -> np.ndarray:
    """(n,) raised-cosine ramp sin^2(pi/2 (i + 0.5) / n), strictly inside (0, 1); 1 - ramp fades out."""
    return np.sin(0.5 * np.pi * (np.arange(n) + 0.5) / max(n, 1)) ** 2


class Stitcher:
    """The whole output: waveform (s,) and log-mel (f, m), filled window by window with crossfades."""

    def __init__(self, plan: WindowPlan, total_samples: int, n_mels: int):
        self.plan = plan
        self.total_samples = int(total_samples)
        self.total_mel = max(1, round(total_samples * plan.mel_frames / plan.samples))
        self.wav = np.zeros(self.total_samples, np.float32)
        self.mel = np.zeros((n_mels, self.total_mel), np.float32)

    @staticmethod
    def _place(out: np.ndarray, piece: np.ndarray, at: int, overlap: int) -> None:
        """Write ``piece`` (..., L) into ``out`` (..., M) from ``at``; crossfade its first ``overlap``."""
        total = out.shape[-1]
        end = min(at + piece.shape[-1], total)
        if end <= at:
            return
        piece = piece[..., : end - at]
        o = min(overlap, piece.shape[-1])
        if o > 0:
            r = fade_in(overlap)[:o].astype(out.dtype)
            out[..., at : at + o] = out[..., at : at + o] * (1 - r) + piece[..., :o] * r
        out[..., at + o : end] = piece[..., o:]

    def add(self, j: int, wav: np.ndarray, mel: np.ndarray) -> None:
        """Window j's waveform (S,) and log-mel (f, mel_frames); window 0 is placed without a fade."""
        p = self.plan
        if wav.shape != (p.samples,) or mel.ndim != 2 or mel.shape[1] != p.mel_frames:
            raise ValueError(f"window {j}: wav must be ({p.samples},) and mel (f, {p.mel_frames}), "
                             f"got {wav.shape} and {mel.shape}")
        first = j == 0
        self._place(self.wav, wav, j * p.hop_samples, 0 if first else p.overlap_samples)
        o_mel = round(p.overlap_samples * p.mel_frames / p.samples)
        self._place(self.mel, mel, p.mel_offset(j), 0 if first else o_mel)


def detect_onsets(logmel: np.ndarray, mel_fps: float, min_gap: float = 0.1, threshold: float = 1.5) -> np.ndarray:
    """Onset times in seconds (from the mel's first frame) of a log-mel (f, m).

    Novelty = mean over bins of the positive log-mel increase from one frame to the next (half-wave
    rectified spectral flux). An onset is a frame whose novelty is the largest within ``min_gap``
    seconds either side and exceeds mean + ``threshold`` * std of the novelty. Silence (constant mel)
    has none. Returns float64 (q,), ascending.
    """
    if logmel.ndim != 2:
        raise ValueError(f"logmel must be (f, m), got {logmel.shape}")
    m = logmel.shape[1]
    if m < 3:
        return np.zeros(0)
    flux = np.empty(m - 1)  # flux[i]: novelty of frame i + 1; in chunks, so no whole-video temporaries
    for a in range(0, m - 1, 1024):
        b = min(a + 1024, m - 1)
        flux[a:b] = np.maximum(np.diff(logmel[:, a : b + 1], axis=1), 0).mean(axis=0)
    level = flux.mean() + threshold * flux.std()
    if flux.std() <= 1e-12:
        return np.zeros(0)
    w = max(1, round(min_gap * mel_fps))
    padded = np.pad(flux, w, constant_values=-np.inf)
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * w + 1)  # (m-1, 2w+1)
    is_peak = (flux >= windows.max(axis=1)) & (flux > level)
    # plateaus: keep the first frame of equal neighbouring maxima
    prev = is_peak[:-1].copy()
    is_peak[1:] &= ~((flux[1:] == flux[:-1]) & prev)
    return (np.flatnonzero(is_peak) + 1) / mel_fps


def onset_peaks(onset: np.ndarray, threshold: float) -> np.ndarray:
    """Frames where the video predicts a sound starts: onset (t,), the onset head's track of one window
    -> int64 (e,) ascending, the local maxima (above the left neighbour, at least the right one) at or
    above ``threshold``. The same rule as ``FoleyModel.guide_target``'s "peaks", so these are the
    frames onset guidance pulls the sound's onsets to (``flow.onset_peak_threshold``)."""
    onset = np.asarray(onset, dtype=np.float64)
    if onset.ndim != 1:
        raise ValueError(f"onset must be (t,), got {onset.shape}")
    if onset.size == 0:
        return np.zeros(0, np.int64)
    left = np.concatenate([[-np.inf], onset[:-1]])
    right = np.concatenate([onset[1:], [-np.inf]])
    return np.flatnonzero((onset >= threshold) & (onset > left) & (onset >= right)).astype(np.int64)
