"""Audio in and out: decode any audio stream to mono float32 at a chosen rate; write WAV/FLAC.

``read_audio`` decodes with PyAV, places every decoded frame on the file's clock by its timestamp (gaps
become silence, overlaps are dropped), averages the channels, and resamples with a zero-phase
polyphase filter (``scipy.signal.resample_poly``), so sample ``i`` of the result is the sound at time
``start + i / sample_rate`` (see ``docs/io.md``). AAC encoder delay ("priming") and end padding are
removed: FFmpeg's MP4/Matroska demuxers report it (edit list / codec delay) and the decoder discards
it, and the tail is cut at the stream's declared duration.

Shapes: s audio samples, c channels.
"""

from __future__ import annotations

import logging
import math
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import av
import numpy as np
import soundfile as sf

from openfoley.errors import MediaError, OutputError
from openfoley.io.atomic import atomic_output
from openfoley.io.probe import _ffmpeg_reason, audio_stream, open_media

if TYPE_CHECKING:
    from torch import Tensor

log = logging.getLogger(__name__)

PathLike = str | os.PathLike
_MARGIN_S = 0.02  # decoded context each side of the span; the resampling filter reaches < 2 ms
_JITTER_S = 0.002  # timestamp differences below this are rounding, not gaps
_SCALE = {"u8": 128.0, "s16": 32768.0, "s32": 2147483648.0, "s64": 9223372036854775808.0}


def is_tensor(x) -> bool:
    """Whether ``x`` is a torch tensor, without importing torch (the lite runtime never loads it)."""
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(x, torch.Tensor)


def as_audio_array(wav) -> np.ndarray:
    """A waveform (s,) or (c, s), tensor or array, as a C-contiguous float32 (c, s) array."""
    if is_tensor(wav):
        wav = wav.detach().cpu().numpy()
    wav = np.asarray(wav)
    if not np.issubdtype(wav.dtype, np.floating):
        raise ValueError(f"audio must be floating point in [-1, 1], got dtype {wav.dtype}")
    if wav.ndim == 1:
        wav = wav[None]
    if wav.ndim != 2:
        raise ValueError(f"audio must have shape (s,) or (c, s), got {wav.shape}")
    return np.ascontiguousarray(wav, dtype=np.float32)


def _frame_channels(frame: av.AudioFrame) -> np.ndarray:
    """Decoded frame -> float32 (c, n) in [-1, 1], for any sample format."""
    arr = frame.to_ndarray()
    c = len(frame.layout.channels)
    if not frame.format.is_planar:
        arr = arr.reshape(-1, c).T
    base = frame.format.name.rstrip("p")
    if base == "u8":
        return (arr.astype(np.float32) - 128.0) / 128.0
    if base in _SCALE:
        return (arr / _SCALE[base]).astype(np.float32)
    return arr.astype(np.float32)


def read_audio(
    path: PathLike, sample_rate: int, start: float = 0.0, duration: float | None = None
) -> Tensor:
    """Decode the first audio stream of ``path`` as mono float32 (s,) at ``sample_rate``.

    Sample i is the sound at ``start + i / sample_rate`` seconds on the file's clock. With ``duration``
    the result has exactly ``round(duration * sample_rate)`` samples (zeros past the stream's end);
    without it, it runs to the end of the stream. Raises MediaError for unusable files, files without
    audio, and (without ``duration``) a start at or past the end.
    """
    if int(sample_rate) != sample_rate or sample_rate <= 0:
        raise ValueError(f"sample_rate must be a positive integer, got {sample_rate}")
    if start < 0:
        raise ValueError(f"start must be >= 0, got {start}")
    if duration is not None and not duration > 0:
        raise ValueError(f"duration must be > 0 or None, got {duration}")
    sample_rate = int(sample_rate)
    p = Path(path)
    container = open_media(p)
    try:
        stream = audio_stream(container)
        if stream is None:
            raise MediaError(f"{p}: has no audio stream (video only?)")
        data, t0, sr_in = _decode_span(container, stream, p, start, duration)
    finally:
        container.close()

    g = math.gcd(sample_rate, sr_in)
    up, down = sample_rate // g, sr_in // g
    k = math.ceil(_MARGIN_S * sr_in / down) if up != down else 0
    margin = k * down  # native samples of context; maps to exactly k * up output samples
    if duration is not None:
        n_out = round(duration * sample_rate)
    else:
        if t0 is None or t0 + len(data) / sr_in <= start:
            raise MediaError(f"{p}: start {start:.3f} s is at or past the end of the audio")
        n_out = round((t0 + len(data) / sr_in - start) * sample_rate)
    import torch  # here, not at the top: io is imported by the torch-free lite runtime

    if t0 is None:  # the requested span lies wholly past the end of the stream
        return torch.zeros(n_out, dtype=torch.float32)
    a = round((start - t0) * sr_in) - margin  # native index of the segment start (may be < 0)
    length = 2 * margin + math.ceil(n_out * down / up) + 1
    seg = np.zeros(length, np.float32)
    lo, hi = max(a, 0), min(a + length, len(data))
    if hi > lo:
        seg[lo - a : hi - a] = data[lo:hi]
    if up != down:
        from scipy.signal import resample_poly  # imported here: scipy.signal costs ~1 s to import

        y = resample_poly(seg, up, down).astype(np.float32)
    else:
        y = seg
    out = np.zeros(n_out, np.float32)
    got = y[k * up : k * up + n_out]
    out[: len(got)] = got
    # Resampling rings a little past a hard end of data; zero what lies past the stream's end.
    valid = math.ceil((len(data) - (a + margin)) * up / down)
    if valid < n_out:
        out[max(valid, 0) :] = 0.0
    return torch.from_numpy(out)


def _decode_span(
    container, stream, path: Path, start: float, duration: float | None
) -> tuple[np.ndarray, float | None, int]:
    """Decode [start - margin, start + duration + margin] as mono float32 at the native rate.

    Returns (data (s,), time of data[0] in seconds on the file's clock or None if nothing was decoded,
    native rate).
    """
    sr_in = int(stream.codec_context.sample_rate or stream.rate)
    if not sr_in:
        raise MediaError(f"{path}: audio stream has no sample rate")
    tb = stream.time_base
    origin = (container.start_time or 0) / av.time_base
    lo = start - _MARGIN_S
    hi = None if duration is None else start + duration + _MARGIN_S
    if lo > 1.0:  # seek well before: an AAC frame needs its predecessor to decode cleanly
        container.seek(math.floor((lo - 1.0 + origin) / tb), stream=stream, backward=True)
    # Samples are placed by counting from the first decoded frame (its timestamp anchors the run);
    # later timestamps only matter when they disagree by more than container rounding (Matroska
    # stores milliseconds): then they mark a real gap (filled with silence) or overlap (dropped).
    slack = math.ceil(_JITTER_S * sr_in)
    chunks: list[np.ndarray] = []
    anchor: float | None = None  # time of sample 0 of the run
    pos = 0  # samples since the anchor
    kept: int | None = None  # run index of the first kept sample
    try:
        for fr in container.decode(stream):
            x = _frame_channels(fr).mean(axis=0)  # mono: mean of channels, (n,)
            if anchor is None:
                anchor = fr.time - origin if fr.pts is not None else 0.0
            if fr.pts is not None:
                idx = round((fr.time - origin - anchor) * sr_in)
                if idx > pos + slack:  # a gap: silence keeps later sound at its time
                    if kept is not None:
                        chunks.append(np.zeros(idx - pos, np.float32))
                    pos = idx
                elif idx < pos - slack:  # overlap: keep what we have
                    x = x[pos - idx :]
            t = anchor + pos / sr_in
            if hi is not None and t > hi:
                break
            if t + len(x) / sr_in >= lo:
                if kept is None:
                    kept = pos
                chunks.append(x)
            pos += len(x)
    except av.FFmpegError as e:
        raise MediaError(f"{path}: cannot decode audio ({_ffmpeg_reason(e)})") from None
    t0 = None if kept is None or anchor is None else anchor + kept / sr_in
    data = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    if t0 is not None and stream.duration is not None:
        # Cut the encoder's end padding: the declared duration ends the stream.
        declared_end = float((stream.start_time or 0) * tb + stream.duration * tb) - origin
        data = data[: max(0, round((declared_end - t0) * sr_in))]
    return data, t0, sr_in


def write_audio(
    path: PathLike, wav, sample_rate: int, force: bool = False, subtype: str = "PCM_16"
) -> Path:
    """Write a waveform (s,) or (c, s) as .wav or .flac (by suffix), atomically.

    Samples are clipped to [-1, 1] (a warning is logged if any were outside). ``subtype`` is a
    soundfile subtype: "PCM_16" (default), "PCM_24", or "FLOAT" (wav only).
    """
    p = Path(path)
    if p.suffix.lower() not in (".wav", ".flac"):
        raise OutputError(f"{p}: audio output must end in .wav or .flac")
    data = as_audio_array(wav)  # (c, s)
    if not np.isfinite(data).all():
        raise ValueError(f"write_audio {p}: waveform contains NaN or inf")
    peak = float(np.abs(data).max(initial=0.0))
    if peak > 1.0 and subtype != "FLOAT":
        log.warning("%s: clipping %d samples outside [-1, 1] (peak %.3f)", p, int((np.abs(data) > 1).sum()), peak)
        data = np.clip(data, -1.0, 1.0)
    with atomic_output(p, force=force) as tmp:
        sf.write(str(tmp), data.T, int(sample_rate), subtype=subtype)
    return p


def encode_aac_until(
    out: av.container.OutputContainer, stream, wav: np.ndarray, pos: int, until: int, pts_offset: int = 0
) -> int:
    """Encode ``wav`` (c, s) from sample ``pos`` up to ``until`` into ``stream`` and mux the packets.

    Only whole encoder frames are sent until the end of ``wav`` is reached, where the remainder goes
    too. Returns the new position. Used to interleave audio with video while writing.
    """
    fs = stream.codec_context.frame_size or 1024
    total = wav.shape[1]
    until = min(until, total)
    layout = "mono" if wav.shape[0] == 1 else "stereo"
    while pos < until and (pos + fs <= until or until == total):
        chunk = np.ascontiguousarray(wav[:, pos : min(pos + fs, total)])
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
        frame.sample_rate = stream.codec_context.sample_rate
        frame.pts = pts_offset + pos
        out.mux(stream.encode(frame))
        pos += chunk.shape[1]
    return pos
