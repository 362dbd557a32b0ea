"""Real test media made with PyAV: known frames, known clicks, known timestamps.

``make_media`` writes a file whose video frame ``i`` has grey level ``level(i)`` (or is white at the
flash frame) and whose audio is silent except for a single-sample click, so tests can check where
readers put both. Frame timestamps can be given in milliseconds for variable-frame-rate files.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

DARK = 30


def has_encoder(name: str) -> bool:
    try:
        av.codec.Codec(name, "w")
        return True
    except Exception:  # av.codec.codec.UnknownCodecError and friends
        return False


def level(i: int) -> int:
    """Grey level of frame i: distinct for the first 12 frames, never white."""
    return 20 + (i % 12) * 15


def make_media(
    path: Path,
    *,
    n_frames: int = 25,
    fps: float = 25,
    size: tuple[int, int] = (48, 64),  # (h, w)
    vcodec: str | None = "libx264",
    acodec: str | None = "aac",
    sample_rate: int = 48000,
    channels: int = 2,
    flash_frame: int | None = None,
    click_time: float | None = None,
    pts_ms: list[int] | None = None,
    rotation: int = 0,
    audio_seconds: float | None = None,
    container_options: dict[str, str] | None = None,
    video_options: dict[str, str] | None = None,
    graded: bool = False,
    pattern: bool = False,
) -> Path:
    """Write a test file. Frames are dark grey (``level(i)`` if ``graded``), white at ``flash_frame``;
    ``pattern`` draws a white square in the top-left corner (to see rotation and crops). Audio is
    silence with one click of amplitude 0.9 at ``click_time`` (all channels).

    pts_ms: per-frame timestamps in milliseconds (variable frame rate); default ``i / fps``.
    """
    path = Path(path)
    h, w = size
    with av.open(str(path), mode="w", options=container_options or {}) as out:
        vs = None
        if vcodec:
            vs = out.add_stream(vcodec, rate=Fraction(fps).limit_denominator(1001))
            vs.width, vs.height = w, h
            vs.pix_fmt = "yuv420p"
            opts = {"preset": "ultrafast"} if vcodec == "libx264" else {}
            if vcodec.startswith("libvpx"):
                opts = {"deadline": "realtime", "cpu-used": "8"}
            opts.update(video_options or {})
            vs.options = opts
            if pts_ms is not None:
                vs.codec_context.time_base = Fraction(1, 1000)
            if rotation:
                vs.set_display_rotation(rotation)
        aus = None
        if acodec:
            aus = out.add_stream(acodec, rate=sample_rate)
            aus.layout = "mono" if channels == 1 else "stereo"
            if acodec == "vorbis":
                aus.options = {"strict": "-2"}  # FFmpeg's native Vorbis encoder is "experimental"
        if vs is not None:
            for i in range(n_frames):
                v = 255 if i == flash_frame else (level(i) if graded else DARK)
                img = np.full((h, w, 3), v, np.uint8)
                if pattern:
                    img[: h // 4, : w // 4] = 255
                frame = av.VideoFrame.from_ndarray(img, format="rgb24")
                if pts_ms is not None:
                    frame.pts, frame.time_base = pts_ms[i], Fraction(1, 1000)
                else:
                    frame.pts = i
                out.mux(vs.encode(frame))
            out.mux(vs.encode(None))
        if aus is not None:
            seconds = audio_seconds if audio_seconds is not None else n_frames / fps
            n = round(seconds * sample_rate)
            wav = np.zeros((channels, n), np.float32)
            if click_time is not None:
                wav[:, round(click_time * sample_rate)] = 0.9
            chunk = 4096
            for s in range(0, n, chunk):
                part = np.ascontiguousarray(wav[:, s : s + chunk])
                frame = av.AudioFrame.from_ndarray(part, format="fltp", layout=aus.layout.name)
                frame.sample_rate, frame.pts = sample_rate, s
                out.mux(aus.encode(frame))
            out.mux(aus.encode(None))
    return path


def mp4_boxes(path: Path) -> dict[str, tuple[int, int]]:
    """Top-level MP4 boxes: {type: (offset, size)}."""
    data = Path(path).read_bytes()
    boxes, i = {}, 0
    while i + 8 <= len(data):
        size = int.from_bytes(data[i : i + 4], "big")
        boxes[data[i + 4 : i + 8].decode("latin-1")] = (i, size)
        if size < 8:
            break
        i += size
    return boxes


def video_packets(path: Path) -> list[bytes]:
    """Payload bytes of every packet of the first video stream, in file order."""
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(video=0) if p.size]
