"""Audio fingerprints for de-duplicating the sound bank across packages, robust to re-encoding and gain.

A fingerprint is one 32-bit word per 16 ms hop: bit ``m`` of word ``n`` is the sign of the energy
difference between adjacent bands ``m`` and ``m+1``, differenced again against the previous frame
(the band-energy-difference scheme of Haitsma & Kalker, "A highly robust audio fingerprinting system",
ISMIR 2002; our own implementation). Signs of energy differences do not change when the waveform is
scaled (gain), and lossy re-encoding perturbs only the bits whose differences were near zero, so two
copies of one recording differ in few bits while unrelated sounds differ in about half.

Two clips are compared by their bit error rate (BER): the fraction of differing bits over the frames
they share, minimised over small time shifts (trimming may cut the copies a few ms apart).

Shapes: waveforms are ``(s,)`` float arrays; fingerprints are ``(n,)`` uint32 arrays, one word per hop.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

FP_RATE = 16000  # fingerprints are computed at this rate (the bank rate); callers resample first
FP_FRAME = 1024  # 64 ms analysis window
FP_HOP = 256  # 16 ms between words
FP_BANDS = 33  # 33 log-spaced bands -> 32 difference bits per word
FP_FMIN, FP_FMAX = 150.0, 7000.0
FP_RANGE_DB = 35.0  # frames more than this below the loudest frame, at either end, are not fingerprinted


def _band_matrix(n_fft: int, sample_rate: int) -> np.ndarray:
    """(FP_BANDS, n_fft//2+1) 0/1 matrix summing FFT bins into log-spaced bands."""
    edges = np.geomspace(FP_FMIN, FP_FMAX, FP_BANDS + 1)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    m = np.zeros((FP_BANDS, freqs.size), dtype=np.float64)
    for b in range(FP_BANDS):
        sel = (freqs >= edges[b]) & (freqs < edges[b + 1])
        if not sel.any():  # narrow low bands: take the nearest bin
            sel = np.abs(freqs - np.sqrt(edges[b] * edges[b + 1])) == np.abs(
                freqs - np.sqrt(edges[b] * edges[b + 1])).min()
        m[b, sel] = 1.0
    return m


_BANDS = _band_matrix(FP_FRAME, FP_RATE)
_WINDOW = np.hanning(FP_FRAME)


def fingerprint(wave: np.ndarray) -> np.ndarray:
    """(s,) waveform at ``FP_RATE`` -> (n,) uint32 words, one per hop of the clip's loud part (n >= 1).

    Leading/trailing frames more than ``FP_RANGE_DB`` below the loudest frame are left out. Clips
    shorter than one window are zero-padded to one window plus one hop, so one word exists.
    """
    x = np.asarray(wave, dtype=np.float64)
    assert x.ndim == 1, f"fingerprint expects a (s,) waveform, got shape {x.shape}"
    need = FP_FRAME + FP_HOP
    if x.size < need:
        x = np.pad(x, (0, need - x.size))
    frames = 1 + (x.size - FP_FRAME) // FP_HOP
    idx = np.arange(FP_FRAME)[None, :] + FP_HOP * np.arange(frames)[:, None]
    spec = np.abs(np.fft.rfft(x[idx] * _WINDOW, axis=1)) ** 2  # (frames, bins)
    energy = spec @ _BANDS.T  # (frames, FP_BANDS)
    # Keep the frames from the first to the last within FP_RANGE_DB of the loudest: bits of frames near
    # the noise floor are coin flips after lossy coding, and would swamp the decaying tails of impacts.
    level = 10.0 * np.log10(energy.sum(axis=1) + 1e-20)
    loud = np.flatnonzero(level >= level.max() - FP_RANGE_DB)
    energy = energy[loud[0]:loud[-1] + 1]
    if energy.shape[0] < 2:
        energy = np.concatenate([energy, energy])
    d = energy[:, :-1] - energy[:, 1:]  # (frames, 32): band differences
    bits = (d[1:] - d[:-1]) > 0  # (frames-1, 32): differenced over time
    weights = (1 << np.arange(32, dtype=np.uint64)).astype(np.uint64)
    words = (bits.astype(np.uint64) * weights).sum(axis=1).astype(np.uint32)
    return words


def to_hex(fp: np.ndarray) -> str:
    """(n,) uint32 -> hex string (big-endian words), the manifest's ``fingerprint`` field."""
    return np.asarray(fp, dtype=">u4").tobytes().hex()


def from_hex(text: str) -> np.ndarray:
    """Inverse of ``to_hex``."""
    return np.frombuffer(bytes.fromhex(text), dtype=">u4").astype(np.uint32)


def bit_error_rate(a: np.ndarray, b: np.ndarray, max_shift: int = 4) -> float:
    """Smallest fraction of differing bits between (n,) and (k,) fingerprints over shifts |d| <= max_shift.

    Only shifts whose overlap covers at least 80% of the shorter fingerprint count; 1.0 if none does.
    """
    a = np.asarray(a, dtype=np.uint32)
    b = np.asarray(b, dtype=np.uint32)
    short = min(a.size, b.size)
    best = 1.0
    for d in range(-max_shift, max_shift + 1):
        if d >= 0:
            x, y = a[d:], b
        else:
            x, y = a, b[-d:]
        n = min(x.size, y.size)
        if n == 0 or n < 0.8 * short:
            continue
        diff = np.bitwise_count(x[:n] ^ y[:n]).sum()
        best = min(best, float(diff) / (32.0 * n))
    return best


def pcm_hash(pcm16: np.ndarray) -> str:
    """sha1 of the processed (s,) int16 samples: exact duplicates after decoding and normalising."""
    return hashlib.sha1(np.ascontiguousarray(pcm16, dtype="<i2").tobytes()).hexdigest()


@dataclass
class DedupIndex:
    """Kept clips' fingerprints; ``find`` returns the id a new clip duplicates, or None.

    ``threshold`` is the BER at or below which two clips are the same recording (see docs/sound-bank.md
    for the measured distributions that set it). Candidates are limited to clips whose fingerprint
    length is within 10% (or 6 words) of the new one: copies of one recording have about the same
    length after trimming.
    """

    threshold: float = 0.15
    ids: list[str] = field(default_factory=list)
    fps: list[np.ndarray] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    exact: dict[str, str] = field(default_factory=dict)

    def add(self, clip_id: str, fp: np.ndarray, exact_key: str | None = None) -> None:
        self.ids.append(clip_id)
        self.fps.append(np.asarray(fp, dtype=np.uint32))
        self.lengths.append(int(np.asarray(fp).size))
        if exact_key is not None:
            self.exact.setdefault(exact_key, clip_id)

    def find_exact(self, exact_key: str) -> str | None:
        return self.exact.get(exact_key)

    def find_near(self, fp: np.ndarray) -> tuple[str, float] | None:
        """(id, ber) of the closest kept clip with BER <= threshold, or None."""
        n = int(np.asarray(fp).size)
        tol = max(6, int(0.1 * n))
        best: tuple[str, float] | None = None
        lengths = np.asarray(self.lengths)
        for i in np.flatnonzero(np.abs(lengths - n) <= tol) if lengths.size else []:
            ber = bit_error_rate(fp, self.fps[i])
            if ber <= self.threshold and (best is None or ber < best[1]):
                best = (self.ids[i], ber)
        return best
