"""Reading a sound bank (built by ``openfoley data sound-bank``): clip rows, class table, audio, pictures.

Layout read (exactly):
    BANK/manifest.jsonl  one JSON object per clip: id, class (fine), group (coarse), duration (s), package,
                         path, licence, fingerprint (hex), audio ("audio/<id>.wav", 16-bit PCM mono),
                         image (relative PNG path or null)
    BANK/classes.json    {class: {"group", "clips", "images": [relative PNG paths]}}
    BANK/bank.json       settings and counts (``sample_rate`` is used when present)

Audio comes back as float32 (s,) in [-1, 1]; pictures as (h, w, 4) uint8 RGBA, shrunk so the longer side
is at most ``max_side`` pixels. Both are cached per process (workers load each file once).
"""

from __future__ import annotations

import json
import wave
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from openfoley.errors import DataError
from openfoley.io.image import read_png
from openfoley.io.jsonl import iter_jsonl

_REQUIRED = ("id", "class", "group", "duration", "package", "licence", "fingerprint", "audio")


@dataclass(frozen=True)
class BankClip:
    """One row of the bank's manifest."""

    id: str
    cls: str
    group: str
    duration: float
    package: str
    path: str
    licence: str
    fingerprint: str
    audio: str
    image: str | None


class Bank:
    """A sound bank on disk. ``clips`` is ordered by id so every derived order is deterministic."""

    def __init__(self, root: str | Path, audio_cache: int = 512):
        self.root = Path(root)
        if not self.root.is_dir():
            raise DataError(f"{self.root}: sound bank folder not found (build it with `openfoley data sound-bank`)")
        man = self.root / "manifest.jsonl"
        if not man.is_file():
            raise DataError(f"{man}: sound bank manifest not found")
        rows: list[BankClip] = []
        for i, d in iter_jsonl(man):
            missing = [k for k in _REQUIRED if k not in d]
            if missing:
                raise DataError(f"{man}:{i}: missing field(s) {missing}")
            rows.append(BankClip(id=str(d["id"]), cls=str(d["class"]), group=str(d["group"]),
                                 duration=float(d["duration"]), package=str(d["package"]),
                                 path=str(d.get("path", "")), licence=str(d["licence"]),
                                 fingerprint=str(d["fingerprint"]), audio=str(d["audio"]),
                                 image=d.get("image") or None))
        if not rows:
            raise DataError(f"{man}: sound bank manifest has no clips")
        rows.sort(key=lambda c: c.id)
        self.clips: dict[str, BankClip] = {c.id: c for c in rows}
        if len(self.clips) != len(rows):
            raise DataError(f"{man}: duplicate clip ids")
        self.classes: dict[str, dict[str, Any]] = self._read_json("classes.json", required=False) or {}
        for c in rows:  # classes.json may be absent or partial: fill from the rows
            entry = self.classes.setdefault(c.cls, {"group": c.group, "clips": 0, "images": []})
            entry.setdefault("images", [])
            if c.image and c.image not in entry["images"]:
                entry["images"].append(c.image)
        self.info: dict[str, Any] = self._read_json("bank.json", required=False) or {}
        self._sample_rate: int | None = self.info.get("sample_rate")
        self._audio: OrderedDict[str, np.ndarray] = OrderedDict()
        self._audio_cache = audio_cache
        self._images: dict[tuple[str, int], np.ndarray] = {}

    def _read_json(self, name: str, required: bool) -> Any:
        p = self.root / name
        if not p.is_file():
            if required:
                raise DataError(f"{p}: not found")
            return None
        try:
            return json.loads(p.read_text())
        except json.JSONDecodeError as e:
            raise DataError(f"{p}: not valid JSON ({e.msg})") from None

    # --- derived tables ----------------------------------------------------------------------------
    def class_group(self, cls: str) -> str:
        return str(self.classes[cls]["group"])

    def clips_by_class(self, ids: list[str] | None = None) -> dict[str, list[str]]:
        """{class: [clip ids, sorted]} over ``ids`` (default: all clips)."""
        out: dict[str, list[str]] = {}
        for cid in sorted(ids if ids is not None else self.clips):
            out.setdefault(self.clips[cid].cls, []).append(cid)
        return out

    def class_images(self, cls: str) -> list[str]:
        return [p for p in self.classes.get(cls, {}).get("images", []) if (self.root / p).is_file()]

    @property
    def sample_rate(self) -> int:
        if self._sample_rate is None:
            first = next(iter(self.clips.values()))
            with wave.open(str(self.root / first.audio)) as w:
                self._sample_rate = w.getframerate()
        return int(self._sample_rate)

    # --- media ---------------------------------------------------------------------------------------
    def audio(self, clip_id: str) -> np.ndarray:
        """The clip's waveform, float32 (s,) in [-1, 1] at ``sample_rate``."""
        if clip_id in self._audio:
            self._audio.move_to_end(clip_id)
            return self._audio[clip_id]
        p = self.root / self.clips[clip_id].audio
        try:
            with wave.open(str(p)) as w:
                ch, width, rate, n = w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()
                raw = w.readframes(n)
        except FileNotFoundError:
            raise DataError(f"{p}: bank audio file not found") from None
        except (wave.Error, EOFError) as e:
            raise DataError(f"{p}: not a PCM wav file ({e})") from None
        if width != 2:
            raise DataError(f"{p}: expected 16-bit PCM, got {8 * width}-bit")
        if rate != self.sample_rate:
            raise DataError(f"{p}: sample rate {rate} Hz differs from the bank's {self.sample_rate} Hz")
        x = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
        if ch > 1:
            x = x.reshape(-1, ch).mean(axis=1)
        self._audio[clip_id] = x
        if len(self._audio) > self._audio_cache:
            self._audio.popitem(last=False)
        return x

    def image(self, rel: str, max_side: int = 128) -> np.ndarray:
        """A bank picture as (h, w, 4) uint8 RGBA, nearest-neighbour shrunk to ``max_side``."""
        key = (rel, max_side)
        if key not in self._images:
            im = read_png(self.root / rel)
            h, w = im.shape[:2]
            scale = max_side / max(h, w)
            if scale < 1:
                ys = (np.arange(max(1, round(h * scale))) / scale).astype(int)
                xs = (np.arange(max(1, round(w * scale))) / scale).astype(int)
                im = im[ys][:, xs]
            self._images[key] = np.ascontiguousarray(im)
        return self._images[key]


def load_bank(root: str | Path) -> Bank:
    """Open the sound bank at ``root``; ``DataError`` (one line) if it is missing or malformed."""
    return Bank(root)
