"""Continuous sources (engines, fire, water, wind, rain) and silent distractors.

A continuous source plays bank clips back to back from an onset frame; its motion is driven by its own
loudness envelope ``env`` (t,) in [0, 1] (per-frame RMS of its stem, set by the scene): a vehicle's
speed, a fire's flame height, a water surface's wave height, wind or rain streaks' speed and opacity,
an engine's vibration. Before the first onset ``env`` is 0, so the source is still.

Distractors move and make no sound: drifting objects, swinging pendulums, blinking lights that switch
at random moments (sudden visual changes that are not sound events).
"""

from __future__ import annotations

import numpy as np

from openfoley.data.foleyworld import draw, looks
from openfoley.data.foleyworld.sources import Event, Source

_STYLES = {
    "vehicle": ("vehicle", "car", "engine", "truck", "motor", "helicopter", "jet", "train", "tractor", "bike", "cart"),
    "fire": ("fire", "burn", "flame", "torch", "crackl"),
    "water": ("water", "river", "wave", "sea", "ocean", "stream", "waterfall", "pour", "bubbl", "splash", "fountain"),
    "rain": ("rain", "drip", "hail", "shower"),
    "wind": ("wind", "storm", "breeze", "air", "weather", "blow"),
}
CONTINUOUS_WORDS = tuple(w for words in _STYLES.values() for w in words) + ("ambien", "machine", "hum")


def style_of(cls: str, group: str) -> str:
    """The look of a continuous source: the class name decides first ("rain" in group water), then the group."""
    for text in (cls.lower(), group.lower()):
        for style, words in _STYLES.items():
            if any(w in text for w in words):
                return style
    return "machine"


class ContinuousSource(Source):
    """A sound that lasts: clips back to back; motion follows the loudness envelope."""

    kind = "continuous"

    def plan(self, rng, pick):
        r = self.region
        self.style = style_of(self.cls, self.group)
        self.obj = self.style
        spf = self._spf()
        f = 1 + int(rng.integers(0, max(1, self.frames // 3)))
        span_end = f + int(rng.uniform(0.3, 1.0) * (self.frames - f))
        while f < min(span_end, self.frames - 2) and len(self.events) < 8:
            clip, n = pick(rng)
            self.events.append(Event(f, clip, n, (r.cx, r.ground - 0.2 * r.width)))
            f = int(np.ceil((f * spf + n) / spf))  # next clip starts where this one ends
        t = self.frames
        self.noise = rng.uniform(-1, 1, (t, 8)).astype(np.float32)  # per-frame flicker/jitter
        self.dir = rng.choice([-1.0, 1.0])
        w = r.width
        if self.style == "vehicle":
            size = int(w * rng.uniform(0.45, 0.7))
            self.sprite = self._object(size, rng) if self.look is not None else self._car(size, rng)
            self.speed = w * rng.uniform(0.04, 0.08)  # pixels per frame at full loudness
        elif self.style == "machine":
            self.sprite = self._object(int(w * rng.uniform(0.35, 0.6)), rng)
        elif self.style in ("rain", "wind"):
            n = int(rng.integers(10, 25))
            self.px = rng.uniform(r.x0, r.x1, n)
            self.py = rng.uniform(r.top, r.ground, n)
            self.speed = w * rng.uniform(0.06, 0.12)
        self.level = rng.uniform(r.ground - 0.35 * (r.ground - r.top), r.ground - 0.15 * (r.ground - r.top))
        self.flame_x = r.cx + rng.uniform(-0.3, 0.3, int(rng.integers(3, 6))) * w * 0.5
        self.flame_h = (r.ground - r.top) * rng.uniform(0.3, 0.55)
        self.colour = looks.class_colour(self.cls)

    def _car(self, size, rng):
        sp = np.zeros((int(size * 0.55), size, 4), np.float32)
        body = np.append(rng.uniform(40, 230, 3), 1.0)
        h = sp.shape[0]
        draw.fill_rect(sp, 0, h * 0.35, size, h * 0.8, body)
        draw.polygon(sp, [(size * 0.25, h * 0.36), (size * 0.35, 0), (size * 0.7, 0), (size * 0.8, h * 0.36)], body)
        draw.fill_rect(sp, size * 0.38, h * 0.08, size * 0.67, h * 0.33, (170, 210, 230, 1.0))
        for x in (0.22, 0.78):
            draw.ellipse(sp, size * x, h * 0.8, h * 0.19, h * 0.19, (20, 20, 20, 1.0))
        return draw.trim(sp)

    def bake(self, bg, rng):
        r = self.region
        if self.style == "fire":
            for x in self.flame_x:
                draw.segment(bg, (x - 8, r.ground - 2), (x + 8, r.ground - 5), 5, (90, 55, 30))
        if self.style == "water":
            draw.fill_rect(bg, r.x0, self.level + 6, r.x1, r.ground + 10, (40, 90, 150))

    def draw(self, canvas, f):
        r, e = self.region, 0.0 if self.env is None else float(self.env[f])
        env = np.zeros(self.frames, np.float32) if self.env is None else self.env
        if self.style == "vehicle":
            travel = self.speed * float(env[: f + 1].sum())
            span = r.width + self.sprite.shape[1]
            x = r.x0 - self.sprite.shape[1] / 2 + (0.3 * span + self.dir * travel) % span
            draw.blit_bottom(canvas, self.sprite, x, r.ground + 1.5 * e * self.noise[f, 0])
        elif self.style == "machine":
            jx, jy = 3 * e * self.noise[f, 0], 3 * e * self.noise[f, 1]
            draw.blit_bottom(canvas, self.sprite, r.cx + jx, r.ground + jy)
        elif self.style == "fire":
            for i, x in enumerate(self.flame_x):
                h = self.flame_h * (0.12 + e) * (0.85 + 0.3 * self.noise[f, i % 8])
                draw.ellipse(canvas, x, r.ground - h / 2, max(2, h * 0.22), h / 2, (255, 120, 30), 0.9)
                draw.ellipse(canvas, x, r.ground - h * 0.35, max(1, h * 0.12), h * 0.3, (255, 220, 90), 0.9)
        elif self.style == "water":
            xs = np.arange(int(r.x0), int(r.x1))
            phase = 0.6 * float(env[: f + 1].sum())
            surf = self.level - (2 + 10 * e) * (0.5 + 0.5 * np.sin(xs * 0.25 - self.dir * phase))
            top = int(surf.min())
            yy = np.arange(top, int(self.level) + 8)[:, None]
            mask = (yy >= surf[None, :]).astype(np.float32)[..., None]
            y0, y1 = max(0, top), min(canvas.shape[0], int(self.level) + 8)
            dst = canvas[y0:y1, xs[0]:xs[-1] + 1]
            dst += mask[y0 - top:y1 - top] * (np.array((50, 110, 185), np.float32) - dst)
        else:  # rain falls, wind blows: streaks move by the envelope, fainter when quiet
            travel = self.speed * float(env[: f + 1].sum())
            if self.style == "rain":
                ys = r.top + (self.py - r.top + travel) % (r.ground - r.top)
                for x, y in zip(self.px, ys, strict=True):
                    draw.segment(canvas, (x, y), (x - 1, y + 6), 1.5, (200, 210, 235), 0.25 + 0.75 * e)
            else:
                xs = r.x0 + (self.px - r.x0 + self.dir * travel) % r.width
                for x, y in zip(xs, self.py, strict=True):
                    draw.segment(canvas, (x, y), (x - self.dir * 10, y), 1.5, (235, 235, 240), 0.15 + 0.6 * e)


class Distractor:
    """Silent motion: ``drift`` (an object on a smooth path), ``pendulum``, ``blink`` (random switching)."""

    KINDS = ("drift", "pendulum", "blink")

    def __init__(self, did: str, kind: str, canvas_hw: tuple[int, int], frames: int, rng: np.random.Generator):
        self.id, self.kind = did, kind
        H, W = canvas_hw
        self.frames = frames
        self.sprite = looks.tint(looks.object_sprite(f"distractor-{int(rng.integers(1 << 30))}",
                                                      int(rng.integers(10, 28))), rng)
        t = np.arange(frames, dtype=np.float32)
        if kind == "drift":
            p0, p1 = rng.uniform(0, 1, 2) * (W, H), rng.uniform(0, 1, 2) * (W, H)
            u = t / max(1, frames - 1)
            wob = rng.uniform(3, 15) * np.sin(2 * np.pi * rng.uniform(0.1, 0.6) * t / 25 + rng.uniform(0, 6))
            self.xy = np.stack([p0[0] + (p1[0] - p0[0]) * u, p0[1] + (p1[1] - p0[1]) * u + wob], 1)
        elif kind == "pendulum":
            self.pivot = rng.uniform(0.1, 0.9) * W, rng.uniform(0.0, 0.3) * H
            self.len = rng.uniform(0.15, 0.35) * H
            a = rng.uniform(0.3, 0.9) * np.sin(2 * np.pi * t / rng.uniform(20, 50) + rng.uniform(0, 6))
            self.xy = np.stack([self.pivot[0] + self.len * np.sin(a), self.pivot[1] + self.len * np.cos(a)], 1)
        else:
            self.xy = np.tile(rng.uniform(0.1, 0.9, 2) * (W, H), (frames, 1))
            switch = rng.random(frames) < 1.5 / 25  # about 1.5 switches a second
            self.on = (np.cumsum(switch) % 2).astype(bool)
            self.light = np.append(rng.uniform(150, 255, 3), 1.0).astype(np.float32)

    def describe(self) -> dict:
        return {"id": self.id, "kind": self.kind, "sounding": False}

    def draw(self, canvas: np.ndarray, f: int) -> None:
        x, y = self.xy[f]
        if self.kind == "pendulum":
            draw.segment(canvas, self.pivot, (x, y), 1.5, (40, 40, 40))
        if self.kind == "blink":
            r = self.sprite.shape[0] / 3
            draw.ellipse(canvas, x, y, r, r, self.light[:3] if self.on[f] else self.light[:3] * 0.3)
            return
        draw.blit(canvas, self.sprite, x, y)
