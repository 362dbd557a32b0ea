"""Signal steps of the sound bank: decode bytes, resample to mono, trim silence, normalise, split events.

Inputs are encoded audio bytes (ogg/wav/flac/aiff from the packages) and (s,) float waveforms; outputs
are (s,) float32 waveforms at the bank rate. All steps are deterministic and documented with their
numbers in docs/sound-bank.md:

- ``decode``: soundfile (libsndfile: wav, flac, ogg vorbis, aiff), falling back to PyAV (FFmpeg) for
  anything else; channels are averaged to mono; ``resample_poly`` with the exact rational ratio.
- ``trim``: 10 ms frames; frames quieter than both ``rel_db`` below the loudest frame and the absolute
  floor ``abs_db`` are silence; leading/trailing silence is cut, keeping ``pad`` seconds of margin.
- ``normalise``: the RMS over *active* frames (within 30 dB of the loudest frame) is set to
  ``target_db`` dBFS, then the gain is lowered if needed so the peak stays at or below ``peak_db``.
  A plain gated RMS, not ITU-R BS.1770 loudness: the K-weighting barely matters for ranking short
  effects and this stays exact and testable.
- ``split_events``: a recording is cut at silent gaps (frames ``gap_db`` below the loudest frame) of
  at least ``min_gap`` seconds; only runs peaking within ``strong_db`` of the loudest frame start an
  event (weaker runs are tails of the previous one); pieces shorter than ``min_event`` are dropped.
- ``split_peaks``: for steps over a background with no silent gaps: one event per strong peak (within
  10 dB of the loudest, at least 0.25 s apart), cut at the quietest frame between neighbours.
"""

from __future__ import annotations

import io
import itertools
import math

import numpy as np
from scipy.signal import resample_poly

from openfoley.errors import MediaError

FRAME_S = 0.010  # 10 ms analysis frames for trimming / splitting


def decode(data: bytes, name: str, sample_rate: int) -> np.ndarray:
    """Encoded bytes -> (s,) float32 mono at ``sample_rate``. ``name`` is used in error messages."""
    wave, sr = _decode_native(data, name)
    if wave.ndim == 2:
        wave = wave.mean(axis=1)
    wave = np.asarray(wave, dtype=np.float64)
    if sr != sample_rate and wave.size:
        g = math.gcd(int(sr), int(sample_rate))
        wave = resample_poly(wave, sample_rate // g, int(sr) // g)
    return wave.astype(np.float32)


def _decode_native(data: bytes, name: str) -> tuple[np.ndarray, int]:
    """(s,) or (s, c) float64 at the file's own rate."""
    import soundfile as sf

    try:
        wave, sr = sf.read(io.BytesIO(data), dtype="float64", always_2d=False)
        return wave, int(sr)
    except Exception:  # noqa: BLE001 - libsndfile refuses many formats; try FFmpeg next
        pass
    try:
        import av

        with av.open(io.BytesIO(data)) as container:
            stream = next((s for s in container.streams if s.type == "audio"), None)
            if stream is None:
                raise MediaError(f"{name}: no audio stream")
            chunks = []
            sr = stream.rate or stream.codec_context.sample_rate
            for frame in container.decode(stream):
                raw = frame.to_ndarray()
                c = len(frame.layout.channels)
                arr = raw.reshape(-1, c) if not frame.format.is_planar else raw.T  # (n, c)
                base = frame.format.name.rstrip("p")
                if base == "u8":
                    arr = (arr.astype(np.float64) - 128.0) / 128.0
                elif base in ("s16", "s32", "s64"):
                    arr = arr.astype(np.float64) / float(2 ** (int(base[1:]) - 1))
                chunks.append(np.asarray(arr, dtype=np.float64))
            if not chunks:
                raise MediaError(f"{name}: no audio frames decoded")
            return np.concatenate(chunks, axis=0), int(sr)
    except MediaError:
        raise
    except Exception as e:  # noqa: BLE001 - PyAV raises many error types
        raise MediaError(f"{name}: cannot decode audio ({type(e).__name__}: {e})") from None


def frame_db(wave: np.ndarray, sample_rate: int) -> np.ndarray:
    """(s,) -> (frames,) RMS level in dBFS of consecutive 10 ms frames (last partial frame included)."""
    hop = max(1, int(round(FRAME_S * sample_rate)))
    n = int(math.ceil(wave.size / hop))
    x = np.zeros(n * hop, dtype=np.float64)
    x[: wave.size] = wave
    rms = np.sqrt(np.mean(x.reshape(n, hop) ** 2, axis=1))
    return 20.0 * np.log10(np.maximum(rms, 1e-10))


def active_mask(wave: np.ndarray, sample_rate: int, rel_db: float, abs_db: float) -> np.ndarray:
    """(frames,) bool: frames louder than ``rel_db`` below the loudest frame and louder than ``abs_db``."""
    db = frame_db(wave, sample_rate)
    if db.size == 0:
        return np.zeros(0, dtype=bool)
    return db > max(db.max() - rel_db, abs_db)


def trim(wave: np.ndarray, sample_rate: int, rel_db: float = 45.0, abs_db: float = -65.0,
         pad: float = 0.02) -> np.ndarray:
    """Cut leading/trailing silence from (s,), keeping ``pad`` s of margin. All-silent input -> (0,)."""
    act = active_mask(wave, sample_rate, rel_db, abs_db)
    if not act.any():
        return wave[:0]
    hop = int(round(FRAME_S * sample_rate))
    idx = np.flatnonzero(act)
    margin = int(round(pad * sample_rate))
    start = max(0, idx[0] * hop - margin)
    stop = min(wave.size, (idx[-1] + 1) * hop + margin)
    return wave[start:stop]


def normalise(wave: np.ndarray, sample_rate: int, target_db: float = -20.0,
              peak_db: float = -1.0) -> tuple[np.ndarray, float]:
    """Scale (s,) so its active-frame RMS is ``target_db`` dBFS, peak capped at ``peak_db``; returns (wave, gain_db)."""
    if wave.size == 0:
        return wave, 0.0
    hop = int(round(FRAME_S * sample_rate))
    db = frame_db(wave, sample_rate)
    act = db > db.max() - 30.0
    n = db.size
    x = np.zeros(n * hop, dtype=np.float64)
    x[: wave.size] = wave
    frames = x.reshape(n, hop)[act]
    rms = float(np.sqrt(np.mean(frames ** 2))) if frames.size else 0.0
    if rms <= 1e-10:
        return wave, 0.0
    gain_db = target_db - 20.0 * math.log10(rms)
    peak = float(np.max(np.abs(wave)))
    if peak > 0:
        gain_db = min(gain_db, peak_db - 20.0 * math.log10(peak))
    return (wave * 10.0 ** (gain_db / 20.0)).astype(np.float32), gain_db


def split_events(wave: np.ndarray, sample_rate: int, gap_db: float = 35.0, min_gap: float = 0.15,
                 min_event: float = 0.05, abs_db: float = -65.0,
                 strong_db: float = 20.0) -> list[tuple[int, int]]:
    """(s,) -> [(start, stop)] sample ranges of events separated by silent gaps >= ``min_gap`` s.

    A gap is a run of frames quieter than ``gap_db`` below the loudest frame (or the absolute floor).
    A run whose own peak is more than ``strong_db`` below the loudest frame is not an event: it is
    joined to the event before it (a decay tail). Events shorter than ``min_event`` s are dropped. One event spanning the clip means "do not split".
    """
    act = active_mask(wave, sample_rate, gap_db, abs_db)
    if not act.any():
        return []
    hop = int(round(FRAME_S * sample_rate))
    min_gap_frames = max(1, int(round(min_gap / FRAME_S)))
    events: list[tuple[int, int]] = []
    idx = np.flatnonzero(act)
    start = prev = idx[0]
    for i in idx[1:]:
        if i - prev - 1 >= min_gap_frames:
            events.append((start, prev + 1))
            start = i
        prev = i
    events.append((start, prev + 1))
    # Only events whose loudest frame is within ``strong_db`` of the recording's loudest are events;
    # weaker runs are decay tails or background and stay attached to the event before them.
    db = frame_db(wave, sample_rate)
    top = db.max()
    strong = [(a, b) for a, b in events if db[a:b].max() >= top - strong_db]
    merged: list[tuple[int, int]] = []
    for a, b in events:
        if (a, b) in strong or not merged:
            merged.append((a, b))
        else:
            merged[-1] = (merged[-1][0], b)
    out = []
    for a, b in merged:
        s0, s1 = a * hop, min(wave.size, b * hop)
        if (s1 - s0) >= min_event * sample_rate:
            out.append((s0, s1))
    return out


def split_peaks(wave: np.ndarray, sample_rate: int, peak_db: float = 10.0,
                min_spacing: float = 0.25) -> list[tuple[int, int]]:
    """(s,) -> [(start, stop)] ranges around each strong peak, for steps over a noisy background.

    Walking recordings (0 A.D. ``Footstep_Grass_Walking``) have steps 15-25 dB above leaf rustle but no
    silent gaps, so ``split_events`` finds one event. Here a step is a 10 ms frame within ``peak_db`` of
    the loudest frame that is the loudest within ``min_spacing`` s either side; consecutive steps are
    separated at the quietest frame between them. Fewer than two steps gives ``[(0, s)]``.
    """
    db = frame_db(wave, sample_rate)
    hop = int(round(FRAME_S * sample_rate))
    if db.size == 0:
        return []
    w = max(1, int(round(min_spacing / FRAME_S)))
    peaks: list[int] = []
    for i in np.argsort(-db, kind="stable"):
        if db[i] < db.max() - peak_db:
            break
        if all(abs(i - p) >= w for p in peaks):
            peaks.append(int(i))
    peaks.sort()
    if len(peaks) < 2:
        return [(0, wave.size)]
    cuts = [0] + [a + int(np.argmin(db[a:b])) for a, b in itertools.pairwise(peaks)] + [db.size]
    return [(cuts[k] * hop, min(wave.size, cuts[k + 1] * hop)) for k in range(len(peaks))]
