"""The ``generate --plot`` figure: what the model looked at and what it made, on one time axis.

From top to bottom (PNG, drawn with ``openfoley.io.image``, no plotting library):
  1. a strip of key frames (the most salient key frame of each of up to 8 equal slices of the video)
     with their times in seconds;
  2. the generated log-mel spectrogram (low frequencies at the bottom), with the conditioning key
     frames as grey ticks above it, the video's predicted events (``FoleyResult.video_events``, where
     onset guidance pulls the sound's onsets) as blue marks just above it, and the detected sound
     onsets as red lines through it: a blue mark without a red line is an event the generator lost;
  3. a time axis in seconds on the video's clock.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from openfoley.io.image import Canvas, colormap, text_width, write_png
from openfoley.pipeline.result import FoleyResult

PathLike = str | os.PathLike
WIDTH, MARGIN = 960, 16
SPEC_H, TICK_H, AXIS_H = 200, 10, 24
EVENT_H = 6
INK, GREY, ONSET, KEY, EVENT = (20, 20, 20), (150, 150, 150), (230, 40, 40), (240, 140, 20), (30, 90, 230)


def _nice_step(span: float, target: int = 10) -> float:
    """A tick spacing of 1, 2 or 5 times a power of ten giving about ``target`` ticks over ``span``."""
    raw = max(span, 1e-9) / target
    p = 10 ** np.floor(np.log10(raw))
    return float(min((m * p for m in (1, 2, 5, 10)), key=lambda s: abs(s - raw) if s >= raw else np.inf))


def _label(t: float) -> str:
    return f"{t:.2f}s" if t < 10 else f"{t:.1f}s"


def render(result: FoleyResult) -> np.ndarray:
    """The figure as uint8 (h, w, 3)."""
    inner = WIDTH - 2 * MARGIN
    n_strip = max(1, len(result.strip))
    cell = inner // max(n_strip, 8)
    thumb = max(8, min(cell - 8, 96))
    strip_h = thumb + 20 if result.strip else 0
    height = MARGIN + 18 + strip_h + TICK_H + EVENT_H + SPEC_H + AXIS_H + MARGIN
    cv = Canvas(WIDTH, height)
    t0, span = result.start, max(result.duration, 1e-9)

    def x_of(t: float) -> int:
        return MARGIN + int(round((t - t0) / span * (inner - 1)))

    s = result.settings
    cv.text(MARGIN, MARGIN, f"seed {result.seed}  steps {s.get('steps', '?')}  cfg {s.get('cfg_scale', '?')}  "
                            f"{result.windows} window(s)   time axis in seconds", INK)
    y = MARGIN + 18
    for i, (t, frame) in enumerate(result.strip):  # 1. key frames with their times
        x = MARGIN + i * cell + (cell - thumb) // 2
        cv.blit(np.ascontiguousarray(frame.transpose(1, 2, 0)), x, y, thumb, thumb)
        label = _label(t)
        cv.text(x + (thumb - text_width(label)) // 2, y + thumb + 5, label, INK)
    y += strip_h
    for t in result.key_times:  # 2. key-frame ticks, then the spectrogram with onsets
        cv.vline(x_of(float(t)), y + 2, y + TICK_H, GREY)
    for t, _ in result.strip:
        cv.vline(x_of(t), y, y + TICK_H, KEY, 2)
    y += TICK_H
    for t in result.video_events:  # the video's predicted events, just above the spectrogram
        cv.vline(x_of(float(t)), y + 1, y + EVENT_H, EVENT, 3)
    y += EVENT_H
    mel = result.mel
    if mel.size:
        lo, hi = np.percentile(mel, 1), np.percentile(mel, 99.5)
        img = colormap((mel[::-1] - lo) / max(hi - lo, 1e-6))  # (f, m, 3), low bins at the bottom
        cv.blit(img, MARGIN, y, inner, SPEC_H)
    for t in result.onsets:
        cv.vline(x_of(float(t)), y, y + SPEC_H, ONSET, 2)
    y += SPEC_H
    cv.hline(y, MARGIN, MARGIN + inner, INK)  # 3. time axis
    step = _nice_step(span)
    tick = np.ceil(t0 / step) * step
    while tick <= t0 + span + 1e-9:
        x = x_of(tick)
        cv.vline(x, y, y + 5, INK)
        label = f"{tick:g}"
        cv.text(min(max(MARGIN, x - text_width(label) // 2), WIDTH - MARGIN - text_width(label)), y + 8, label, INK)
        tick += step
    return cv.pixels


def plot_result(result: FoleyResult, path: PathLike, force: bool = False) -> Path:
    """Write the figure for ``result`` as a PNG at ``path`` (atomic; existing file only with ``force``)."""
    return write_png(path, render(result), force=force)
