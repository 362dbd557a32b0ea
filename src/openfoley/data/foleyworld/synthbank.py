"""A small synthetic sound bank in the real bank's exact layout, for tests and demos (downloads nothing).

Sounds are made, not recorded: decaying noise bursts filtered per class (impacts, steps, drums, doors,
breaks, tools, guns), harmonic calls with vibrato (animals, speech), and amplitude-modulated noise
(water, fire, engines, wind). Every sound starts at its first sample, as the real bank's trimmed clips
do. Some classes get a picture (a drawn PNG). A few clips are near-copies of others (their fingerprint
differs in a few bits), so split tests meet near-duplicates, and a few pairs of events are cut from one
recording (same package and path, ids ending ``-event0``/``-event1``). Fingerprints are random 64-bit
hex strings (two 32-bit words, the real bank's word format).
"""

from __future__ import annotations

import json
import wave
from pathlib import Path
from typing import Any

import numpy as np

from openfoley.data.foleyworld import draw, looks
from openfoley.io.image import write_png

# (class, group): the taxonomy's shape with two to four classes per group
CLASSES: list[tuple[str, str]] = [
    ("arrow on metal", "impact"), ("arrow on wood", "impact"), ("stone on stone", "impact"),
    ("sling on dirt", "impact"), ("footstep on snow", "footsteps"), ("footstep on gravel", "footsteps"),
    ("footstep on grass", "footsteps"), ("snare drum", "drum"), ("kick drum", "drum"), ("hi-hat", "drum"),
    ("horse", "animal"), ("cow", "animal"), ("sheep", "animal"), ("wooden door", "door"),
    ("metal door", "door"), ("glass break", "break"), ("wood break", "break"), ("river", "water"),
    ("rain", "water"), ("fire", "fire"), ("car engine", "vehicle"), ("gunshot", "weapon"),
    ("explosion", "weapon"), ("hammer", "tool"), ("axe chopping", "tool"), ("speech", "speech"),
    ("bell", "household"), ("whistle", "household"),
]
PICTURES = {"horse", "cow", "sheep", "bell", "whistle"}


def _sound(cls: str, group: str, rng: np.random.Generator, sr: int) -> np.ndarray:
    h = looks.class_hash(cls)
    base = 150 + (h % 1500)
    if group in ("water", "fire", "vehicle"):
        n = int(sr * rng.uniform(0.8, 1.6))
        t = np.arange(n) / sr
        mod = 0.6 + 0.4 * np.sin(2 * np.pi * rng.uniform(0.5, 3) * t)
        x = rng.standard_normal(n) * mod
        x = np.convolve(x, np.ones(1 + h % 7) / (1 + h % 7), "same")
    elif group in ("animal", "speech", "household"):
        n = int(sr * rng.uniform(0.3, 0.8))
        t = np.arange(n) / sr
        f0 = base * rng.uniform(0.9, 1.1) * (1 + 0.03 * np.sin(2 * np.pi * 5 * t))
        ph = 2 * np.pi * np.cumsum(f0) / sr
        x = sum(np.sin(k * ph) / k for k in (1, 2, 3)) * np.minimum(1, (n - np.arange(n)) / (0.05 * sr))
    else:
        n = int(sr * rng.uniform(0.15, 0.5))
        t = np.arange(n) / sr
        x = rng.standard_normal(n) * 0.5 + np.sin(2 * np.pi * base * t)
        x *= np.exp(-t * rng.uniform(8, 25))
    x = x / np.abs(x).max() * rng.uniform(0.5, 0.9)
    x[0] = 0.9 * np.sign(x[0] or 1.0)  # a sharp first sample: the onset is sample 0
    return x.astype(np.float32)


def _write_wav(path: Path, x: np.ndarray, sr: int) -> None:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes((np.clip(x, -1, 1) * 32767).astype("<i2").tobytes())


def _picture(cls: str, size: int = 48) -> np.ndarray:
    sp = looks.animal_sprite(cls, size) if cls in ("horse", "cow", "sheep") else looks.object_sprite(cls, size)
    draw.ellipse(sp, size * 0.8, size * 0.2, size * 0.1, size * 0.1, (255, 255, 255, 1.0))
    out = np.concatenate([sp[..., :3], sp[..., 3:] * 255], axis=2)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def make_synth_bank(root: str | Path, seed: int = 0, clips_per_class: tuple[int, int] = (3, 6),
                    sample_rate: int = 16000, classes: list[tuple[str, str]] | None = None,
                    near_copies: int = 4, recordings: int = 3) -> Path:
    """Write a synthetic bank to ``root`` (manifest.jsonl, classes.json, bank.json, audio/, images/)."""
    rng = np.random.default_rng(seed)
    root = Path(root)
    (root / "audio").mkdir(parents=True, exist_ok=True)
    (root / "images").mkdir(exist_ok=True)
    rows: list[dict[str, Any]] = []
    table: dict[str, dict[str, Any]] = {}
    for cls, group in classes or CLASSES:
        slug = cls.replace(" ", "-")
        image = None
        if cls in PICTURES:
            image = f"images/{slug}.png"
            write_png(root / image, _picture(cls), force=True)
        table[cls] = {"group": group, "clips": 0, "images": [image] if image else []}
        for k in range(int(rng.integers(clips_per_class[0], clips_per_class[1] + 1))):
            cid = f"synth-{slug}-{k}"
            x = _sound(cls, group, rng, sample_rate)
            _write_wav(root / "audio" / f"{cid}.wav", x, sample_rate)
            rows.append({"id": cid, "class": cls, "group": group, "duration": len(x) / sample_rate,
                         "package": "synthetic", "path": f"synthetic/{slug}/{k}.wav", "licence": "CC0-1.0",
                         "fingerprint": f"{int(rng.integers(0, 2**63)) * 2 + int(rng.integers(2)):016x}",
                         "audio": f"audio/{cid}.wav", "image": image})
            table[cls]["clips"] += 1
    for j in range(near_copies):  # a re-encoded copy of an earlier clip: fingerprint 2 bits away
        src = rows[int(rng.integers(len(rows)))]
        fp = int(src["fingerprint"], 16) ^ (1 << int(rng.integers(64))) ^ (1 << int(rng.integers(64)))
        cid = f"{src['id']}-copy{j}"
        x = _sound(src["class"], src["group"], rng, sample_rate)
        _write_wav(root / "audio" / f"{cid}.wav", x, sample_rate)
        rows.append({**src, "id": cid, "fingerprint": f"{fp:016x}", "audio": f"audio/{cid}.wav",
                     "path": src["path"] + f".copy{j}", "duration": len(x) / sample_rate})
        table[src["class"]]["clips"] += 1
    for j in range(recordings):  # two events cut from one longer recording share package and path
        cls, group = (classes or CLASSES)[int(rng.integers(len(classes or CLASSES)))]
        slug = cls.replace(" ", "-")
        for e in range(2):
            cid = f"synth-{slug}-rec{j}-event{e}"
            x = _sound(cls, group, rng, sample_rate)
            _write_wav(root / "audio" / f"{cid}.wav", x, sample_rate)
            rows.append({"id": cid, "class": cls, "group": group, "duration": len(x) / sample_rate,
                         "package": "synthetic", "path": f"synthetic/{slug}/recording{j}.wav", "licence": "CC0-1.0",
                         "fingerprint": f"{int(rng.integers(0, 2**63)) * 2 + int(rng.integers(2)):016x}",
                         "audio": f"audio/{cid}.wav", "image": table[cls]["images"][0] if table[cls]["images"] else None})
            table[cls]["clips"] += 1
    with open(root / "manifest.jsonl", "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    (root / "classes.json").write_text(json.dumps(table, indent=1))
    (root / "bank.json").write_text(json.dumps({"sample_rate": sample_rate, "clips": len(rows),
                                                "classes": len(table), "synthetic": True}, indent=1))
    return root
