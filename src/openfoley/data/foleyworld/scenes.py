"""A FoleyWorld scene: sounding sources, silent distractors, backdrop, camera shake, noise, and the mix.

``build_scene`` draws everything random for one clip from one numpy ``Generator``: how many sources
(1 to ``max_sources``), their classes (uniform over the split's classes, then a clip uniform within the
class), their event kinds (``kind_of``: from the group and class name), screen columns, the distractors,
the camera path and the noise levels. It also builds each source's stem (its bank clips placed at
``round(frame * sample_rate / fps)``, times its gain) and hands the stem's per-frame loudness to the
source, so envelope-driven motion follows the very sound that is mixed.

``draw_frames`` then paints (t, h, w, 3) uint8 frames; ``mix`` sums the stems and the noise floor.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from openfoley.config.tools import RenderConfig  # defined with the other settings (config/tools.py)
from openfoley.data.foleyworld import looks
from openfoley.data.foleyworld.bank import Bank
from openfoley.data.foleyworld.continuous import CONTINUOUS_WORDS, ContinuousSource, Distractor
from openfoley.data.foleyworld.sources import (
    CallSource,
    DoorSource,
    FlashSource,
    ImpactSource,
    Region,
    ShatterSource,
    Source,
    StrikeSource,
    WalkerSource,
)

KINDS: dict[str, type[Source]] = {
    "impact": ImpactSource, "walk": WalkerSource, "strike": StrikeSource, "call": CallSource,
    "door": DoorSource, "shatter": ShatterSource, "flash": FlashSource, "continuous": ContinuousSource,
}
_FLASH = ("gun", "shot", "rifle", "pistol", "cannon", "explo", "tnt", "blast", "bomb", "grenade", "musket",
          "smg", "thunder", "lightning")


WALKER_SWAPPABLE = ("strike", "impact")  # kinds RenderConfig.walker_share may draw as walkers (short hits)


def kind_of(cls: str, group: str) -> str:
    """The visual event kind for a class (documented in docs/benchmark.md)."""
    g, c = group.lower(), cls.lower()
    text = f"{g} {c}"
    if g in ("footsteps", "footstep") or "footstep" in c or "step" in c.split():
        return "walk"
    if g in ("drum", "drums", "percussion"):
        return "strike"
    if g == "door" or "door" in c:
        return "door"
    if g == "break" or any(w in c for w in ("shatter", "break", "smash", "crash glass")):
        return "shatter"
    if g == "impact":
        return "impact"
    if (g in ("weapon", "explosion", "weather") and any(w in text for w in _FLASH) and "reload" not in c) \
            or g == "explosion":
        return "flash"
    if g in ("tool", "weapon"):
        return "strike"
    if g in ("water", "fire", "vehicle", "weather", "ambience", "wind", "engine", "machine") or \
            (g not in ("animal", "speech", "human", "instrument") and any(w in c for w in CONTINUOUS_WORDS)):
        return "continuous"
    return "call"


@dataclass
class Scene:
    """Everything needed to draw the frames and mix the audio of one clip (canvas = size + 2 margin)."""

    cfg: RenderConfig
    sources: list[Source]
    distractors: list[tuple[Distractor, bool]]  # (distractor, drawn in front of the sources)
    backdrop: np.ndarray  # (H, W, 3) float32 canvas with static parts baked in
    origin: np.ndarray  # (t, 2) int: crop origin (x, y) of each frame on the canvas (camera shake)
    flicker: np.ndarray  # (t,) float32 global brightness gain
    noise: np.ndarray  # (K, h, w, 3) float32 pixel-noise images
    noise_index: np.ndarray  # (t,) which noise image each frame adds
    stems: np.ndarray  # (sources, s) float32, gains applied
    floor: np.ndarray  # (s,) float32 audio noise floor
    gains_db: list[float] = field(default_factory=list)


def envelope(stem: np.ndarray, cfg: RenderConfig) -> np.ndarray:
    """Per-frame loudness (t,) in [0, 1] of a stem (s,): RMS over each frame's samples, peak 1, sqrt."""
    bounds = np.array([cfg.frame_sample(f) for f in range(cfg.frames)])
    sq = np.add.reduceat(stem.astype(np.float64) ** 2, bounds)
    rms = np.sqrt(sq / np.diff(np.append(bounds, len(stem))))
    peak = rms.max()
    return (np.sqrt(rms / peak) if peak > 0 else rms).astype(np.float32)


def _camera(rng: np.random.Generator, cfg: RenderConfig) -> np.ndarray:
    amp = rng.uniform(0, cfg.shake_px)
    t = cfg.frames
    walk = np.zeros((t, 2))
    kicks = (rng.random(t) < 0.03)[:, None] * rng.uniform(-2, 2, (t, 2)) * amp  # sudden bumps at random
    step = rng.normal(0, 0.5 * amp + 1e-9, (t, 2)) + kicks
    for i in range(1, t):
        walk[i] = 0.8 * walk[i - 1] + step[i]
    return (cfg.margin + np.clip(np.round(walk), -cfg.margin, cfg.margin)).astype(int)


def build_scene(rng: np.random.Generator, cfg: RenderConfig, bank: Bank, pool: dict[str, list[str]],
                n_sources: int | None = None) -> Scene:
    """Draw one clip's scene. ``pool``: {class: bank clip ids} this split may use (non-empty lists)."""
    classes = sorted(c for c, ids in pool.items() if ids)
    assert classes, "build_scene needs at least one class with clips"
    S, m, t = cfg.size, cfg.margin, cfg.frames
    if n_sources is None:
        n_sources = int(rng.choice([1, 2, 3], p=[0.45, 0.35, 0.2]))
    n_sources = max(1, min(n_sources, cfg.max_sources))
    chosen: list[str] = []
    for _ in range(n_sources):
        fresh = [c for c in classes if c not in chosen] or classes
        chosen.append(fresh[int(rng.integers(len(fresh)))])
    columns = rng.permutation(n_sources)
    backdrop = looks.background(S + 2 * m, S + 2 * m, rng)
    sources: list[Source] = []
    for i, cls in enumerate(chosen):
        group = bank.class_group(cls)
        col = int(columns[i])
        region = Region(x0=m + col * S / n_sources, x1=m + (col + 1) * S / n_sources, top=m + 0.05 * S,
                        ground=m + S * rng.uniform(0.74, 0.9))
        images = bank.class_images(cls)
        look = bank.image(images[int(rng.integers(len(images)))]) if images else None
        kind = kind_of(cls, group)
        if cfg.walker_share > 0 and kind in WALKER_SWAPPABLE and rng.random() < cfg.walker_share:
            kind = "walk"  # RenderConfig.walker_share: a walker whose feet land with this class's sounds
        src = KINDS[kind](sid=f"s{i}", cls=cls, group=group, region=region, frames=t,
                                         fps=cfg.fps, sample_rate=cfg.sample_rate, look=look)
        ids = pool[cls]

        def pick(r: np.random.Generator, ids=ids) -> tuple[str, int]:
            cid = ids[int(r.integers(len(ids)))]
            return cid, len(bank.audio(cid))

        src.plan(rng, pick)
        assert src.events, f"{src.kind} source for {cls!r} planned no event in {t} frames"
        sources.append(src)
    stems = np.zeros((n_sources, cfg.samples), np.float32)
    gains = [0.0] + [float(rng.uniform(*cfg.gain_db)) for _ in range(n_sources - 1)]
    for i, src in enumerate(sources):
        for ev in src.events:
            a = bank.audio(ev.clip)
            start = cfg.frame_sample(ev.frame)
            n = min(len(a), cfg.samples - start)
            stems[i, start:start + n] += a[:n]
        src.env = envelope(stems[i], cfg)
        stems[i] *= 10 ** (gains[i] / 20)
    for src in sources:
        src.bake(backdrop, rng)
    distractors = []
    for j in range(int(rng.integers(0, cfg.max_distractors + 1))):
        kind = Distractor.KINDS[int(rng.integers(len(Distractor.KINDS)))]
        distractors.append((Distractor(f"d{j}", kind, backdrop.shape[:2], t, rng), bool(rng.random() < 0.5)))
    flicker = (1 + np.cumsum(rng.normal(0, 0.004, t)).clip(-0.06, 0.06)).astype(np.float32)
    sigma = rng.uniform(0, cfg.noise_std)
    noise = (rng.standard_normal((4, S, S, 3), dtype=np.float32) * sigma).astype(np.float32)
    floor_db = rng.uniform(*cfg.audio_noise_db)
    floor = (rng.standard_normal(cfg.samples, dtype=np.float32) * 10 ** (floor_db / 20)).astype(np.float32)
    return Scene(cfg=cfg, sources=sources, distractors=distractors, backdrop=backdrop,
                 origin=_camera(rng, cfg), flicker=flicker, noise=noise,
                 noise_index=rng.integers(0, 4, t), stems=stems, floor=floor, gains_db=gains)


def draw_frames(scene: Scene, sources: bool = True, nuisances: bool = True, step: int = 1) -> np.ndarray:
    """Paint the clip: (t, 3, h, w) uint8. ``sources=False`` leaves the sounding sources out and
    ``nuisances=False`` the distractors, shake, flicker and noise (both for tests and inspection).
    ``step`` > 1 paints only frames 0, step, 2*step, ... (ceil(t / step) of them), each exactly as the
    full clip has it: drawing is a pure function of the frame index (live training needs only the
    frames on the model's grid).

    The result is a channel-first view of (t, h, w, 3) memory: encoders want each frame as (h, w, 3),
    so this saves two full transposing copies per clip (about a tenth of the render time)."""
    cfg = scene.cfg
    S, t, m = cfg.size, cfg.frames, cfg.margin
    if step < 1:
        raise ValueError(f"draw_frames: step must be >= 1, got {step}")
    picked = range(0, t, step)
    out = np.empty((len(picked), S, S, 3), np.uint8)
    canvas = np.empty_like(scene.backdrop)
    buf = np.empty((S, S, 3), np.float32)
    noise = scene.noise + 0.5  # + 0.5: the float -> uint8 cast truncates, so this rounds
    for j, f in enumerate(picked):
        canvas[:] = scene.backdrop
        if nuisances:
            for d, front in scene.distractors:
                if not front:
                    d.draw(canvas, f)
        if sources:
            for src in scene.sources:
                src.draw(canvas, f)
        if nuisances:
            for d, front in scene.distractors:
                if front:
                    d.draw(canvas, f)
            x, y = scene.origin[f]
            np.multiply(canvas[y:y + S, x:x + S], scene.flicker[f], out=buf)
            buf += noise[scene.noise_index[f]]
        else:
            np.add(canvas[m:m + S, m:m + S], 0.5, out=buf)
        np.clip(buf, 0, 255, out=buf)
        out[j] = buf  # cast to uint8
    return out.transpose(0, 3, 1, 2)  # (t, h, w, 3) -> (t, 3, h, w) view


def mix(scene: Scene, floor: bool = True) -> np.ndarray:
    """The clip's audio (s,) float32: stems + noise floor, scaled down only if it would clip."""
    audio = scene.stems.sum(0) + (scene.floor if floor else 0)
    peak = float(np.abs(audio).max())
    if peak > 0.99:
        audio = audio * (0.99 / peak)
    return audio.astype(np.float32)
