"""Re-encode a video stream as H.264 for muxing, keeping every frame and its timestamp.

``mux`` copies the input's video packets when the output container can hold them; when it cannot
(Theora, Cinepak, MS-MPEG4, GIF, ProRes, VP8 into MP4; Cinepak, GIF, DNxHD into Matroska; ...), it
uses ``H264Encoder``: every decoded frame is encoded with PyAV's bundled libx264 (yuv420p) at the
source's own timestamps and durations, in the source's time base, so the frame count, frame times and
the stream's end do not change. The display rotation and the display aspect ratio are kept.

yuv420p needs even sizes: an odd width or height gets one more column or row, a copy of the last one
(the picture itself is not resampled; 853x480 -> 854x480, 7x5 -> 8x6, 1x1 -> 2x2), and the sample
aspect ratio is set so that the padded frame displays at the source's display aspect ratio.

    copy_problem(stream, format_name) -> why the stream cannot be copied into that format, or None
    H264Encoder(first_frame, source_stream, dst) .frames(decoded) / .flush() -> packets to mux
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterable, Iterator
from fractions import Fraction

import av
import numpy as np

from openfoley.io.probe import _ffmpeg_reason

log = logging.getLogger(__name__)

# libx264 settings. CRF 18 is visually lossless for most material (x264's documentation); "veryfast"
# encodes 640x360 at several hundred frames/s on one core, so re-encoding is a small part of a generate.
# No B-frames: with reordered frames MP4/MOV store frame durations as decode-time steps, and for a
# variable-frame-rate source (an animated GIF) the track then ended 0.25 s before its last frame did
# (1.19 s instead of 1.44 s); without them decode order is display order and every duration is the
# source frame's own.
X264_OPTIONS = {"crf": "18", "preset": "veryfast", "bf": "0"}
_RGB_LIKE = ("rgb", "bgr", "argb", "abgr", "gbr", "pal8", "gray")  # no YUV matrix of their own
_BT601 = 6  # AVCOL_SPC_SMPTE170M / AVCOL_PRI_SMPTE170M / AVCOL_TRC_SMPTE170M
_UNSPECIFIED = 2
_TV_RANGE = 1


def add_copy_stream(dst: av.container.OutputContainer, stream) -> av.stream.Stream:
    """A stream of ``dst`` that takes ``stream``'s packets as they are.

    ``opaque=True`` copies the source's (decoder) codec context. PyAV's default looks up an *encoder*
    for the codec and so fails for codecs this FFmpeg can only decode (AV1, decoded by libdav1d;
    Theora), although muxing their packets needs no encoder.
    """
    return dst.add_stream_from_template(stream, opaque=True)


@contextlib.contextmanager
def ffmpeg_log() -> Iterator[list[str]]:
    """FFmpeg's error messages while the body runs (not printed): muxers say why they refuse a stream
    in their log ("vp9 only supported in MP4"), while the error raised only says "Invalid argument"."""
    said: list[str] = []
    level = av.logging.get_level()
    av.logging.set_level(av.logging.ERROR)
    try:
        with av.logging.Capture() as logs:
            try:
                yield said
            finally:  # filled when the block ends, raised or not
                said += [m.strip().rstrip(".") for lvl, _, m in logs if lvl <= av.logging.ERROR and m.strip()]
    finally:
        av.logging.set_level(level)


def reason(e: Exception, said: list[str]) -> str:
    """The muxer's last logged error if it said one, else the exception's own message (one line)."""
    return said[-1] if said else _ffmpeg_reason(e)


def copy_problem(stream, format_name: str) -> str | None:
    """Why ``stream``'s packets cannot go into a ``format_name`` container as they are, or None.

    Adds a copy of the stream to an in-memory container of that format and writes its header, which is
    where FFmpeg's muxers refuse codecs they cannot hold (e.g. "'mp4' format does not support 'gif'
    codec", "vp9 only supported in MP4"). Problems that only show in later packets (timestamps) are
    caught by ``mux`` while it copies.
    """
    problem: Exception | None = None
    with ffmpeg_log() as said:
        dst = av.open(io.BytesIO(), mode="w", format=format_name)
        try:
            add_copy_stream(dst, stream)
            dst.start_encoding()
        except (av.FFmpegError, ValueError) as e:
            problem = e
        finally:
            with contextlib.suppress(av.FFmpegError, ValueError):
                dst.close()
    return None if problem is None else reason(problem, said)


def _even(n: int) -> int:
    return n + n % 2


class H264Encoder:
    """Decoded frames of one source stream -> H.264 yuv420p packets with the source's timestamps.

    ``first`` is the stream's first decoded frame (its size, rotation and pixel format set up the
    encoder); ``source`` the input stream (its time base, frame rate, aspect ratio and colour tags).
    The output stream is added to ``dst`` at construction, so construct before ``dst``'s header is
    written. ``end`` is the end of the last frame given (its timestamp + duration), in seconds on the
    source stream's clock. Frames whose timestamp does not increase are dropped (as ``read_video``
    drops out-of-order frames; the encoder needs increasing timestamps).
    """

    def __init__(self, first: av.VideoFrame, source, dst: av.container.OutputContainer,
                 options: dict[str, str] | None = None) -> None:
        self.tb = source.time_base
        rate = source.average_rate or source.guessed_rate or source.base_rate or 25
        self.default_ticks = max(1, round(1 / (float(rate) * self.tb)))  # one frame, in source ticks
        self.w, self.h = first.width, first.height
        self.W, self.H = _even(self.w), _even(self.h)
        self.out = dst.add_stream("libx264", rate=Fraction(rate).limit_denominator(1_000_001))
        cc = self.out.codec_context
        cc.width, cc.height, cc.pix_fmt = self.W, self.H, "yuv420p"
        cc.time_base = self.tb
        self.out.time_base = self.tb
        sar = source.sample_aspect_ratio or source.codec_context.sample_aspect_ratio or Fraction(1)
        # Display aspect ratio kept: W * sar' / H == w * sar / h.
        sar_out = Fraction(sar) * Fraction(self.w * self.H, self.h * self.W)
        if sar_out != 1:
            cc.sample_aspect_ratio = sar_out
        src_cc = source.codec_context
        if first.format.name.startswith(_RGB_LIKE):
            # swscale converts RGB to YUV with the BT.601 matrix; say so, so players invert the same one.
            cc.colorspace = cc.color_primaries = cc.color_trc = _BT601
        else:
            for attr in ("colorspace", "color_primaries", "color_trc"):
                v = getattr(src_cc, attr)
                if v and v != _UNSPECIFIED:
                    setattr(cc, attr, v)
        cc.color_range = _TV_RANGE  # full-range sources (yuvj420p, MJPEG) are converted by swscale
        self.out.options = dict(X264_OPTIONS if options is None else options)
        if first.rotation:
            self.out.set_display_rotation(first.rotation)
        self.rotation = int(first.rotation) % 360
        self.last_pts: int | None = None
        self.end: float | None = None
        self.frames_in = 0
        self._durations: dict[int, int] = {}

    def _prepare(self, frame: av.VideoFrame, pts: int, ticks: int) -> av.VideoFrame:
        """The frame as yuv420p at the encoder's (even) size, with ``pts``/``duration`` in source ticks."""
        same = frame.width == self.w and frame.height == self.h
        yuv = frame.reformat(width=None if same else self.w, height=None if same else self.h,
                             format="yuv420p", dst_color_range=_TV_RANGE)
        if (self.W, self.H) != (self.w, self.h):
            yuv = self._pad(yuv)
        yuv.pts, yuv.duration, yuv.time_base = pts, ticks, self.tb
        yuv.pict_type = av.video.frame.PictureType.NONE  # let x264 choose frame types
        return yuv

    def _pad(self, yuv: av.VideoFrame) -> av.VideoFrame:
        """Odd size -> even: repeat the last column/row of each plane (chroma planes of an odd-size
        yuv420p frame are already ceil(w/2) x ceil(h/2), the even size's chroma)."""
        out = av.VideoFrame(self.W, self.H, "yuv420p")
        for sp, op in zip(yuv.planes, out.planes, strict=True):
            a = np.frombuffer(memoryview(sp), np.uint8).reshape(sp.height, sp.line_size)[:, : sp.width]
            b = np.frombuffer(memoryview(op), np.uint8).reshape(op.height, op.line_size)
            b = b[:, : op.width]
            b[: a.shape[0], : a.shape[1]] = a
            b[a.shape[0]:, : a.shape[1]] = a[-1:]
            b[:, a.shape[1]:] = b[:, a.shape[1] - 1 : a.shape[1]]
        return out

    def frames(self, frames: Iterable[av.VideoFrame]) -> list[av.Packet]:
        """Encode decoded frames (presentation order); returns the packets ready to mux."""
        packets: list[av.Packet] = []
        for fr in frames:
            pts = fr.pts if fr.pts is not None else (
                self.last_pts + self.default_ticks if self.last_pts is not None else 0)
            if self.last_pts is not None and pts <= self.last_pts:
                log.debug("re-encode: dropping a frame at %s, not after the previous one (%s)", pts, self.last_pts)
                continue
            ticks = fr.duration if fr.duration and fr.duration > 0 else self.default_ticks
            self.last_pts = pts
            self.end = max(self.end or 0.0, float((pts + ticks) * self.tb))
            self._durations[pts] = ticks
            self.frames_in += 1
            packets += self._stamped(self.out.encode(self._prepare(fr, pts, ticks)))
        return packets

    def flush(self) -> list[av.Packet]:
        """The packets the encoder still holds (call once, after the last frame)."""
        return self._stamped(self.out.encode(None))

    def _stamped(self, packets: list[av.Packet]) -> list[av.Packet]:
        # libx264 leaves packet durations at 0; the muxers need the last one to end the track on time.
        for p in packets:
            if p.pts is not None:
                p.duration = self._durations.pop(p.pts, self.default_ticks)
        return packets
