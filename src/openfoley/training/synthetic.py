"""A feature store of synthetic audio-visual clips, for ``train --smoke``, tests and overfit checks.

Each clip: a dark background with a bright square that drops onto a floor line; every time it lands
(the event times, drawn per clip) a decaying noise burst sounds, with a per-clip pitch and a per-clip
colour. So sound and sight share their timing and their identity, like a FoleyWorld clip, but it is
made in memory in milliseconds. The store is written with the same ``ShardWriter`` as
``openfoley data extract``, so training reads it exactly as it reads real data.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from openfoley.config import Config
from openfoley.features.mel import log_mel
from openfoley.features.store import ShardWriter, part_name, store_shapes, write_store_json


def synthetic_clip(cfg: Config, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """-> frames uint8 (t, 3, H, W), waveform float32 (s,), event times in seconds."""
    t, size, fps = cfg.video_frames, cfg.video.size, cfg.video.fps
    sr, s = cfg.audio.sample_rate, cfg.samples
    n_events = int(rng.integers(1, 4))
    times = np.sort(rng.uniform(0.15, cfg.seconds - 0.15, n_events))
    colour = rng.uniform(0.4, 1.0, 3)
    pitch = float(rng.uniform(300, 0.35 * sr))
    frames = np.zeros((t, 3, size, size), np.float32)
    frames += rng.uniform(0.0, 0.15, (1, 3, 1, 1))
    floor = int(size * 0.85)
    frames[:, :, floor:, :] = 0.3
    side = max(2, size // 6)
    x0 = int(rng.integers(0, size - side))
    fall = 0.4  # seconds of fall before each landing
    for i in range(t):
        now = (i + 0.5) / fps
        height = 1.0
        for ev in times:
            if ev - fall <= now < ev:
                height = min(height, (ev - now) / fall)  # 1 -> 0 as it reaches the floor
            elif ev <= now < ev + 0.1:
                height = 0.0
        y = int((floor - side) * (1 - height))
        frames[i, :, y:y + side, x0:x0 + side] = colour[:, None, None]
    wav = np.zeros(s, np.float32)
    n = np.arange(int(0.25 * sr))
    burst = np.sin(2 * math.pi * pitch * n / sr) * np.exp(-n / (0.04 * sr))
    burst += 0.3 * rng.standard_normal(len(n)) * np.exp(-n / (0.01 * sr))
    for ev in times:
        a = int(round(ev * sr))
        m = min(len(burst), s - a)
        wav[a:a + m] += 0.5 * burst[:m].astype(np.float32)
    wav += 0.003 * rng.standard_normal(s).astype(np.float32)
    return (frames.clip(0, 1) * 255).astype(np.uint8), wav, times.tolist()


def make_synthetic_store(path: str | Path, cfg: Config, clips: int, seed: int = 0) -> Path:
    """Write ``clips`` synthetic clips as a feature store at ``path`` (complete and readable)."""
    path = Path(path)
    rng = np.random.default_rng(seed)
    writer = ShardWriter(path, part_name(0, 0, 0), clips, store_shapes(cfg))
    try:
        for i in range(clips):
            frames, wav, times = synthetic_clip(cfg, rng)
            mel = log_mel(torch.from_numpy(wav), cfg.audio).numpy()
            writer.add(frames, mel, {"id": f"synth-{seed}-{i:05d}", "path": "", "label": "drop",
                                     "group": "impact", "extra": {"events": times}}, cfg.seconds)
        writer.close()
    except BaseException:
        writer.abort()
        raise
    write_store_json(path, cfg, {"synthetic": True})
    return path
