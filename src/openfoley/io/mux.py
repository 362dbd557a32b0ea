"""Put a waveform under a video without re-encoding the picture.

``mux`` copies the input's video packets byte for byte (stream copy) and encodes the new audio as AAC,
cut or zero-padded to the video's length so the two end together. Audio sample 0 is time 0 on the
input's clock, the same clock ``read_video`` reports, so audio generated for ``read_video`` frames
lands on them. The original audio track is dropped, or kept as a second track.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import av
import numpy as np

from openfoley.errors import MediaError, OutputError
from openfoley.io.atomic import atomic_output, check_output
from openfoley.io.audio import as_audio_array, encode_aac_until, read_audio
from openfoley.io.probe import _ffmpeg_reason, audio_stream, open_media, video_stream

log = logging.getLogger(__name__)

PathLike = str | os.PathLike
_MUX_SUFFIXES = (".mp4", ".mov", ".m4v", ".mkv")


def mux(
    video_in: PathLike,
    audio,
    sample_rate: int,
    out: PathLike,
    keep_original_audio: bool = False,
    force: bool = False,
    bit_rate: int = 192_000,
) -> Path:
    """Write ``out``: the video stream of ``video_in`` (packets copied) + ``audio`` as AAC.

    audio: waveform (s,) or (c, s) with c <= 2 at ``sample_rate``, as tensor or array; or a path to an
    audio file (read as mono at ``sample_rate``). keep_original_audio: keep the input's audio track as a
    second track (its packets copied). Atomic; refuses ``out == video_in`` and an existing ``out``
    unless ``force``.
    """
    vin, o = Path(video_in), Path(out)
    check_output(o, force=force, inputs=(vin,) + ((audio,) if isinstance(audio, (str, os.PathLike)) else ()))
    if o.suffix.lower() not in _MUX_SUFFIXES:
        raise OutputError(f"{o}: muxed output must end in one of {', '.join(_MUX_SUFFIXES)}")
    if isinstance(audio, (str, os.PathLike)):
        audio = read_audio(audio, sample_rate)
    wav = as_audio_array(audio)  # (c, s)
    if wav.shape[0] > 2:
        raise ValueError(f"mux: audio must be mono or stereo, got {wav.shape[0]} channels")
    sample_rate = int(sample_rate)

    src = open_media(vin)
    try:
        vs = video_stream(src)
        if vs is None:
            raise MediaError(f"{vin}: has no video stream to put the audio under")
        orig_audio = audio_stream(src) if keep_original_audio else None
        with atomic_output(o, force=force, inputs=(vin,)) as tmp:
            with av.open(str(tmp), mode="w") as dst:
                _copy_with_audio(src, vs, orig_audio, dst, wav, sample_rate, bit_rate, vin, o)
    finally:
        src.close()
    return o


def _copy_with_audio(src, vs, orig_audio, dst, wav, sample_rate, bit_rate, vin: Path, o: Path) -> None:
    try:
        vout = dst.add_stream_from_template(vs)  # PyAV resets the codec tag for the new container
    except (av.FFmpegError, ValueError) as e:
        raise OutputError(f"{o}: cannot copy {vin}'s video stream ({_ffmpeg_reason(e)})") from None
    aout = dst.add_stream("aac", rate=sample_rate)
    aout.layout = "mono" if wav.shape[0] == 1 else "stereo"
    aout.bit_rate = bit_rate
    oout = dst.add_stream_from_template(orig_audio) if orig_audio is not None else None
    origin = (src.start_time or 0) / av.time_base
    pts_offset = round(origin * sample_rate)  # audio sample 0 sits at time 0 on the input's clock
    vtb = vs.time_base
    rate = vs.average_rate or vs.guessed_rate or 25
    video_end = None
    pos = 0
    try:
        streams = [vs] + ([orig_audio] if orig_audio is not None else [])
        for pkt in src.demux(streams):
            if pkt.dts is None and pkt.pts is None:
                continue  # the demuxer's end-of-stream marker
            if pkt.stream is vs:
                start_pts = pkt.pts if pkt.pts is not None else pkt.dts
                dur = pkt.duration * vtb if pkt.duration else 1 / rate
                end = float(start_pts * vtb + dur) - origin
                video_end = end if video_end is None else max(video_end, end)
                now = float((pkt.dts if pkt.dts is not None else start_pts) * vtb) - origin
                pkt.stream = vout
                dst.mux(pkt)
                # Interleave: audio up to the decode time of this packet, never past the video's end.
                target = round(now * sample_rate)
                if pos < target < wav.shape[1]:
                    pos = encode_aac_until(dst, aout, wav, pos, target, pts_offset)
            else:
                pkt.stream = oout
                dst.mux(pkt)
        if video_end is None:
            raise MediaError(f"{vin}: the video stream has no packets")
        # Audio ends with the video: cut, or pad with silence.
        n = round(video_end * sample_rate)
        fitted = np.zeros((wav.shape[0], n), np.float32)
        fitted[:, : min(n, wav.shape[1])] = wav[:, :n]
        encode_aac_until(dst, aout, fitted, pos, n, pts_offset)
        dst.mux(aout.encode(None))
    except av.FFmpegError as e:
        raise OutputError(f"{o}: cannot write ({_ffmpeg_reason(e)}); try an .mkv output") from None

