"""Media filters for curated clips: find the file, probe it, check duration, height and audio SNR.

``find_media`` runs in the main process (one ``stat`` per candidate extension). ``check_media`` runs
in worker processes (``MediaPool``): it probes the file with ``openfoley.io.probe``, then decodes the
audio with ``openfoley.io.read_audio`` only if the cheap checks pass, and returns a small dict (plain
data, so it crosses the process boundary cheaply). Stages, in order, and the reason each reports:

    unreadable  the file cannot be opened or decoded (``MediaError``)
    duration    container duration outside [min_duration, max_duration] seconds
    height      no video stream, or displayed height < min_height pixels
    no_audio    no audio stream
    snr         ``estimate_snr_db`` of the mono audio at ``snr_sample_rate`` <= min_snr_db
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from openfoley.config.tools import MediaRule  # defined with the other settings (config/tools.py)
from openfoley.data.curate.snr import estimate_snr_db
from openfoley.errors import MediaError

REASONS = ("unreadable", "duration", "height", "no_audio", "snr")


def find_media(media_dir: str | Path, clip_id: str, exts: Iterable[str]) -> Path | None:
    """``media_dir/<clip_id>.<ext>`` for the first extension that exists, else ``None``."""
    for ext in exts:
        p = Path(media_dir) / f"{clip_id}.{ext}"
        if p.is_file():
            return p
    return None


def check_media(path: str, rule: dict[str, Any]) -> dict[str, Any]:
    """Probe one file and apply ``MediaRule`` (given as a dict). Returns ``{"reason": None | str, ...}``
    with ``duration``, ``height`` and ``snr_db`` where measured, and ``error`` for unreadable files."""
    from openfoley.io import probe, read_audio  # imported in the worker; io is below data

    r = MediaRule(**rule)
    out: dict[str, Any] = {"reason": None}
    try:
        info = probe(path)
        out["duration"] = float(info.duration)
        if not r.min_duration <= info.duration <= r.max_duration:
            out["reason"] = "duration"
            return out
        height = info.video.display_size[1] if info.video is not None else 0
        out["height"] = int(height)
        if height < r.min_height:
            out["reason"] = "height"
            return out
        if info.audio is None:
            out["reason"] = "no_audio"
            return out
        wav = read_audio(path, r.snr_sample_rate)
        x = wav.numpy()  # (s,)
        snr = estimate_snr_db(x, r.snr_sample_rate, r.snr_frame_seconds, r.snr_fraction)
        out["snr_db"] = snr
        if not snr > r.min_snr_db:
            out["reason"] = "snr"
    except MediaError as e:
        out = {"reason": "unreadable", "error": str(e)}
    return out


class MediaPool:
    """Runs ``check_media`` over batches of paths in ``workers`` processes (0: in this process).

    Workers are forked from a clean ``forkserver`` process that has imported ``openfoley.io`` once
    (av, numpy, torch), so no parent state (threads, open files) is inherited and each worker starts
    without paying the import again. Results come back in input order, which keeps the output
    manifest's order deterministic.
    """

    def __init__(self, rule: MediaRule, workers: int):
        self.rule = asdict(rule)
        self.workers = max(0, int(workers))
        self._ex: cf.ProcessPoolExecutor | None = None

    def __enter__(self) -> MediaPool:
        if self.workers > 0:
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(["openfoley.io", "openfoley.data.curate.media"])
            self._ex = cf.ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx)
        return self

    def __exit__(self, *exc) -> None:
        if self._ex is not None:
            self._ex.shutdown(wait=True, cancel_futures=True)
            self._ex = None

    def check(self, paths: list[str]) -> list[dict[str, Any]]:
        if self._ex is None:
            return [check_media(p, self.rule) for p in paths]
        chunk = max(1, len(paths) // (4 * self.workers))
        return list(self._ex.map(check_media, paths, [self.rule] * len(paths), chunksize=chunk))


def default_workers() -> int:
    """Half the CPUs the process may use (probing decodes audio, which is CPU-bound), at least 1."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:
        n = os.cpu_count() or 1
    return max(1, n // 2)
