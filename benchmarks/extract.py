"""Extraction speed: clips/s of ``openfoley.data.extract`` on generated 8 s 224x224 25 fps clips.

Usage: python benchmarks/extract.py [--clips 16] [--preset small] [--workers 1,2] [--dir DIR]
       python benchmarks/extract.py --scale 200000   (store index at VGGSound scale, tiny arrays)

Clips are H.264 + AAC (48 kHz stereo) MP4s with a moving textured scene, so decoding costs what a
VGGSound-like clip costs. Prints the per-stage cost of one clip (probe, video decode + resize, audio
decode + resample, log-mel) and a table of clips/s per worker count (a fresh store each time).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from openfoley.config import apply_overrides, get_preset
from openfoley.data.extract import extract
from openfoley.data.manifest import ClipRecord, write_manifest
from openfoley.features.mel import log_mel
from openfoley.features.store import FeatureStore, ShardWriter, part_name, store_shapes, write_store_json
from openfoley.io import probe, read_audio, read_video, write_video


def make_clip(path: Path, rng: np.random.Generator, seconds=8.0, fps=25, size=224, sr=48000) -> None:
    t = int(seconds * fps)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    base = rng.uniform(0, 1, 3)
    frames = np.empty((t, 3, size, size), np.uint8)
    for i in range(t):  # a drifting colour gradient with a bouncing square
        ph = i / fps
        for c in range(3):
            wave = np.sin(xx / 17 + ph * (1 + c) + base[c]) * np.cos(yy / 23 - ph)
            frames[i, c] = (127 + 100 * wave).astype(np.uint8)
        x0 = int((size - 40) * (0.5 + 0.5 * np.sin(ph * 2.1)))
        y0 = int((size - 40) * abs(np.sin(ph * 3.3)))
        frames[i, :, y0 : y0 + 40, x0 : x0 + 40] = 255
    n = int(seconds * sr)
    audio = (0.1 * rng.standard_normal((2, n))).astype(np.float32)
    write_video(path, frames, fps, audio=audio, sample_rate=sr)


def stage_costs(path: Path, preset: str, reps: int = 3) -> dict[str, float]:
    cfg = get_preset(preset)
    torch.set_num_threads(1)  # as extract's workers run
    times = {"probe": 0.0, "read_video": 0.0, "read_audio": 0.0, "log_mel": 0.0}
    log_mel(read_audio(path, cfg.audio.sample_rate, 0.0, cfg.seconds), cfg.audio)  # warm up lazy imports
    for _ in range(reps):
        t0 = time.perf_counter()
        probe(path, count_frames=False)
        t1 = time.perf_counter()
        read_video(path, cfg.video.fps, cfg.video.size, 0.0, cfg.seconds, cfg.video.resize)
        t2 = time.perf_counter()
        wav = read_audio(path, cfg.audio.sample_rate, 0.0, cfg.seconds)
        t3 = time.perf_counter()
        log_mel(wav, cfg.audio)
        t4 = time.perf_counter()
        for k, dt in zip(times, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
            times[k] += dt / reps
    return times


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def store_scale(n: int, work: Path) -> None:
    """Write n clips of 1 frame 4x4 + 4 mel frames through ShardWriter, then open and sample the store."""
    cfg = apply_overrides(get_preset("tiny"), {"seconds": 0.08, "video.size": 4})
    shapes = store_shapes(cfg)
    out = work / "scale-store"
    shutil.rmtree(out, ignore_errors=True)
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, shapes["frames"], dtype=np.uint8)
    mel = rng.normal(size=shapes["mel"]).astype(np.float32)
    t0 = time.perf_counter()
    per_shard = 1000
    for k in range(0, n, per_shard):
        w = ShardWriter(out, part_name(0, 0, k // per_shard), per_shard, shapes)
        for i in range(k, min(n, k + per_shard)):
            w.add(frames, mel, {"id": f"yt{i:08d}_000030", "path": f"/data/vggsound/yt{i:08d}_000030.mp4",
                                "label": f"class {i % 309}", "group": f"group {i % 9}", "start": 0.0,
                                "duration": None, "split": "train", "source": "vggsound", "extra": {}}, 0.08)
        w.close()
    t1 = time.perf_counter()
    write_store_json(out, cfg)
    t2 = time.perf_counter()
    rss0 = _rss_mb()
    s = FeatureStore(out)
    t3 = time.perf_counter()
    rss1 = _rss_mb()
    idx = rng.integers(0, n, 20000)
    for i in idx:
        s[int(i)]
    t4 = time.perf_counter()
    print(f"store of {n} clips ({n // per_shard} shards): write {t1 - t0:.1f} s, commit store.json "
          f"{t2 - t1:.1f} s, open {t3 - t2:.1f} s using {rss1 - rss0:.0f} MB, random reads "
          f"{len(idx) / (t4 - t3):.0f} items/s, RSS after {_rss_mb():.0f} MB")
    shutil.rmtree(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=16)
    ap.add_argument("--preset", default="small")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--dir", default=None, help="work folder (default: a temp folder, removed)")
    ap.add_argument("--scale", type=int, default=0, help="only time a store index of this many clips")
    args = ap.parse_args()
    work = Path(args.dir or tempfile.mkdtemp(prefix="openfoley-bench-"))
    if args.scale:
        store_scale(args.scale, work)
        if args.dir is None:
            shutil.rmtree(work)
        return
    media = work / "media"
    media.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    recs = []
    for i in range(args.clips):
        p = media / f"clip{i:04d}.mp4"
        if not p.exists():
            make_clip(p, rng)
        recs.append(ClipRecord(id=p.stem, path=str(p)))
    write_manifest(work / "manifest.jsonl", recs)
    print(f"generated {args.clips} clips (8 s, 224x224, 25 fps, h264 + aac 48 kHz) in "
          f"{time.perf_counter() - t0:.1f} s; {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f}")
    costs = stage_costs(media / "clip0000.mp4", args.preset)
    print(f"\none clip, {args.preset} preset (s): " + ", ".join(f"{k} {v:.3f}" for k, v in costs.items())
          + f"; total {sum(costs.values()):.3f}")
    print("\n| preset | workers | clips | seconds | clips/s |\n|---|---|---|---|---|")
    for w in (int(x) for x in args.workers.split(",")):
        out = work / f"store-w{w}"
        shutil.rmtree(out, ignore_errors=True)
        r = extract(work / "manifest.jsonl", out, get_preset(args.preset), workers=w, progress=False)
        assert r.added == args.clips, r
        print(f"| {args.preset} | {w} | {r.added} | {r.seconds:.1f} | {r.added / r.seconds:.2f} |")
    if args.dir is None:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
