"""Probe a media file: container, duration, and the main video and audio streams, through PyAV.

``open_media`` is the one door through which ``openfoley.io`` opens input files: it turns every way a
file can be unusable (missing, a directory, empty, not media, truncated) into a one-line ``MediaError``
naming the file. ``probe`` reads only headers, the stream index and one decoded frame (for the
rotation and pixel format), plus a packet count for containers that do not store a frame count
(Matroska/WebM).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from openfoley.errors import MediaError

log = logging.getLogger(__name__)

PathLike = str | os.PathLike


@dataclass(frozen=True)
class VideoInfo:
    """The main video stream. ``width``/``height`` are the coded size; ``rotation`` (degrees,
    counter-clockwise, one of 0/90/180/270) is the display rotation that readers apply."""

    codec: str
    width: int
    height: int
    fps: float  # average frame rate; for variable-frame-rate files, frames / duration
    frames: int  # frames in the stream (from the container, or counted from packets)
    rotation: int
    pix_fmt: str
    duration: float  # seconds

    @property
    def display_size(self) -> tuple[int, int]:
        """(width, height) as shown, after rotation."""
        return (self.height, self.width) if self.rotation % 180 else (self.width, self.height)


@dataclass(frozen=True)
class AudioInfo:
    """The main audio stream."""

    codec: str
    sample_rate: int
    channels: int
    duration: float  # seconds


@dataclass(frozen=True)
class ProbeResult:
    """What ``probe`` learned about one file."""

    path: Path
    container: str  # FFmpeg format name, e.g. "mp4", "matroska", "webm", "avi", "ogg", "wav"
    duration: float  # seconds (the container's, else the longest stream's)
    size_bytes: int
    video: VideoInfo | None
    audio: AudioInfo | None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (path as a string)."""
        d = dataclasses.asdict(self)
        d["path"] = str(self.path)
        return d


# --- opening -------------------------------------------------------------------------------------


def _ffmpeg_reason(e: Exception) -> str:
    reason = getattr(e, "strerror", None) or str(e)
    return " ".join(str(reason).split())  # one line


def open_media(path: PathLike) -> av.container.InputContainer:
    """Open ``path`` for reading, or raise ``MediaError`` saying why it cannot be read.

    Checks, in order: exists, is a regular file, is not empty, FFmpeg can parse it, it has an audio or
    video stream, and (for indexed containers such as MP4) the stream index does not point past the
    end of the file, which is how a download cut short looks.
    """
    p = Path(path)
    if not p.exists():
        raise MediaError(f"{p}: file not found")
    if p.is_dir():
        raise MediaError(f"{p}: is a directory, not a media file")
    if not p.is_file():
        raise MediaError(f"{p}: is not a regular file")
    size = p.stat().st_size
    if size == 0:
        raise MediaError(f"{p}: empty file (0 bytes)")
    with open(p, "rb") as f:
        is_isobmff = f.read(8)[4:8] == b"ftyp"  # MP4/MOV/M4A: a box structure we can check cheaply
    if is_isobmff:
        problem = _isobmff_truncation(p, size)
        if problem:
            raise MediaError(f"{p}: truncated file: {problem}")
    try:
        container = av.open(str(p), mode="r")
    except av.FFmpegError as e:
        raise MediaError(f"{p}: not a media file FFmpeg can read ({_ffmpeg_reason(e)})") from None
    except OSError as e:
        raise MediaError(f"{p}: cannot open ({e.strerror or e})") from None
    if video_stream(container) is None and audio_stream(container) is None:
        container.close()
        raise MediaError(f"{p}: contains no audio or video stream")
    for s in container.streams:
        if s.type not in ("video", "audio"):
            continue
        if s.codec_context is None:
            container.close()
            raise MediaError(f"{p}: {s.type} stream {s.index} is damaged or uses a codec FFmpeg cannot decode")
        entries = s.index_entries
        n = len(entries)
        if n:
            last = entries[n - 1]
            if last.pos >= 0 and last.pos + last.size > size:
                container.close()
                raise MediaError(
                    f"{p}: truncated file: its index needs {last.pos + last.size} bytes but the file "
                    f"has {size}"
                )
    return container


def _isobmff_truncation(path: Path, size: int) -> str | None:
    """For MP4/MOV: walk the top-level boxes (headers only); describe a box that runs past the end."""
    offset = 0
    with open(path, "rb") as f:
        for _ in range(100_000):
            if offset + 8 > size:
                return None if offset == size else f"{size - offset} stray bytes at the end"
            f.seek(offset)
            head = f.read(16)
            box_size, kind = int.from_bytes(head[:4], "big"), head[4:8].decode("latin-1")
            if box_size == 1 and len(head) == 16:  # 64-bit size follows the type
                box_size = int.from_bytes(head[8:16], "big")
            elif box_size == 0:  # box runs to the end of the file
                return None
            if box_size < 8:
                return None  # not a box structure we understand; let FFmpeg judge
            if offset + box_size > size:
                return f"the '{kind}' box needs {offset + box_size} bytes but the file has {size}"
            offset += box_size
    return None


def video_stream(container: av.container.InputContainer) -> av.video.stream.VideoStream | None:
    """The first real video stream (cover-art pictures in audio files are skipped), or None."""
    for s in container.streams.video:
        if not (s.disposition & av.stream.Disposition.attached_pic):
            return s
    return None


def audio_stream(container: av.container.InputContainer) -> av.audio.stream.AudioStream | None:
    """The first audio stream, or None."""
    return container.streams.audio[0] if container.streams.audio else None


# --- probing -------------------------------------------------------------------------------------


def _container_name(container: av.container.InputContainer, path: Path) -> str:
    """FFmpeg demuxers have comma lists ("mov,mp4,m4a,..."); pick the one matching the file suffix."""
    names = container.format.name.split(",")
    suffix = path.suffix.lower().lstrip(".")
    return suffix if suffix in names else names[0]


def _stream_duration(stream: av.stream.Stream, container: av.container.InputContainer) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return 0.0


def _first_frame(container: av.container.InputContainer, stream, path: Path) -> av.VideoFrame | None:
    try:
        for frame in container.decode(stream):
            return frame
    except av.FFmpegError as e:
        raise MediaError(f"{path}: cannot decode the video stream ({_ffmpeg_reason(e)})") from None
    return None


def _count_packets(container: av.container.InputContainer, stream) -> int:
    container.seek(0, stream=stream, backward=True, any_frame=False)
    return sum(1 for pkt in container.demux(stream) if pkt.size)


# Containers without a duration in their headers: FFmpeg estimates it from timestamps near the end of
# the file, which for MPEG program streams came out 25-100% short (12 frames of 25 fps: 0.04 s instead
# of 0.48 s; 50 frames: 1.44 s instead of 2.0 s), and a video shorter than it is gets sound for part of
# it. For these the video stream's packets are read (no decoding) and its end is the last one's.
_NO_DURATION_HEADER = ("mpeg", "mpegts")


def _scan_video(container: av.container.InputContainer, stream) -> tuple[int, float] | None:
    """(packets, end in seconds on the file's clock) of a video stream, from its packets' timestamps."""
    tb = stream.time_base
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate or 25
    n, end = 0, None
    container.seek(0, stream=stream, backward=True, any_frame=False)
    for pkt in container.demux(stream):
        if not pkt.size:
            continue
        n += 1
        ts = pkt.pts if pkt.pts is not None else pkt.dts
        if ts is not None:
            e = float(ts * tb) + (float(pkt.duration * tb) if pkt.duration else 1 / float(rate))
            end = e if end is None else max(end, e)
    if end is None:
        return None
    return n, end - (container.start_time or 0) / av.time_base


def probe(path: PathLike, count_frames: bool = True) -> ProbeResult:
    """Describe a media file. Raises ``MediaError`` for anything that is not a readable media file.

    ``count_frames``: when the container stores no frame count (Matroska/WebM), count video packets
    (reads the file, no decoding); if False, estimate ``round(duration * fps)`` instead.
    """
    p = Path(path)
    container = open_media(p)
    try:
        vs, aud = video_stream(container), audio_stream(container)
        stream_durs = [_stream_duration(s, container) for s in (vs, aud) if s is not None]
        if container.duration is not None:
            duration = container.duration / av.time_base
        else:
            duration = max(stream_durs, default=0.0)

        video = None
        if vs is not None:
            vdur = _stream_duration(vs, container)
            rate: Fraction | float | None = vs.average_rate or vs.guessed_rate or vs.base_rate
            first = _first_frame(container, vs, p)
            if first is None:
                raise MediaError(f"{p}: the video stream has no decodable frames")
            frames = vs.frames
            if container.format.name in _NO_DURATION_HEADER:
                scanned = _scan_video(container, vs)
                if scanned is not None:
                    frames, vdur = scanned
                    duration = max(duration, vdur)
            if not frames:
                frames = _count_packets(container, vs) if count_frames else round(vdur * float(rate or 0))
            if not rate and vdur > 0:
                rate = frames / vdur
            video = VideoInfo(
                codec=vs.codec_context.codec.canonical_name,
                width=vs.codec_context.width or first.width,
                height=vs.codec_context.height or first.height,
                fps=float(rate or 0.0),
                frames=int(frames),
                rotation=int(first.rotation) % 360,
                pix_fmt=first.format.name,
                duration=vdur,
            )
        audio = None
        if aud is not None:
            cc = aud.codec_context
            audio = AudioInfo(
                codec=cc.codec.canonical_name,
                sample_rate=int(cc.sample_rate or aud.rate or 0),
                channels=int(cc.channels),
                duration=_stream_duration(aud, container),
            )
        return ProbeResult(
            path=p,
            container=_container_name(container, p),
            duration=float(duration),
            size_bytes=p.stat().st_size,
            video=video,
            audio=audio,
        )
    finally:
        container.close()
