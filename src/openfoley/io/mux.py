"""Put a waveform under a video: the picture copied when the container can hold it, else re-encoded.

``mux`` writes the input's video stream and the new audio (AAC, cut or zero-padded to the video's
length so the two end together). The video is written one of two ways (``video=``):

- **copy**: the input's video packets byte for byte (stream copy): no quality loss, no decoding;
- **reencode**: every frame decoded and encoded as H.264 yuv420p (``io/reencode.py``) at the same
  timestamps, so the frame count, frame times, rotation and display aspect ratio do not change;
- **auto** (the default): copy when the output container can hold the stream as it is, else
  re-encode. "Can hold" is asked of FFmpeg's muxer (``reencode.copy_problem``: the header of a
  container with that stream is written in memory); a copy that FFmpeg refuses part way (timestamps
  it cannot store) is restarted as a re-encode. ``copy`` refuses such a stream with one line.

Audio sample 0 is time 0 on the input's clock, the same clock ``read_video`` reports, so audio
generated for ``read_video`` frames lands on them. The original audio track is dropped, or kept as a
second track (``keep_original_audio``): its packets copied, or, when the container cannot hold its
codec (Vorbis in MP4, for example), re-encoded as AAC at its own rate and channels.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import numpy as np

from openfoley.errors import ConfigError, MediaError, OutputError
from openfoley.io.atomic import atomic_output, check_output
from openfoley.io.audio import as_audio_array, encode_aac_until, read_audio
from openfoley.io.probe import _ffmpeg_reason, _first_frame, audio_stream, open_media, video_stream
from openfoley.io.reencode import H264Encoder, add_copy_stream, copy_problem

log = logging.getLogger(__name__)

PathLike = str | os.PathLike
_MUX_SUFFIXES = (".mp4", ".mov", ".m4v", ".mkv")
_FORMATS = {".mp4": "mp4", ".mov": "mov", ".m4v": "ipod", ".mkv": "matroska"}  # what FFmpeg picks by suffix
VIDEO_MODES = ("auto", "copy", "reencode")


class _CannotCopy(Exception):
    """The output container refused the input's video packets (the reason is the message)."""


def mux(
    video_in: PathLike,
    audio,
    sample_rate: int,
    out: PathLike,
    keep_original_audio: bool = False,
    force: bool = False,
    bit_rate: int = 192_000,
    video: str = "auto",
    progress: Callable[[int, int], None] | None = None,
    on_reencode: Callable[[str], None] | None = None,
) -> Path:
    """Write ``out``: the video stream of ``video_in`` (copied or re-encoded, see ``video``) + ``audio``.

    audio: waveform (s,) or (c, s) with c <= 2 at ``sample_rate``, as tensor or array; or a path to an
    audio file (read as mono at ``sample_rate``). keep_original_audio: keep the input's audio track as a
    second track. video: "auto" (copy if the container can hold the stream, else re-encode), "copy"
    (refuse with ``OutputError`` if it cannot), "reencode" (always H.264). When the video is
    re-encoded, ``on_reencode(line)`` is called once first with one line saying why, and
    ``progress(frames_done, frames_total)`` after each frame. Atomic; refuses ``out == video_in`` and
    an existing ``out`` unless ``force``.
    """
    if video not in VIDEO_MODES:
        raise ConfigError(f"video must be one of {', '.join(VIDEO_MODES)}, got {video!r}")
    vin, o = Path(video_in), Path(out)
    check_output(o, force=force, inputs=(vin,) + ((audio,) if isinstance(audio, (str, os.PathLike)) else ()))
    if o.suffix.lower() not in _MUX_SUFFIXES:
        raise OutputError(f"{o}: muxed output must end in one of {', '.join(_MUX_SUFFIXES)}")
    if isinstance(audio, (str, os.PathLike)):
        audio = read_audio(audio, sample_rate)
    wav = as_audio_array(audio)  # (c, s)
    if wav.shape[0] > 2:
        raise ValueError(f"mux: audio must be mono or stereo, got {wav.shape[0]} channels")
    job = _Job(vin, o, wav, int(sample_rate), bit_rate, keep_original_audio, progress)
    with atomic_output(o, force=force, inputs=(vin,)) as tmp:
        if video == "reencode":
            line = f"{vin.name}: re-encoding the video as H.264 (asked for)"
        else:
            try:
                job.write(tmp, copy=True)
                return o
            except _CannotCopy as e:
                if video == "copy":
                    raise OutputError(_refusal(vin, o, job.codec, str(e))) from None
                line = (f"{vin.name}: its {job.codec} video cannot be copied into {o.suffix.lower()} ({e}); "
                        "re-encoding it as H.264")
        log.info("%s", line)
        if on_reencode is not None:
            on_reencode(line)
        job.write(tmp, copy=False)
    return o


def check_copy(video_in: PathLike, out: PathLike) -> None:
    """Raise ``OutputError`` (one line) if ``video_in``'s video stream cannot be copied into a container
    of ``out``'s kind (by its suffix), as ``mux(video="copy")`` would; nothing is written.

    Checks what FFmpeg's muxer says of the stream's codec and parameters (``reencode.copy_problem``);
    a copy can still fail later on timestamps the container cannot store, which ``mux`` reports.
    """
    vin, o = Path(video_in), Path(out)
    fmt = _FORMATS.get(o.suffix.lower())
    if fmt is None:
        raise OutputError(f"{o}: muxed output must end in one of {', '.join(_MUX_SUFFIXES)}")
    src = open_media(vin)
    try:
        vs = video_stream(src)
        if vs is None:
            raise MediaError(f"{vin}: has no video stream to put the audio under")
        problem = copy_problem(vs, fmt)
        if problem:
            raise OutputError(_refusal(vin, o, vs.codec_context.codec.name, problem, vs))
    finally:
        src.close()


def _refusal(vin: Path, o: Path, codec: str, reason: str, stream=None) -> str:
    """The one line for a video that ``copy`` cannot write: why, and what would work."""
    if stream is None:
        src = open_media(vin)
        try:
            return _refusal(vin, o, codec, reason, video_stream(src))
        finally:
            src.close()
    holders = [s for s in (".mp4", ".mkv", ".mov") if s != o.suffix.lower() and copy_problem(stream, _FORMATS[s]) is None]
    also = f"a {'/'.join(holders)} output can hold it as it is, or " if holders else ""
    return (f"{o}: cannot copy {vin}'s {codec} video stream into {o.suffix.lower()} ({reason}); "
            f"{also}re-encode it as H.264 (--video auto or reencode)")


class _Job:
    """One mux: the inputs, and ``write`` (one attempt, copying or re-encoding, into ``tmp``)."""

    def __init__(self, vin: Path, o: Path, wav: np.ndarray, sample_rate: int, bit_rate: int,
                 keep_original_audio: bool, progress: Callable[[int, int], None] | None) -> None:
        self.vin, self.o, self.wav, self.sr, self.bit_rate = vin, o, wav, sample_rate, bit_rate
        self.keep, self.progress = keep_original_audio, progress
        self.codec = "?"

    def write(self, tmp: Path, copy: bool) -> None:
        src = open_media(self.vin)
        try:
            vs = video_stream(src)
            if vs is None:
                raise MediaError(f"{self.vin}: has no video stream to put the audio under")
            self.codec = vs.codec_context.codec.name
            first = None if copy else self._first_frame()
            dst = av.open(str(tmp), mode="w")
            try:
                self._streams_and_packets(src, vs, dst, first)
                dst.close()
            except BaseException:
                with contextlib.suppress(av.FFmpegError, ValueError, OSError):
                    dst.close()
                raise
        except av.FFmpegError as e:
            raise OutputError(f"{self.o}: cannot write ({_ffmpeg_reason(e)})") from None
        finally:
            src.close()

    def _first_frame(self) -> av.VideoFrame:
        c = open_media(self.vin)
        try:
            fr = _first_frame(c, video_stream(c), self.vin)
        finally:
            c.close()
        if fr is None:
            raise MediaError(f"{self.vin}: the video stream has no decodable frames")
        return fr

    def _streams_and_packets(self, src: Any, vs: Any, dst: Any, first: av.VideoFrame | None) -> None:
        wav, sr = self.wav, self.sr
        fmt = dst.format.name
        enc = None
        if first is None:
            problem = copy_problem(vs, fmt)
            if problem:
                raise _CannotCopy(problem)
            vout = add_copy_stream(dst, vs)
        else:
            vs.thread_type = "AUTO"
            enc = H264Encoder(first, vs, dst)
            vout = enc.out
        aout = dst.add_stream("aac", rate=sr)
        aout.layout = "mono" if wav.shape[0] == 1 else "stereo"
        aout.bit_rate = self.bit_rate
        orig = audio_stream(src) if self.keep else None
        oout: Any = None
        orig_encode = False
        if orig is not None:
            problem = copy_problem(orig, fmt)
            if problem is None:
                oout = add_copy_stream(dst, orig)
            else:  # e.g. Vorbis into MP4: keep the sound, as AAC
                log.info("%s: original %s audio cannot be copied into %s (%s); re-encoding it as AAC",
                         self.vin.name, orig.codec_context.codec.name, self.o.suffix, problem)
                oout = dst.add_stream("aac", rate=orig.codec_context.sample_rate or 48000,
                                      layout=orig.codec_context.layout.name)
                orig_encode = True
        # The output starts at 0: every timestamp moves back by the input's start (MPEG-PS/TS files start
        # at 0.5-1.4 s), so frame times on the output's clock equal those on the input's clock.
        origin = (src.start_time or 0) / av.time_base
        vtb = vs.time_base
        assert vtb is not None, "a demuxed stream has a time base"
        shift = {vs: round(origin / vtb)}
        if orig is not None:
            shift[orig] = round(origin / (orig.time_base or vtb))
        rate = vs.average_rate or vs.guessed_rate or 25
        seconds = float(vs.duration * vtb) if vs.duration else (src.duration or 0) / av.time_base
        total = vs.frames or max(1, round(seconds * float(rate)))  # for the progress bar
        video_end = None
        pos = 0

        def shifted(x: Any, s: Any) -> Any:
            """A packet or frame with its timestamps moved back by the input's start."""
            if shift[s]:
                if x.pts is not None:
                    x.pts -= shift[s]
                if x.dts is not None:
                    x.dts -= shift[s]
            return x

        def video_out(pkt: av.Packet) -> None:
            """Mux one video packet, then the audio up to its decode time (never past the video's end)."""
            nonlocal pos
            if first is None:
                try:
                    dst.mux(pkt)
                except (av.FFmpegError, ValueError) as e:
                    raise _CannotCopy(_ffmpeg_reason(e)) from None
            else:
                dst.mux(pkt)
            ts = pkt.dts if pkt.dts is not None else pkt.pts
            target = round(float(ts * pkt.time_base) * sr) if ts is not None else 0
            if pos < target < wav.shape[1]:
                pos = encode_aac_until(dst, aout, wav, pos, target)

        def decoded(s: Any, pkt: av.Packet) -> list:
            try:
                return [shifted(f, s) for f in s.decode(pkt)]
            except av.FFmpegError as e:
                raise MediaError(f"{self.vin}: cannot decode {s.type} ({_ffmpeg_reason(e)})") from None

        streams = [vs] + ([orig] if orig is not None else [])
        for pkt in src.demux(streams):
            flush = pkt.dts is None and pkt.pts is None  # the demuxer's end-of-stream marker
            if pkt.stream is vs:
                if enc is not None:
                    for p in enc.frames(decoded(vs, pkt)):
                        video_out(p)
                    if self.progress is not None:
                        self.progress(enc.frames_in, max(total, enc.frames_in))
                    continue
                if flush:
                    continue
                start_pts = pkt.pts if pkt.pts is not None else pkt.dts
                dur = pkt.duration * vtb if pkt.duration else 1 / rate
                end = float(start_pts * vtb + dur) - origin
                video_end = end if video_end is None else max(video_end, end)
                pkt = shifted(pkt, vs)
                pkt.stream = vout
                video_out(pkt)
            elif orig_encode:
                for fr in decoded(orig, pkt):
                    dst.mux(oout.encode(fr))
            elif not flush:
                pkt = shifted(pkt, orig)
                pkt.stream = oout
                dst.mux(pkt)
        if orig_encode:
            dst.mux(oout.encode(None))
        if enc is not None:
            for p in enc.flush():
                video_out(p)
            video_end = enc.end
        if video_end is None:
            raise MediaError(f"{self.vin}: the video stream has no packets")
        # Audio ends with the video: cut, or pad with silence.
        n = round(video_end * sr)
        fitted = np.zeros((wav.shape[0], n), np.float32)
        fitted[:, : min(n, wav.shape[1])] = wav[:, :n]
        encode_aac_until(dst, aout, fitted, pos, n)
        dst.mux(aout.encode(None))
