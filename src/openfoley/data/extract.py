"""Decode every clip of a manifest once into a feature store (``openfoley data extract``).

For each ``ClipRecord``: the section ``[start, start + duration)`` of its file (``duration`` None: to
the end) is cut or padded to exactly ``Config.seconds``; frames are read at ``video.fps`` and
``video.size`` (uint8 (t, 3, H, W)), audio at ``audio.sample_rate`` and turned into a native-hop
log-mel (f, m). Past the end of the section or file, video holds its last frame and audio is silent;
``valid_seconds`` in the store says how much of the clip is real.

Parallelism: torchrun ranks (``RANK``/``WORLD_SIZE``, read when ``extract`` runs) take the disjoint
subsets ``records[rank::world_size]``; inside a rank, ``workers`` processes take disjoint slices of what
is left to do, each writing its own shards (``openfoley.features.store``). Clips already in a
complete shard are skipped, so an interrupted run resumes where it stopped. Unreadable clips
(``MediaError``) are skipped, counted and listed in ``failed-r{rank}.jsonl``. Every rank commits
``store.json`` when it finishes (under a file lock); the last to finish commits the full store.
"""

from __future__ import annotations

import contextlib
import json
import logging
import multiprocessing as mp
import os
import queue
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from openfoley.config import Config
from openfoley.data.loaders import load_clips
from openfoley.errors import DataError, MediaError, OpenFoleyError
from openfoley.features.mel import log_mel
from openfoley.features.store import (
    PARTS,
    STORE_JSON,
    ShardWriter,
    complete_parts,
    config_mismatches,
    part_name,
    read_part_index,
    read_store_json,
    store_shapes,
    write_store_json,
)
from openfoley.io import iter_jsonl, probe, read_audio, read_video

log = logging.getLogger(__name__)

SHARD_BYTES = 512 * 2**20  # target shard size; a crash loses at most one shard per worker


@dataclass(frozen=True)
class ClipFeatures:
    """One clip's stored features: frames uint8 (t, 3, H, W), mel float32 (f, m)."""

    frames: np.ndarray
    mel: np.ndarray
    valid_seconds: float


@dataclass
class ExtractResult:
    """What one rank's ``extract`` did. ``failed`` holds (id, path, message) per unreadable clip."""

    out: Path
    rank: int
    world_size: int
    assigned: int  # clips of the manifest this rank is responsible for
    added: int = 0
    skipped: int = 0  # already in the store
    failed: list[tuple[str, str, str]] = field(default_factory=list)
    seconds: float = 0.0
    store_clips: int = 0  # clips in store.json after this rank committed

    @property
    def clips_per_second(self) -> float:
        return (self.added + len(self.failed)) / self.seconds if self.seconds > 0 else 0.0


def extract_clip(
    path: str | Path, cfg: Config, start: float = 0.0, duration: float | None = None
) -> ClipFeatures:
    """Frames and log-mel of ``[start, start + duration)`` of ``path``, cut or padded to cfg.seconds."""
    if start < 0 or (duration is not None and not duration > 0):
        raise DataError(f"{path}: invalid clip section start={start}, duration={duration}")
    info = probe(path, count_frames=False)
    if info.video is None:
        _media_error(path, "has no video stream")
    if info.audio is None:
        _media_error(path, "has no audio stream")
    span = cfg.seconds if duration is None else min(duration, cfg.seconds)
    valid = max(0.0, min(span, info.duration - start))
    if valid <= 0:
        _media_error(path, f"start {start:.3f} s is at or past the end ({info.duration:.3f} s)")
    v = cfg.video
    clip = read_video(path, v.fps, v.size, start=start, duration=span, resize=v.resize)
    frames = clip.frames.numpy()  # (t', 3, H, W)
    t = cfg.video_frames
    if frames.shape[0] < t:  # a section shorter than the window: hold the last frame
        frames = np.concatenate([frames, np.repeat(frames[-1:], t - frames.shape[0], axis=0)])
    wav = read_audio(path, cfg.audio.sample_rate, start=start, duration=span)  # (s',), zeros past the end
    wav = torch.nn.functional.pad(wav, (0, max(0, cfg.samples - wav.shape[0])))[: cfg.samples]
    mel = log_mel(wav, cfg.audio).numpy()  # (f, m)
    shapes = store_shapes(cfg)
    assert list(frames.shape) == shapes["frames"] and list(mel.shape) == shapes["mel"], (
        f"{path}: frames {frames.shape}, mel {mel.shape}; expected {shapes}")
    return ClipFeatures(frames=np.ascontiguousarray(frames[:t]), mel=mel, valid_seconds=valid)


def _media_error(path: str | Path, problem: str) -> None:
    """Raise the one-line MediaError that marks a clip unreadable."""
    raise MediaError(f"{path}: {problem}")


def _shard_capacity(cfg: Config, shard_clips: int | None) -> int:
    if shard_clips is not None:
        if shard_clips < 1:
            raise DataError(f"shard size must be >= 1 clip, got {shard_clips}")
        return shard_clips
    s = store_shapes(cfg)
    per_clip = int(np.prod(s["frames"])) + 2 * int(np.prod(s["mel"]))
    return max(1, SHARD_BYTES // per_clip)


def _next_k(out: Path, rank: int, worker: int) -> int:
    prefix = f"part-r{rank}-w{worker}-"
    ks = [int(n[len(prefix):]) for n in complete_parts(out) if n.startswith(prefix)]
    return max(ks, default=-1) + 1


def _clean_temps(out: Path, rank: int, worker: int) -> None:
    d = out / PARTS
    if d.is_dir():
        for p in d.glob(f".tmp-part-r{rank}-w{worker}-*"):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()


def _work(out: str, cfg_json: str, rank: int, worker: int, capacity: int,
          records: list[dict[str, Any]], report: Callable[[tuple], None]) -> None:
    """One worker: extract ``records`` into its own shards, reporting ("ok"|"fail", ...) per clip."""
    cfg = Config.from_json(cfg_json)
    store = Path(out)
    _clean_temps(store, rank, worker)
    k = _next_k(store, rank, worker)
    writer: ShardWriter | None = None
    try:
        for d in records:
            try:
                feats = extract_clip(d["path"], cfg, d["start"], d["duration"])
            except OpenFoleyError as e:
                report(("fail", d["id"], d["path"], str(e)))
                continue
            if writer is None:
                writer = ShardWriter(store, part_name(rank, worker, k), capacity, store_shapes(cfg))
                k += 1
            writer.add(feats.frames, feats.mel, d, feats.valid_seconds)
            report(("ok", d["id"]))
            if writer.full:
                writer.close()
                writer = None
    finally:  # publish what is complete, also on errors and interrupts, so a rerun resumes
        if writer is not None:
            writer.close()


def _process_main(out, cfg_json, rank, worker, capacity, records, q) -> None:
    torch.set_num_threads(1)  # one process per core; torch's own threads would oversubscribe
    try:
        _work(out, cfg_json, rank, worker, capacity, records, q.put)
        q.put(("done", worker))
    except BaseException as e:  # noqa: BLE001 - reported to the parent, which re-raises
        q.put(("error", worker, f"{type(e).__name__}: {e}"))
        raise


def _dist_env() -> tuple[int, int]:
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    if not 0 <= rank < world:
        raise DataError(f"RANK={rank} is outside WORLD_SIZE={world}")
    return rank, world


def _prepare_store(out: Path, cfg: Config) -> set[str]:
    """Check an existing store matches ``cfg`` (or start one); return the ids already extracted."""
    if (out / STORE_JSON).exists():
        bad = config_mismatches(read_store_json(out)["config"], cfg)
        if bad:
            raise DataError(f"{out}: existing feature store was built with other settings "
                            f"({'; '.join(bad)}); use a new --out or the same config")
    else:
        write_store_json(out, cfg)  # records the config from the start, so resumes are checked
    return {x["record"]["id"] for n in complete_parts(out) for x in read_part_index(out, n)}


def extract(
    manifest: str | Path,
    out: str | Path,
    cfg: Config,
    workers: int = 1,
    media: str | Path | None = None,
    shard_clips: int | None = None,
    progress: bool = True,
) -> ExtractResult:
    """Extract this rank's share of ``manifest`` into the store ``out``; see the module docstring.

    ``manifest``: a JSON-lines manifest, a VGGSound CSV (media under ``media``) or a folder of videos.
    ``workers``: processes in this rank (1: in this process). ``shard_clips``: clips per shard (default:
    about 512 MiB of features).
    """
    if workers < 1:
        raise DataError(f"--workers must be >= 1, got {workers}")
    t0 = time.perf_counter()
    rank, world = _dist_env()
    out = Path(out)
    records = load_clips(manifest, media)
    n_records, wanted = len(records), {r.id for r in records}
    mine = records[rank::world]
    del records  # keep one copy of the manifest in memory, as plain dicts of what is left to do
    done = _prepare_store(out, cfg)
    todo = [asdict(r) for r in mine if r.id not in done]
    res = ExtractResult(out=out, rank=rank, world_size=world, assigned=len(mine),
                        skipped=len(mine) - len(todo))
    del mine
    capacity = _shard_capacity(cfg, shard_clips)
    bar = tqdm(total=len(todo), unit="clip", desc=f"extract r{rank}", disable=not progress or not todo)

    def on_msg(msg: tuple) -> None:
        if msg[0] == "ok":
            res.added += 1
        elif msg[0] == "fail":
            res.failed.append((msg[1], msg[2], msg[3]))
        bar.update(1)

    with bar:
        if workers == 1 or len(todo) <= 1:
            threads = torch.get_num_threads()
            torch.set_num_threads(1)  # per-clip STFTs are small: 1 thread measured 3-8x faster under load
            try:
                _work(str(out), cfg.to_json(), rank, 0, capacity, todo, on_msg)
            finally:
                torch.set_num_threads(threads)
        else:
            _run_workers(out, cfg, rank, min(workers, len(todo)), capacity, todo, on_msg)
    _write_failures(out, rank, res.failed)
    failed_ids = _all_failures(out)

    def summary(present: set[str]) -> dict[str, Any]:
        missing = wanted - present
        return {"manifest": str(manifest), "manifest_clips": n_records,
                "failed": len(missing & failed_ids), "complete": not (missing - failed_ids)}

    meta = write_store_json(out, cfg, extra=summary)
    res.store_clips = meta["clips"]
    res.seconds = time.perf_counter() - t0
    if res.failed:
        log.warning("%s: %d clip(s) unreadable, skipped (listed in %s); first: %s", out, len(res.failed),
                    out / f"failed-r{rank}.jsonl", "; ".join(m for _, _, m in res.failed[:3]))
    return res


def _run_workers(out: Path, cfg: Config, rank: int, workers: int, capacity: int,
                 dicts: list[dict[str, Any]], on_msg: Callable[[tuple], None]) -> None:
    """Spawn ``workers`` processes over disjoint slices; relay their messages; re-raise a failure."""
    # fork where the platform has it: spawn re-imports torch/av in every worker (measured 5 s CPU each
    # here); workers set one torch thread first, as torch's DataLoader workers do after fork.
    ctx: Any = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    q = ctx.Queue()
    cfg_json = cfg.to_json()
    procs = [ctx.Process(target=_process_main, daemon=True,
                         args=(str(out), cfg_json, rank, w, capacity, dicts[w::workers], q))
             for w in range(workers)]
    for p in procs:
        p.start()
    finished: set[int] = set()
    errors: list[str] = []
    try:
        while len(finished) < workers:
            try:
                msg = q.get(timeout=1.0)
            except queue.Empty:
                dead = [w for w, p in enumerate(procs) if w not in finished and not p.is_alive()]
                for w in dead:  # died without a word (killed, out of memory)
                    finished.add(w)
                    errors.append(f"worker {w} exited with code {procs[w].exitcode}")
                continue
            if msg[0] in ("ok", "fail"):
                on_msg(msg)
            elif msg[0] == "done":
                finished.add(msg[1])
            elif msg[0] == "error":
                finished.add(msg[1])
                errors.append(f"worker {msg[1]}: {msg[2]}")
    finally:
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.terminate()
    if errors:
        raise RuntimeError(f"extract into {out} failed in {len(errors)} worker(s): {'; '.join(errors)}; "
                           f"completed shards are kept, rerun to resume")


def _write_failures(out: Path, rank: int, failed: list[tuple[str, str, str]]) -> None:
    p = out / f"failed-r{rank}.jsonl"
    tmp = out / f".failed-r{rank}.jsonl.tmp-{os.getpid()}"
    tmp.write_text("".join(json.dumps({"id": i, "path": pa, "error": m}) + "\n" for i, pa, m in failed))
    os.replace(tmp, p)


def _all_failures(out: Path) -> set[str]:
    ids: set[str] = set()
    for p in sorted(out.glob("failed-r*.jsonl")):
        ids |= {row["id"] for _, row in iter_jsonl(p, skip_bad=True)}
    return ids
