"""``FoleyResult``: the sound for one video (or section) and what its plot needs, numpy only.

Both runtimes return it: ``openfoley.pipeline.FoleyPipeline`` (torch) and ``openfoley.lite``
(numpy + ONNX Runtime), so this module imports neither torch nor the model.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from openfoley.errors import MediaError
from openfoley.io import mux, probe
from openfoley.pipeline.windows import Stitcher, WindowPlan, detect_onsets, onset_peaks

log = logging.getLogger(__name__)

PathLike = str | os.PathLike
STRIP_FRAMES = 8  # key-frame thumbnails kept for the plot, one per equal slice of the video


@dataclass
class FoleyResult:
    """The sound for one video (or section) and what a plot needs.

    wav float32 (s,) at ``sample_rate``; sample 0 sits at ``start`` seconds on the video's clock.
    (If its peak would exceed full scale the whole waveform is scaled to a peak of 0.99, logged.)
    mel float32 (f, m): the generated log-mel at ``mel_fps`` frames per second (from ``start``).
    key_times / key_saliency float64 (k,): the key frames the generator was conditioned on (absolute s).
    onsets float64 (q,): onsets detected in the generated sound (absolute s).
    video_events float64 (e,): where the video predicts a sound starts (absolute s, the centre of each
    frame that is a peak of the onset head's track at or above ``flow.onset_peak_threshold``; the
    instants onset guidance pulls ``onsets`` to). Empty for models without an onset head. An event in
    ``video_events`` with no onset near it was lost by the generator; an onset with no event near it,
    or a visible event missing from both, by the video side.
    strip: up to ``STRIP_FRAMES`` (time s, uint8 (3, h, w)) key frames, the most salient per slice.
    timings: seconds per stage (decode, encoders, flow, vocoder) summed over windows.
    """

    wav: np.ndarray
    sample_rate: int
    start: float
    duration: float
    mel: np.ndarray
    mel_fps: float
    key_times: np.ndarray
    key_saliency: np.ndarray
    onsets: np.ndarray
    strip: list[tuple[float, np.ndarray]]
    windows: int
    seed: int
    settings: dict = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    video_events: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def mux(self, video_in: PathLike, out: PathLike, *, video: str = "auto", keep_original_audio: bool = False,
            force: bool = False, progress: Callable[[int, int], None] | None = None,
            on_reencode: Callable[[str], None] | None = None) -> Path:
        """Write ``out`` (.mp4/.mkv/.mov/.m4v): ``video_in``'s picture with this sound under it (``io.mux``).

        The sound sits at its place on the video's clock: a section (``start`` > 0) after ``start``
        seconds of silence; the audio is cut or padded to the video's end. video: "auto" (copy the
        video stream when the container can hold it, else re-encode it as H.264), "copy" or
        "reencode"; ``on_reencode(line)`` / ``progress(frames_done, total)`` report a re-encode.
        """
        under = self.wav
        if self.start > 0:
            under = np.concatenate([np.zeros(round(self.start * self.sample_rate), np.float32), self.wav])
        return mux(video_in, under, self.sample_rate, out, keep_original_audio=keep_original_audio, force=force,
                   video=video, progress=progress, on_reencode=on_reencode)


def file_span(path: Path, fps: float, start: float, duration: float | None) -> tuple[int, float]:
    """(n grid frames from ``start``, the seconds the output covers) for a video file; MediaError for a
    folder, a file without video, a start past the end, or fewer than 2 frames."""
    if path.is_dir():
        raise MediaError(f"{path}: is a directory, not a video file")
    info = probe(path, count_frames=False)
    if info.video is None:
        raise MediaError(f"{path}: has no video stream (audio only?)")
    end = info.video.duration if info.video.duration > 0 else info.duration
    if start >= end:
        raise MediaError(f"{path}: start {start:.3f} s is at or past the end of the video ({end:.3f} s)")
    span = end - start if duration is None else min(duration, end - start)
    n = max(0, math.ceil(span * fps - 1e-6))  # grid frames covering the span
    if info.video.frames == 1:
        n = min(n, 1)
    check_length(str(path), n, fps)
    return n, span


def frames_span(frames, plan: WindowPlan, start: float, duration: float | None):
    """Frames already on the model's grid (a uint8 (t, 3, H, W) tensor or array) -> (n grid frames from
    ``start``, an iterator over the windows of ``plan``: slices of ``frames``, the last one shorter)."""
    fps = plan.fps
    first = round(start * fps)
    avail = frames.shape[0] - first
    n = avail if duration is None else min(avail, round(duration * fps))
    check_length("frames", n, fps)

    def windows():
        for j in range(plan.count(n)):
            a = first + j * plan.hop_frames
            yield frames[a : min(a + plan.frames, first + n)]

    return n, windows()


def frame_pairs(frames, plan: WindowPlan, k: int, start: float, duration: float | None):
    """``frames_span`` for both runtimes' frames handed over as a tensor or array, paired per window with
    the event path's frames (``Config.event_rate`` k). k = 1: frames on the model's grid -> (n, n / fps,
    (window, None) pairs). k > 1: frames at k times the model's rate, every k-th the model's (as a decode at
    the model's rate picks them) -> (n model frames, the seconds the frames cover, (window, its span of
    the given frames) pairs)."""
    fps = plan.fps
    if k == 1:
        n, windows = frames_span(frames, plan, start, duration)
        return n, n / fps, ((w, None) for w in windows)
    first = round(start * fps * k)
    avail = frames.shape[0] - first
    if duration is not None:
        avail = min(avail, round(duration * fps * k))
    span = frames[first:first + max(0, avail)]
    n, windows = frames_span(span[::k], plan, 0.0, None)

    def pairs():
        for j, w in enumerate(windows):
            a = j * plan.hop_frames * k
            yield w, span[a:a + w.shape[0] * k]

    return n, span.shape[0] / (fps * k), pairs()


def paired_windows(events, k: int):
    """Windows decoded at k times the model's rate -> (model window, event window) pairs: the model's frames
    are every k-th of them, as a decode at the model's rate picks them (grid times ``start + i / fps`` are
    the faster grid's ``start + k i / (k fps)``, to the bit), so one decode serves both. Tensors or arrays
    alike; the model's window is contiguous."""
    for e in events:
        w = e[::k]
        yield (w.contiguous() if hasattr(w, "contiguous") else np.ascontiguousarray(w)), e


def hold_last(frames, n: int):
    """frames (u, ...) tensor or array -> (n, ...): cut to n, or the last frame held to n (a short last window)."""
    return frames[np.minimum(np.arange(n), frames.shape[0] - 1)] if frames.shape[0] != n else frames


def check_length(name: str, n: int, fps: float) -> None:
    """MediaError unless there are at least 2 grid frames (key frames are scored by change)."""
    if n < 2:
        raise MediaError(f"{name}: too short to generate for: {max(n, 0)} frame(s) at the model's {fps:g} fps; "
                         f"key frames need at least 2 frames ({2 / fps:.2f} s)")


class ResultBuilder:
    """Collects generated windows into a ``FoleyResult`` (both runtimes use it, numpy only).

    ``add`` takes one window: its index j, first grid frame, real (not padded) frames, waveform (S,),
    log-mel (f, mel_frames), key frames (k,) int and the saliency of all its frames (T,), the frames
    uint8 (T, 3, H, W) for the plot's strip, stage timings, and (models with an onset head) the onset
    track (k T,), k values per frame (``Config.event_rate``), whose peaks at or above ``onset_threshold``
    become ``video_events``.
    """

    def __init__(self, plan: WindowPlan, start: float, seconds: float, n_mels: int, mel_fps: float,
                 onset_threshold: float = math.inf):
        self.plan, self.start, self.seconds, self.mel_fps = plan, start, seconds, mel_fps
        self.sr, self.fps = plan.sample_rate, plan.fps
        self.onset_threshold = onset_threshold
        self.out = Stitcher(plan, round(seconds * plan.sample_rate), n_mels)
        self.keys_t: list[np.ndarray] = []
        self.keys_s: list[np.ndarray] = []
        self.events: list[np.ndarray] = []
        self.strip: dict[int, tuple[float, float, np.ndarray]] = {}  # slice -> (saliency, time, frame)
        self.timings = dict.fromkeys(("decode", "encoders", "flow", "vocoder", "stitch"), 0.0)

    def add(self, j: int, first_frame: int, real_frames: int, wav: np.ndarray, mel: np.ndarray,
            key_index: np.ndarray, key_saliency: np.ndarray, frames: np.ndarray, timings: dict[str, float],
            onset: np.ndarray | None = None) -> None:
        t0 = time.perf_counter()
        plan, dur = self.plan, self.seconds
        self.out.add(j, wav, mel)
        first_owned = plan.overlap_frames if j else 0
        if onset is not None:  # peaks in the frames this window owns (as for the key frames below)
            r = max(1, len(onset) // plan.frames)  # track values per frame (alignment.event_fps)
            ev = onset_peaks(onset, self.onset_threshold)
            ev = ev[(ev < r * real_frames) & (ev >= r * first_owned)]
            self.events.append(self.start + (r * first_frame + ev.astype(np.float64) + 0.5) / (r * self.fps))
        # Key frames this window owns: its real frames past the overlap (window 0 owns all of its own).
        own = (key_index < real_frames) & (key_index >= first_owned)
        idx = key_index[own]
        t_abs = self.start + (first_frame + idx.astype(np.float64)) / self.fps
        sal = key_saliency[idx].astype(np.float64)
        self.keys_t.append(t_abs)
        self.keys_s.append(sal)
        for i, t, s in zip(idx.tolist(), t_abs.tolist(), sal.tolist(), strict=True):
            b = min(STRIP_FRAMES - 1, int((t - self.start) / dur * STRIP_FRAMES))
            if b not in self.strip or s > self.strip[b][0]:
                self.strip[b] = (s, t, np.array(frames[i], copy=True))
        for k, v in timings.items():
            self.timings[k] += v
        self.timings["stitch"] += time.perf_counter() - t0

    def result(self, name: str, windows: int, seed: int, settings: dict) -> FoleyResult:
        out = self.out
        peak = max(float(out.wav.max()), -float(out.wav.min())) if out.wav.size else 0.0  # no wav-sized temporary
        if peak > 1.0:  # scale the whole sound below full scale rather than let the writers clip it
            # routine for the built-in model (peaks of 1.2-1.3), so not a warning; `openfoley -v` shows it
            log.info("%s: generated peak %.2f exceeds full scale; scaled to 0.99", name, peak)
            out.wav *= np.float32(0.99 / peak)
        mel_fps = self.mel_fps
        onsets = self.start + detect_onsets(out.mel, mel_fps)
        return FoleyResult(
            wav=out.wav, sample_rate=self.sr, start=self.start, duration=self.seconds, mel=out.mel, mel_fps=mel_fps,
            key_times=np.concatenate(self.keys_t), key_saliency=np.concatenate(self.keys_s), onsets=onsets,
            strip=[(t, f) for _, (_, t, f) in sorted(self.strip.items())], windows=windows, seed=int(seed),
            settings=settings, timings=self.timings,
            video_events=np.concatenate(self.events) if self.events else np.zeros(0))
