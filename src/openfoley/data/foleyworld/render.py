"""Render FoleyWorld clips: one scene -> frames, a sample-exact audio mix, and its ground truth.

``render_clip`` is the pure part (bank + split pool + seed/split/index -> ``RenderedClip``);
``render_split`` writes a split to disk: ``OUT/<split>/<id>.mp4`` (H.264 + AAC via
``openfoley.io.write_video``), ``OUT/<split>/<id>.json`` (ground truth), ``OUT/<split>/manifest.jsonl``
(``ClipRecord`` lines for ``openfoley data extract``) and ``OUT/<split>/render.json`` (settings). It
runs in worker processes, skips clips already finished (a clip is finished when its JSON exists; the
JSON is written after the mp4, both atomically), and shows a progress bar.

Randomness: clip ``index`` of ``split`` under ``seed`` uses ``np.random.default_rng([seed, code(split),
index])`` and nothing else, so any clip can be re-rendered alone, in any order, by any worker.
Renders of a split draw bank clips only from that split (``Splits``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing as mp
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from openfoley.data.foleyworld.bank import Bank, load_bank
from openfoley.data.foleyworld.scenes import RenderConfig, Scene, build_scene, draw_frames, kind_of, mix
from openfoley.data.foleyworld.splits import SPLITS, Splits, bank_signature, make_splits
from openfoley.data.manifest import ClipRecord, write_manifest
from openfoley.errors import ConfigError, DataError, OutputError
from openfoley.io.atomic import atomic_output

log = logging.getLogger(__name__)
SPLIT_CODE = {"train": 0, "test-closed": 1, "test-open": 2}


@dataclass
class RenderedClip:
    """frames: uint8 (t, 3, h, w); audio: float32 (s,); truth: the ground-truth JSON object."""

    frames: np.ndarray
    audio: np.ndarray
    truth: dict[str, Any]
    scene: Scene


def clip_id(split: str, index: int) -> str:
    return f"fw-{split}-{index:06d}"


def clip_rng(seed: int, split: str, index: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), SPLIT_CODE[split], int(index)])


def split_pool(bank: Bank, splits: Splits, split: str) -> dict[str, list[str]]:
    """{class: bank clip ids} of ``split`` only."""
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    ids = [c for c in splits.clips.get(split, []) if c in bank.clips]
    if not ids:
        raise DataError(f"{bank.root}: split {split!r} has no bank clips")
    return bank.clips_by_class(ids)


def _truth(scene: Scene, bank: Bank, cid: str, split: str, seed: int, index: int) -> dict[str, Any]:
    cfg = scene.cfg
    events, used = [], []
    for i, src in enumerate(scene.sources):
        for ev in src.events:
            ox, oy = scene.origin[ev.frame]
            b = bank.clips[ev.clip]
            events.append({
                "time": ev.frame / cfg.fps, "frame": ev.frame, "sample": cfg.frame_sample(ev.frame),
                "duration": min(ev.samples, cfg.samples - cfg.frame_sample(ev.frame)) / cfg.sample_rate,
                "source": src.sid, "object": src.obj, "kind": src.kind, "class": src.cls, "group": src.group,
                "position": [round(ev.position[0] - ox, 1), round(ev.position[1] - oy, 1)],
                "bank_clip": ev.clip, "package": b.package, "licence": b.licence,
                "gain_db": round(scene.gains_db[i], 2)})
            used.append(ev.clip)
    events.sort(key=lambda e: (e["sample"], e["source"]))
    main = scene.sources[0]
    return {
        "id": cid, "split": split, "seed": seed, "index": index, "seconds": cfg.seconds, "fps": cfg.fps,
        "size": cfg.size, "sample_rate": cfg.sample_rate, "class": main.cls, "group": main.group,
        "sources": [{"id": s.sid, "kind": s.kind, "object": s.obj, "class": s.cls, "group": s.group,
                     "picture": s.look is not None, "sounding": True,
                     "region": [round(s.region.x0 - cfg.margin, 1), round(s.region.x1 - cfg.margin, 1)]}
                    for s in scene.sources],
        "distractors": [{**d.describe(), "front": front} for d, front in scene.distractors],
        "events": events, "bank_clips": sorted(set(used)),
        "licences": sorted({bank.clips[c].licence for c in used}),
        "packages": sorted({bank.clips[c].package for c in used}),
    }


def render_clip(bank: Bank, pool: dict[str, list[str]], cfg: RenderConfig, seed: int, split: str,
                index: int, n_sources: int | None = None, frame_step: int = 1) -> RenderedClip:
    """Render clip ``index`` of ``split``: frames (t, 3, h, w) uint8, audio (s,) float32, ground truth.

    ``frame_step`` > 1 draws only every ``frame_step``-th frame (t = ceil(cfg.frames / frame_step)), the
    same pixels as those frames of the full render; audio and truth are unchanged."""
    if bank.sample_rate != cfg.sample_rate:
        raise ConfigError(f"render sample_rate {cfg.sample_rate} differs from the bank's {bank.sample_rate} Hz")
    scene = build_scene(clip_rng(seed, split, index), cfg, bank, pool, n_sources=n_sources)
    frames = draw_frames(scene, step=frame_step)
    audio = mix(scene)
    t = len(range(0, cfg.frames, frame_step))
    assert frames.shape == (t, 3, cfg.size, cfg.size), f"frames {frames.shape}"
    assert audio.shape == (cfg.samples,), f"audio {audio.shape} vs {cfg.samples} samples"
    return RenderedClip(frames, audio, _truth(scene, bank, clip_id(split, index), split, seed, index), scene)


def record_for(truth: dict[str, Any]) -> ClipRecord:
    """The manifest line of a rendered clip (paths relative to the split folder)."""
    return ClipRecord(id=truth["id"], path=f"{truth['id']}.mp4", duration=truth["seconds"],
                      label=truth["class"], group=truth["group"], split=truth["split"], source="foleyworld",
                      licence="; ".join(truth["licences"]),
                      extra={"events": truth["events"], "bank_clips": truth["bank_clips"],
                             "classes": sorted({s["class"] for s in truth["sources"]})})


# --- writing a split -------------------------------------------------------------------------------
RENDER_PRESET = "ultrafast"  # libx264 preset of `openfoley data render` (and of LiveStore(h264=True)'s round trip)

_WORKER: dict[str, Any] = {}


def _init_worker(bank_dir: str, pool: dict[str, list[str]], cfg: RenderConfig, seed: int, split: str,
                 out: str, preset: str) -> None:
    _WORKER.update(bank=load_bank(bank_dir), pool=pool, cfg=cfg, seed=seed, split=split, out=Path(out),
                   preset=preset)


def _render_one(index: int) -> tuple[int, float]:
    from openfoley.io import write_video  # keeps ``import openfoley.data`` free of the encoder

    w = _WORKER
    t0 = time.perf_counter()
    clip = render_clip(w["bank"], w["pool"], w["cfg"], w["seed"], w["split"], index)
    cid = clip.truth["id"]
    write_video(w["out"] / f"{cid}.mp4", clip.frames, w["cfg"].fps, audio=clip.audio,
                sample_rate=w["cfg"].sample_rate, force=True, preset=w["preset"])
    with atomic_output(w["out"] / f"{cid}.json", force=True) as tmp:
        tmp.write_text(json.dumps(clip.truth, indent=1))
    return index, time.perf_counter() - t0


@dataclass
class RenderSummary:
    split: str
    out: Path
    clips: int
    rendered: int
    skipped: int
    seconds: float  # wall time of this call

    @property
    def clips_per_second(self) -> float:
        return self.rendered / self.seconds if self.seconds > 0 else 0.0


def resolve_splits(bank: Bank, splits: str | Path | Splits | None) -> Splits:
    """Given splits, ``BANK/splits.json`` if present, else the rule with seed 0 (never the render seed:
    every split's render must agree on one assignment)."""
    if isinstance(splits, Splits):
        s = splits
    elif splits is not None:
        s = Splits.load(splits)
    elif (bank.root / "splits.json").is_file():
        s = Splits.load(bank.root / "splits.json")
    else:
        s = make_splits(bank, seed=0)
    if s.bank_signature and s.bank_signature != bank_signature(bank):
        raise DataError(f"{bank.root}: the splits file was made for another bank (signature "
                        f"{s.bank_signature} vs {bank_signature(bank)}); rerun `openfoley data splits`")
    return s


def render_split(bank_dir: str | Path, out_dir: str | Path, split: str, clips: int, seed: int = 0,
                 cfg: RenderConfig = RenderConfig(), workers: int = 1, splits: str | Path | Splits | None = None,
                 preset: str = RENDER_PRESET, progress: bool = True) -> RenderSummary:
    """Render ``clips`` clips of ``split`` into ``out_dir/split`` (resumable; see the module docstring)."""
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    if clips <= 0:
        raise ConfigError(f"--clips must be > 0, got {clips}")
    if workers <= 0:
        raise ConfigError(f"--workers must be > 0, got {workers}")
    bank = load_bank(bank_dir)
    if bank.sample_rate != cfg.sample_rate:
        raise ConfigError(f"{bank.root}: bank sample rate {bank.sample_rate} Hz; render sample_rate is "
                          f"{cfg.sample_rate} (set it to the bank's)")
    sp = resolve_splits(bank, splits)
    pool = split_pool(bank, sp, split)
    out = Path(out_dir) / split
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"{out}: cannot create output folder ({e.strerror or e})") from None
    split_hash = hashlib.sha256("\n".join(sp.clips[split]).encode()).hexdigest()[:16]
    config = json.loads(json.dumps(asdict(cfg)))
    if config["walker_share"] == 0:  # renders made before the field existed stay valid (0: no draw, same scenes)
        del config["walker_share"]
    settings = {"seed": seed, "split": split, "config": config,
                "bank_signature": bank_signature(bank), "split_clips": split_hash, "preset": preset}
    meta = out / "render.json"
    previous = 0
    if meta.is_file():
        old = json.loads(meta.read_text())
        diff = sorted(k for k in settings if old.get(k) != settings[k])
        if diff:
            raise OutputError(f"{out}: holds a render with other settings ({', '.join(diff)}); "
                              "use another --out or delete it")
        previous = int(old.get("clips", 0))
    with atomic_output(meta, force=True) as tmp:
        tmp.write_text(json.dumps({**settings, "clips": max(clips, previous)}, indent=1))
    todo = [i for i in range(clips) if not (out / f"{clip_id(split, i)}.json").is_file()]
    t0 = time.perf_counter()
    args = (str(bank.root), pool, cfg, seed, split, str(out), preset)
    bar = _progress(len(todo), f"render {split}", progress)
    if workers == 1 or len(todo) <= 1:
        _init_worker(*args)
        for i in todo:
            _render_one(i)
            bar.update(1)
    else:
        # fork: workers inherit the imported modules (spawn re-imports torch per worker: seconds each)
        ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        with ctx.Pool(workers, initializer=_init_worker, initargs=args) as p:
            for _ in p.imap_unordered(_render_one, todo, chunksize=1):
                bar.update(1)
    bar.close()
    elapsed = time.perf_counter() - t0
    write_split_manifest(out, clips)
    return RenderSummary(split, out, clips, len(todo), clips - len(todo), elapsed)


def write_split_manifest(out: Path, clips: int | None = None) -> int:
    """(Re)write ``out/manifest.jsonl`` from the finished clips' ground-truth files, in index order."""
    truths = sorted(out.glob("fw-*.json"))
    records = []
    for p in truths:
        t = json.loads(p.read_text())
        if clips is None or t["index"] < clips:
            records.append(record_for(t))
    return write_manifest(out / "manifest.jsonl", records)


def _progress(total: int, desc: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="clip", disable=not enabled, smoothing=0.1)


__all__ = ["RenderConfig", "RenderedClip", "RenderSummary", "render_clip", "render_split", "clip_rng",
           "split_pool", "record_for", "resolve_splits", "write_split_manifest", "kind_of"]
