"""Contact sheets: a picture of a few rendered clips so people can look at the data.

One row per clip: a label line (clip id, each source's colour, kind and class), a strip of frames (for
the first events, the frame 3 before contact and the contact frame, outlined in the source's colour
with a cross at the ground-truth position; evenly spaced frames fill the rest), and the log-magnitude
spectrogram of the clip's audio with a vertical mark at every event time in its source's colour and a
white tick above each shown frame's time. ``contact_sheet_from_dir`` reads the rendered mp4 files back
through ``openfoley.io`` (what the sheet shows is what was written) with their ground-truth JSON.

Shapes: frames (t, 3, h, w) uint8; audio (s,) float32; the sheet (H, W, 3) uint8.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from openfoley.data.foleyworld import draw
from openfoley.errors import DataError
from openfoley.io.image import colormap, draw_text, write_png

SOURCE_COLOURS = [(255, 70, 70), (60, 220, 255), (255, 220, 40), (120, 255, 110), (230, 120, 255)]


def text(image: np.ndarray, x: int, y: int, s: str, colour=(235, 235, 235), scale: int = 2) -> int:
    """Draw ``s`` upper-cased at (x, y) with the package's 3x5 font; returns the end x."""
    return draw_text(image, x, y, s.upper(), colour, scale)


def spectrogram(audio: np.ndarray, sample_rate: int, height: int, width: int, n_fft: int = 512,
                floor_db: float = 80.0) -> np.ndarray:
    """Log-magnitude spectrogram picture (height, width, 3) uint8, low frequencies at the bottom."""
    hop = max(1, len(audio) // width)
    pad = np.pad(audio.astype(np.float32), (n_fft // 2, n_fft))
    idx = np.arange(width)[:, None] * hop + np.arange(n_fft)[None, :]
    frames = pad[np.minimum(idx, len(pad) - 1)] * np.hanning(n_fft).astype(np.float32)
    db = 20 * np.log10(np.abs(np.fft.rfft(frames, axis=1)) + 1e-7)  # (width, n_fft // 2 + 1)
    db = np.clip((db - (db.max() - floor_db)) / floor_db, 0, 1)
    rows = np.linspace(n_fft // 2, 0, height).astype(int)
    return colormap(db[:, rows].T)  # (height, width, 3)


def _thumb_frames(truth: dict[str, Any], t: int, n: int) -> list[int]:
    chosen: list[int] = []
    for ev in truth["events"]:
        for f in (ev["frame"] - 3, ev["frame"]):
            if 0 <= f < t and f not in chosen and len(chosen) < n:
                chosen.append(f)
    for f in np.linspace(0, t - 1, n + 2)[1:-1].astype(int):
        if len(chosen) >= n:
            break
        if all(abs(int(f) - c) > 1 for c in chosen):
            chosen.append(int(f))
    return sorted(chosen)


def clip_row(frames: np.ndarray, audio: np.ndarray, truth: dict[str, Any], thumbs: int = 8,
             thumb: int = 96, spec_h: int = 96) -> np.ndarray:
    """One clip's row of the sheet, (H, W, 3) uint8."""
    t, _, h, w = frames.shape
    assert frames.dtype == np.uint8 and frames.shape[1] == 3, f"frames {frames.shape} {frames.dtype}"
    gap, label_h = 4, 16
    width = thumbs * (thumb + gap) - gap
    row = np.full((label_h + thumb + gap + 6 + spec_h, width, 3), 24, np.uint8)
    sid = {s["id"]: i for i, s in enumerate(truth["sources"])}
    x = text(row, 2, 3, truth["id"] + "  ")
    for s in truth["sources"]:
        x = text(row, x, 3, f"{s['kind']}:{s['class']}  ", SOURCE_COLOURS[sid[s['id']] % len(SOURCE_COLOURS)])
    by_frame = {ev["frame"]: ev for ev in truth["events"]}
    shown = _thumb_frames(truth, t, thumbs)
    for j, f in enumerate(shown):
        im = np.ascontiguousarray(frames[f].transpose(1, 2, 0)).astype(np.float32)
        im = draw.resize(im, thumb, thumb)
        ev = by_frame.get(f)
        if ev is not None:
            c = np.array(SOURCE_COLOURS[sid[ev["source"]] % len(SOURCE_COLOURS)], np.float32)
            px, py = ev["position"][0] * thumb / w, ev["position"][1] * thumb / h
            draw.segment(im, (px - 5, py), (px + 5, py), 1.5, c)
            draw.segment(im, (px, py - 5), (px, py + 5), 1.5, c)
            im[:2], im[-2:], im[:, :2], im[:, -2:] = c, c, c, c
        x0 = j * (thumb + gap)
        row[label_h:label_h + thumb, x0:x0 + thumb] = np.clip(im + 0.5, 0, 255).astype(np.uint8)
    y_spec = label_h + thumb + gap + 6
    row[y_spec:] = spectrogram(audio, truth["sample_rate"], spec_h, width)
    seconds = truth["seconds"]
    for ev in truth["events"]:
        xe = min(width - 1, int(ev["time"] / seconds * width))
        row[y_spec:, xe] = SOURCE_COLOURS[sid[ev["source"]] % len(SOURCE_COLOURS)]
    for f in shown:
        xf = min(width - 1, int(f / truth["fps"] / seconds * width))
        row[y_spec - 5:y_spec - 1, max(0, xf - 1):xf + 2] = 255
    return row


def contact_sheet(clips: list[tuple[np.ndarray, np.ndarray, dict[str, Any]]], thumbs: int = 8) -> np.ndarray:
    """Stack ``clip_row`` for each (frames, audio, truth) into one (H, W, 3) uint8 picture."""
    if not clips:
        raise DataError("contact sheet: no clips given")
    rows = [clip_row(f, a, tr, thumbs) for f, a, tr in clips]
    sep = np.full((8, rows[0].shape[1], 3), 60, np.uint8)
    parts = [sep]
    for r in rows:
        parts += [r, sep]
    return np.concatenate(parts)


def contact_sheet_from_dir(split_dir: str | Path, n: int = 4, ids: list[str] | None = None,
                           thumbs: int = 8) -> np.ndarray:
    """Read up to ``n`` rendered clips (mp4 + ground-truth JSON) from a split folder into a sheet."""
    from openfoley.io import read_audio, read_video

    d = Path(split_dir)
    if not d.is_dir():
        raise DataError(f"{d}: rendered split folder not found")
    names = ids or sorted(p.stem for p in d.glob("fw-*.json"))[:n]
    if not names:
        raise DataError(f"{d}: no rendered clips (fw-*.json) in this folder")
    clips = []
    for name in names:
        jp, vp = d / f"{name}.json", d / f"{name}.mp4"
        if not jp.is_file() or not vp.is_file():
            raise DataError(f"{d}: clip {name} is missing its .json or .mp4")
        truth = json.loads(jp.read_text())
        video = read_video(vp, truth["fps"], truth["size"], duration=truth["seconds"])
        audio = read_audio(vp, truth["sample_rate"], duration=truth["seconds"])
        clips.append((video.frames.numpy(), audio.numpy(), truth))
    return contact_sheet(clips, thumbs)


def write_contact_sheet(path: str | Path, image: np.ndarray, force: bool = True) -> Path:
    return write_png(path, image, force=force)
