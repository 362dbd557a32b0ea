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
from openfoley.io.reencode import H264Encoder, add_copy_stream, copy_problem, ffmpeg_log, reason

log = logging.getLogger(__name__)

PathLike = str | os.PathLike
_MUX_SUFFIXES = (".mp4", ".mov", ".m4v", ".mkv")
_FORMATS = {".mp4": "mp4", ".mov": "mov", ".m4v": "ipod", ".mkv": "matroska"}  # what FFmpeg picks by suffix
VIDEO_MODES = ("auto", "copy", "reencode")


class _CannotCopy(Exception):
    """The output container refused the input's video packets (the reason is the message)."""


class _CannotCopyAudio(Exception):
    """The output container refused the original audio track's packets part way."""


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
                    found = _copy_check(vin, o)  # refused by the header: say where it would fit
                    raise OutputError(_refusal(vin, o, job.codec, str(e), found[2] if found else [])) from None
                line = (f"{vin.name}: its {job.codec} video cannot be copied into {o.suffix.lower()} ({e}); "
                        "re-encoding it as H.264")
        log.info("%s", line)
        if on_reencode is not None:
            on_reencode(line)
        job.write(tmp, copy=False)
    return o


def copy_refusal(video_in: PathLike, out: PathLike) -> str | None:
    """Why ``video_in``'s video stream cannot be copied into a container of ``out``'s kind (by its
    suffix), as one line without paths ("msmpeg4 video cannot go into .mp4 (...)"), or None if it can.

    Asks FFmpeg's muxer about the stream's codec and parameters (``reencode.copy_problem``); nothing is
    written. A copy can still fail later on timestamps the container cannot store, which ``mux`` reports.
    """
    o = Path(out)
    found = _copy_check(Path(video_in), o)
    return None if found is None else f"{found[0]} video cannot go into {o.suffix.lower()} ({found[1]})"


def check_copy(video_in: PathLike, out: PathLike) -> None:
    """Raise ``OutputError`` if ``copy_refusal``: one line naming both files, why, and what would work."""
    vin, o = Path(video_in), Path(out)
    found = _copy_check(vin, o)
    if found is not None:
        raise OutputError(_refusal(vin, o, *found))


def _copy_check(vin: Path, o: Path) -> tuple[str, str, list[str]] | None:
    """None if the video stream can be copied into ``o``'s container, else (codec, reason, the other
    suffixes whose containers could hold it)."""
    fmt = _FORMATS.get(o.suffix.lower())
    if fmt is None:
        raise OutputError(f"{o}: muxed output must end in one of {', '.join(_MUX_SUFFIXES)}")
    src = open_media(vin)
    try:
        vs = video_stream(src)
        if vs is None:
            raise MediaError(f"{vin}: has no video stream to put the audio under")
        problem = copy_problem(vs, fmt)
        if problem is None:
            return None
        others = [s for s in (".mp4", ".mkv", ".mov")
                  if s != o.suffix.lower() and copy_problem(vs, _FORMATS[s]) is None]
        return vs.codec_context.codec.name, problem, others
    finally:
        src.close()


def _refusal(vin: Path, o: Path, codec: str, reason: str, holders: list[str]) -> str:
    """The one line for a video that ``copy`` cannot write: why, and what would work."""
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
        self.copy_audio = True  # the original track's packets (keep_original_audio), until refused
        self.copying_audio = False  # this attempt copies the original track's packets

    def write(self, tmp: Path, copy: bool) -> None:
        """One attempt; an original audio track refused part way is written again as AAC."""
        try:
            self._write(tmp, copy)
        except _CannotCopyAudio as e:
            log.info("%s: original audio cannot be copied into %s (%s); re-encoding it as AAC",
                     self.vin.name, self.o.suffix, e)
            self.copy_audio = False
            self._write(tmp, copy)

    def _write(self, tmp: Path, copy: bool) -> None:
        src = open_media(self.vin)
        try:
            vs = video_stream(src)
            if vs is None:
                raise MediaError(f"{self.vin}: has no video stream to put the audio under")
            self.codec = vs.codec_context.codec.name
            first = None if copy else self._first_frame()
            self.copying_audio = False
            failed: av.FFmpegError | None = None
            dst = None
            with ffmpeg_log() as said:
                try:
                    dst = av.open(str(tmp), mode="w")
                    self._streams_and_packets(src, vs, dst, first)
                    dst.close()
                except av.FFmpegError as e:
                    failed = e
                finally:
                    if dst is not None:
                        with contextlib.suppress(av.FFmpegError, ValueError, OSError):
                            dst.close()
        finally:
            src.close()
        if failed is None:
            return
        # A muxer writes interleaved packets later than it is given them, so a refusal part way does
        # not say which stream it was. The original audio is retried as AAC first; if the video copy
        # was at fault, that attempt fails too and the video is re-encoded.
        why = reason(failed, said)
        if self.copying_audio:
            raise _CannotCopyAudio(why)
        if copy:
            raise _CannotCopy(why)
        raise OutputError(f"{self.o}: cannot write ({why})")

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
        # FFmpeg's "fast" AAC coder: 3x faster than its default "twoloop" (the mux of a 60 s video took
        # 1.4 s, a quarter of generating it) and no worse here: on a 60 s test signal at 128 kb/s, SNR
        # 42 dB against twoloop's 34 dB (docs/generate.md).
        aout.options = {"aac_coder": "fast"}
        orig = audio_stream(src) if self.keep else None
        oout: Any = None
        orig_encode = False
        if orig is not None:
            problem = copy_problem(orig, fmt) if self.copy_audio else "refused part way"
            if problem is None:
                oout = add_copy_stream(dst, orig)
                self.copying_audio = True
            else:  # e.g. Vorbis into MP4: keep the sound, as AAC
                log.info("%s: original %s audio cannot be copied into %s (%s); re-encoding it as AAC",
                         self.vin.name, orig.codec_context.codec.name, self.o.suffix, problem)
                oout = dst.add_stream("aac", rate=orig.codec_context.sample_rate or 48000,
                                      layout=orig.codec_context.layout.name)
                orig_encode = True
        dst.start_encoding()  # the header: where muxers refuse streams they cannot hold as given
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
                    fr.duration = 0  # the encoder counts samples; Ogg's trimmed last frame says -512
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
