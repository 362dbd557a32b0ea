"""Video frames in and out: decode to a fixed frame rate and size, window long videos, encode H.264.

Reading (``read_video``, ``iter_video_windows``) returns ``VideoClip``s of uint8 frames ``(t, 3, h, w)``
and their times in seconds on the file's clock (``times``; 0 is the container's start, see
``docs/io.md``). Frames are resampled to a fixed ``fps`` by timestamp, which handles variable frame
rates: output time ``t_i = start + i / fps`` shows the latest decoded frame whose timestamp is at or
before ``t_i`` (the first frame if none is). Each decoded frame is scaled by FFmpeg's swscale straight
to the output size before anything else touches it, and only frames that are shown are converted, so
memory stays bounded for 4K input; ``iter_video_windows`` reads long videos in one decode pass holding
one window. Display rotation and non-square pixels are applied; the aspect ratio is kept, then the
frame is centre-cropped (``resize="crop"``) or letterboxed with black (``"pad"``).

Writing (``write_video``): H.264 yuv420p MP4 (+ AAC), atomic.
"""

from __future__ import annotations

import collections
import itertools
import logging
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING

import av
import av.audio.stream
import numpy as np
from av.video.reformatter import VideoReformatter

from openfoley.errors import MediaError, OutputError
from openfoley.io.atomic import atomic_output
from openfoley.io.audio import as_audio_array, encode_aac_until, is_tensor
from openfoley.io.probe import _ffmpeg_reason, open_media, video_stream

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

PathLike = str | os.PathLike
_EPS = 1e-6  # seconds; timestamp comparisons tolerate float rounding of rational pts
_DECODE_THREADS = 4  # frame threads hold whole frames: cap them so 4K memory stays bounded


@dataclass(frozen=True)
class VideoClip:
    """Frames sampled on a fixed grid.

    frames: uint8 (t, 3, h, w), RGB.
    times: float64 (t,), the grid times in seconds (``start + i / fps``).
    source_times: float64 (t,), the timestamp of the decoded frame shown at each grid time.
    """

    frames: torch.Tensor
    times: torch.Tensor
    source_times: torch.Tensor
    fps: float

    def __post_init__(self) -> None:
        import torch  # here, not at the top: io is imported by the torch-free lite runtime

        f, t, s = self.frames, self.times, self.source_times
        assert f.dtype == torch.uint8 and f.ndim == 4 and f.shape[1] == 3, f"frames {tuple(f.shape)} {f.dtype}"
        assert t.shape == (f.shape[0],) and s.shape == t.shape, (
            f"times {tuple(t.shape)}, source_times {tuple(s.shape)} vs frames {tuple(f.shape)}"
        )

    def __len__(self) -> int:
        return self.frames.shape[0]


def _target_hw(size: int | tuple[int, int]) -> tuple[int, int]:
    if isinstance(size, int):
        h = w = size
    else:
        h, w = (int(v) for v in size)
    if h <= 0 or w <= 0:
        raise ValueError(f"size must be positive, got {size!r}")
    return h, w


def _check_args(fps: float, start: float, duration: float | None, resize: str) -> None:
    if not fps > 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    if start < 0:
        raise ValueError(f"start must be >= 0, got {start}")
    if duration is not None and not duration > 0:
        raise ValueError(f"duration must be > 0 or None, got {duration}")
    if resize not in ("crop", "pad"):
        raise ValueError(f"resize must be 'crop' or 'pad', got {resize!r}")


class _FrameConverter:
    """Decoded frame (any size, pixel format, rotation) -> uint8 (3, H, W) RGB."""

    def __init__(self, h: int, w: int, resize: str, sar: float) -> None:
        self.h, self.w, self.resize, self.sar = h, w, resize, sar
        # One reformatter for the whole stream: it caches FFmpeg's scaler context (a new one per frame
        # costs ~1 ms). Decoding is already threaded, so the scaler runs on one thread.
        self.reformatter = VideoReformatter()

    def _display_scaled(self, dw: float, dh: float) -> tuple[int, int]:
        """Size (w, h) the displayed frame is scaled to before the crop or pad."""
        pick = max if self.resize == "crop" else min
        s = pick(self.w / dw, self.h / dh)
        sw, sh = max(1, round(dw * s)), max(1, round(dh * s))
        if self.resize == "crop":  # must cover the target
            return max(sw, self.w), max(sh, self.h)
        return min(sw, self.w), min(sh, self.h)

    def __call__(self, frame: av.VideoFrame) -> np.ndarray:
        rot = (round(frame.rotation / 90) * 90) % 360  # counter-clockwise degrees
        cw, ch = frame.width * self.sar, frame.height
        dw, dh = (ch, cw) if rot % 180 else (cw, ch)
        sw, sh = self._display_scaled(dw, dh)
        tw, th = (sh, sw) if rot % 180 else (sw, sh)  # scale in coded orientation, then rotate
        down = tw * th < frame.width * frame.height
        img = self.reformatter.reformat(
            frame, width=tw, height=th, format="rgb24", interpolation="AREA" if down else "BICUBIC",
            threads=1,
        ).to_ndarray()  # (th, tw, 3)
        if rot:
            img = np.rot90(img, k=rot // 90)  # (sh, sw, 3)
        out = np.zeros((self.h, self.w, 3), np.uint8)
        if self.resize == "crop":
            y0, x0 = (sh - self.h) // 2, (sw - self.w) // 2
            out[:] = img[y0 : y0 + self.h, x0 : x0 + self.w]
        else:
            y0, x0 = (self.h - sh) // 2, (self.w - sw) // 2
            out[y0 : y0 + sh, x0 : x0 + sw] = img
        return out.transpose(2, 0, 1)  # (3, H, W)


def _decoded_frames(
    container: av.container.InputContainer, stream, start_abs: float, path: Path
) -> Iterator[tuple[float, float, av.VideoFrame]]:
    """Yield (time, frame duration, frame) in presentation order from the last frame at/before start.

    Times are absolute stream seconds. Seeks to the keyframe before ``start_abs``; if the first frame
    decoded after a seek is already past ``start_abs`` (imprecise index), seeks further back.
    """
    tb = stream.time_base
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate or 25
    default_dur = 1.0 / float(rate)
    backoff = 0.0
    while True:
        target = start_abs - backoff
        seeked = start_abs > 0
        if seeked:
            container.seek(max(0, math.floor(target / tb)), stream=stream, backward=True)
        frames = container.decode(stream)
        try:
            first = next(frames, None)
        except av.FFmpegError as e:
            raise MediaError(f"{path}: cannot decode video ({_ffmpeg_reason(e)})") from None
        if first is None and not (seeked and target > 0):
            return
        # Nothing after the seek point, or an imprecise index put us past the start: go further back.
        late = first is None or (first.time is not None and first.time > start_abs + _EPS)
        if seeked and target > 0 and late:
            backoff = max(1.0, 2 * backoff)
            continue
        break
    last_t = None
    try:
        for fr in itertools.chain([first], frames):
            t = fr.time if fr.pts is not None else (last_t + default_dur if last_t is not None else 0.0)
            if last_t is not None and t < last_t - _EPS:
                log.debug("%s: dropping out-of-order frame at %.4f s (after %.4f s)", path, t, last_t)
                continue
            dur = float(fr.duration * tb) if fr.duration else default_dur
            last_t = t
            yield t, dur, fr
    except av.FFmpegError as e:
        raise MediaError(f"{path}: cannot decode video after {last_t or 0:.3f} s ({_ffmpeg_reason(e)})") from None


def _iter_grid(
    path: PathLike, fps: float, size, resize: str, start: float, n: int | None
) -> Iterator[tuple[float, float, np.ndarray]]:
    """Yield (grid time, source time, uint8 (3, H, W)) for grid times ``start + i / fps``.

    ``n`` frames exactly (holding the last decoded frame past the end of the stream), or, if None, every
    grid time before the end of the stream (last frame time + its duration).
    """
    h, w = _target_hw(size)
    p = Path(path)
    container = open_media(p)
    try:
        stream = video_stream(container)
        if stream is None:
            raise MediaError(f"{p}: has no video stream (audio only?)")
        stream.thread_type = "AUTO"
        stream.thread_count = min(_DECODE_THREADS, os.cpu_count() or 1)
        sar = float(stream.sample_aspect_ratio or 1) or 1.0
        convert = _FrameConverter(h, w, resize, sar)
        origin = (container.start_time or 0) / av.time_base  # file clock: 0 at the container's start
        times = (start + i / fps for i in (range(n) if n is not None else itertools.count()))
        cache: tuple[int, np.ndarray] | None = None

        def shown(t_out: float, t_src: float, frame: av.VideoFrame):
            nonlocal cache
            if cache is None or cache[0] != id(frame):
                cache = (id(frame), convert(frame))
            return t_out, t_src - origin, cache[1]

        t_out = next(times, None)
        prev: tuple[float, float, av.VideoFrame] | None = None
        for t, dur, fr in _decoded_frames(container, stream, start + origin, p):
            while t_out is not None and t > t_out + origin + _EPS:
                chosen = prev if prev is not None else (t, dur, fr)
                yield shown(t_out, chosen[0], chosen[2])
                t_out = next(times, None)
            if t_out is None:
                return
            prev = (t, dur, fr)
        if prev is None:
            raise MediaError(f"{p}: the video stream has no decodable frames")
        end = prev[0] + prev[1] - origin
        if t_out is not None and t_out >= end - _EPS and t_out == start:
            raise MediaError(f"{p}: start {start:.3f} s is at or past the end of the video ({end:.3f} s)")
        while t_out is not None and (n is not None or t_out < end - _EPS):
            yield shown(t_out, prev[0], prev[2])
            t_out = next(times, None)
    finally:
        container.close()


def _clip(items: list[tuple[float, float, np.ndarray]], fps: float) -> VideoClip:
    import torch

    frames = np.stack([a for _, _, a in items]) if items else np.zeros((0, 3, 1, 1), np.uint8)
    return VideoClip(
        frames=torch.from_numpy(frames),
        times=torch.tensor([t for t, _, _ in items], dtype=torch.float64),
        source_times=torch.tensor([s for _, s, _ in items], dtype=torch.float64),
        fps=float(fps),
    )


def read_video(
    path: PathLike,
    fps: float,
    size: int | tuple[int, int],
    start: float = 0.0,
    duration: float | None = None,
    resize: str = "crop",
) -> VideoClip:
    """Decode ``path`` to frames on the grid ``start + i / fps`` (seconds on the file's clock).

    size: an int for square frames, or (h, w). resize: "crop" (fill, centre-crop) or "pad" (fit,
    letterbox with black). duration: None reads to the end of the stream; otherwise exactly
    ``round(duration * fps)`` frames are returned, the last decoded frame held past the stream's end.
    Returns a VideoClip with frames uint8 (t, 3, h, w). Raises MediaError for unusable files, files
    without video, and a start past the end.
    """
    import torch

    _check_args(fps, start, duration, resize)
    h, w = _target_hw(size)
    if duration is None:
        return _clip(list(_iter_grid(path, fps, (h, w), resize, start, None)), fps)
    n = max(1, round(duration * fps))
    frames = np.empty((n, 3, h, w), np.uint8)  # filled in place: no list of frames, no stack copy
    times, src = np.empty(n), np.empty(n)
    for i, (t, s, a) in enumerate(_iter_grid(path, fps, (h, w), resize, start, n)):
        frames[i], times[i], src[i] = a, t, s
    return VideoClip(torch.from_numpy(frames), torch.from_numpy(times), torch.from_numpy(src), float(fps))


def iter_video_windows(
    path: PathLike,
    fps: float,
    size: int | tuple[int, int],
    window: float,
    hop: float | None = None,
    resize: str = "crop",
    start: float = 0.0,
    duration: float | None = None,
) -> Iterator[VideoClip]:
    """Read a long video window by window in one decode pass, holding at most one window of frames.

    Window j holds grid frames ``[j * H, j * H + W)`` where W = round(window * fps) and
    H = round(hop * fps) (hop defaults to window, i.e. no overlap), so window and hop are whole frames
    and windows share the grid of ``read_video(path, fps, size, start, duration)``. Every full window
    is yielded; if frames remain after the last full window, one shorter final window is yielded.
    """
    for items in _window_items(path, fps, size, window, hop, resize, start, duration):
        yield _clip(items, fps)


def iter_frame_windows(
    path: PathLike,
    fps: float,
    size: int | tuple[int, int],
    window: float,
    hop: float | None = None,
    resize: str = "crop",
    start: float = 0.0,
    duration: float | None = None,
) -> Iterator[np.ndarray]:
    """``iter_video_windows`` as numpy: uint8 (t, 3, h, w) frames per window, without torch."""
    for items in _window_items(path, fps, size, window, hop, resize, start, duration):
        yield np.stack([a for _, _, a in items])


def _window_items(path, fps, size, window, hop, resize, start, duration) -> Iterator[list]:
    """The windows of ``iter_video_windows`` as lists of (grid time, source time, uint8 (3, h, w))."""
    _check_args(fps, start, duration, resize)
    n_win = max(1, round(window * fps))
    n_hop = max(1, round((window if hop is None else hop) * fps))
    n = None if duration is None else max(1, round(duration * fps))
    buf: collections.deque = collections.deque(maxlen=n_win)
    next_start, covered, i = 0, 0, -1
    for i, item in enumerate(_iter_grid(path, fps, size, resize, start, n)):
        buf.append((i, item))
        if i == next_start + n_win - 1:
            yield [it for _, it in buf]
            covered, next_start = i + 1, next_start + n_hop
    if i >= covered:
        tail = [it for j, it in buf if j >= next_start]
        if tail:
            yield tail


# --- writing -------------------------------------------------------------------------------------

_VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".m4v")


def _as_frames(frames) -> np.ndarray:
    if is_tensor(frames):
        frames = frames.detach().cpu().numpy()
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"frames must be uint8 (t, 3, h, w), got {frames.dtype} {frames.shape}")
    if frames.shape[0] == 0:
        raise ValueError("frames is empty: need at least one frame")
    return frames


def write_video(
    path: PathLike,
    frames,
    fps: float,
    audio=None,
    sample_rate: int | None = None,
    force: bool = False,
    crf: int = 23,
    preset: str = "veryfast",
) -> Path:
    """Encode frames uint8 (t, 3, h, w) as H.264 yuv420p (+ AAC from ``audio`` (s,) or (c, s), c <= 2).

    Odd heights/widths are padded by one edge row/column (yuv420p needs even sizes). The audio is cut or
    zero-padded to the video's length t / fps. ``preset`` is libx264's speed/size trade-off
    ("ultrafast" for bulk rendering). Atomic; refuses an existing ``path`` unless ``force``.
    """
    p = Path(path)
    if p.suffix.lower() not in _VIDEO_SUFFIXES:
        raise OutputError(f"{p}: video output must end in one of {', '.join(_VIDEO_SUFFIXES)}")
    if not fps > 0:
        raise ValueError(f"fps must be > 0, got {fps}")
    arr = _as_frames(frames)
    t, _, h, w = arr.shape
    ph, pw = h % 2, w % 2
    wav = None
    if audio is not None:
        if not sample_rate:
            raise ValueError("write_video: sample_rate is required with audio")
        wav = as_audio_array(audio)  # (c, s)
        if wav.shape[0] > 2:
            raise ValueError(f"write_video: audio must be mono or stereo, got {wav.shape[0]} channels")
        n_samples = round(t / fps * sample_rate)
        wav = np.pad(wav[:, :n_samples], ((0, 0), (0, max(0, n_samples - wav.shape[1]))))
    rate = Fraction(fps).limit_denominator(1001)
    with atomic_output(p, force=force) as tmp, av.open(str(tmp), mode="w") as out:
        vs = out.add_stream("libx264", rate=rate)
        vs.width, vs.height, vs.pix_fmt = w + pw, h + ph, "yuv420p"
        vs.options = {"crf": str(crf), "preset": preset}
        aus: av.audio.stream.AudioStream | None = None
        sr = int(sample_rate or 0)
        if wav is not None:
            aus = out.add_stream("aac", rate=sr)
            aus.layout = "mono" if wav.shape[0] == 1 else "stereo"
        audio_pos = 0
        for i in range(t):
            img = arr[i].transpose(1, 2, 0)  # (h, w, 3)
            if ph or pw:
                img = np.pad(img, ((0, ph), (0, pw), (0, 0)), mode="edge")
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
            frame.pts = i
            out.mux(vs.encode(frame))
            if aus is not None and wav is not None:  # interleave: audio up to the end of this frame
                audio_pos = encode_aac_until(out, aus, wav, audio_pos, round((i + 1) / fps * sr))
        out.mux(vs.encode(None))
        if aus is not None and wav is not None:
            encode_aac_until(out, aus, wav, audio_pos, wav.shape[1])
            out.mux(aus.encode(None))
    return p
