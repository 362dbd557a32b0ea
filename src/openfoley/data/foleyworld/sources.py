"""Sounding sources: visible physical events, each planned so that its sound starts at the contact frame.

Every source owns a screen region (a column of the canvas with a ground line), plans its events
(``plan``: frames and bank clips), bakes its static parts into the clip's backdrop (``bake``) and draws
its moving parts for any frame (``draw``). Event frames are whole video frames; the renderer places the
bank clip's first sample at ``frame * sample_rate / fps`` exactly, and the visual contact (object meets
surface, stick meets drum head, door meets frame, flash appears, picture starts to jump) happens on that
same frame and not before.

Kinds: ``impact`` (object dropped or thrown onto a material surface), ``walk`` (a walker whose feet land
on textured ground), ``strike`` (a stick on a drum, a hammer/axe/pick on a block, a blade on a block),
``call`` (a picture of an animal or thing jumps and swells with its sound; a face's mouth opens),
``door`` (a door swings shut), ``shatter`` (an object falls and breaks into pieces), ``flash`` (a gun's
muzzle flash or an explosion). Continuous sources live in ``continuous.py``. Coordinates are canvas
pixels (x right, y down); sizes scale with the region width.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from openfoley.data.foleyworld import draw, looks

# pick(rng) -> (bank clip id, length in samples)
Picker = Callable[[np.random.Generator], tuple[str, int]]


@dataclass
class Region:
    """A source's part of the canvas: columns [x0, x1), ground line ``ground``, sky from ``top``."""

    x0: float
    x1: float
    top: float
    ground: float

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def cx(self) -> float:
        return (self.x0 + self.x1) / 2


@dataclass
class Event:
    frame: int
    clip: str
    samples: int
    position: tuple[float, float]  # canvas coordinates of the contact


@dataclass
class Source:
    """Base class: identity, region, planned events and the loudness envelope of its own sound.

    ``kind`` (class attribute) names the event kind; ``obj`` describes the visible object (a plan
    may refine it, e.g. "drum" or "tool")."""

    kind: ClassVar[str] = "source"
    obj = "object"  # not a field: subclasses and plans override it

    sid: str
    cls: str
    group: str
    region: Region
    frames: int
    fps: float
    sample_rate: int
    look: np.ndarray | None = None  # a real picture (RGBA uint8) when the bank has one
    events: list[Event] = field(default_factory=list)
    env: np.ndarray | None = None  # (t,) loudness envelope in [0, 1], set after the mix is known

    def plan(self, rng: np.random.Generator, pick: Picker) -> None:
        raise NotImplementedError

    def bake(self, bg: np.ndarray, rng: np.random.Generator) -> None:
        """Draw static parts into the backdrop (once per clip)."""

    def draw(self, canvas: np.ndarray, f: int) -> None:
        raise NotImplementedError

    # helpers
    def _spf(self) -> float:
        return self.sample_rate / self.fps

    def _timeline(self, rng: np.random.Generator, pick: Picker, lead: int, cycle: int, n_max: int,
                  wait_sound: bool, position: Callable[[int, np.random.Generator], tuple[float, float]]) -> None:
        """Events from frame >= lead, at least ``cycle`` frames apart (and after the previous sound when
        ``wait_sound``), up to ``n_max``; positions from ``position(frame, rng)``."""
        f = lead + int(rng.integers(0, max(1, int(0.8 * self.fps))))
        while f < self.frames - 2 and len(self.events) < n_max:
            clip, n = pick(rng)
            self.events.append(Event(f, clip, n, position(f, rng)))
            gap = cycle + int(rng.integers(0, max(1, int(0.6 * self.fps))))
            if wait_sound:
                gap = max(gap, int(np.ceil(n / self._spf())) + 2)
            f += gap

    def _strip(self, bg: np.ndarray, material: str, thick: int, inset: int, rng: np.random.Generator) -> None:
        """Bake a ``material`` surface of ``thick`` rows below the ground line (clipped to the canvas)."""
        r = self.region
        y0, x0, x1 = int(r.ground), int(r.x0) + inset, int(r.x1) - inset
        y1 = min(bg.shape[0], y0 + thick)
        if y1 > y0 and x1 > x0:
            bg[y0:y1, x0:x1] = looks.texture(material, y1 - y0, x1 - x0, rng)

    def _size(self, lo: float, hi: float, rng: np.random.Generator) -> int:
        return max(6, int(self.region.width * rng.uniform(lo, hi)))

    def _object(self, size: int, rng: np.random.Generator, animal: bool = False) -> np.ndarray:
        if self.look is not None:
            return draw.trim(looks.tint(looks.picture_sprite(self.look, size), rng, 0.06))
        sp = looks.animal_sprite(self.cls, size) if animal else looks.object_sprite(self.cls, size)
        return draw.trim(looks.tint(sp, rng))


class ImpactSource(Source):
    """An object falls (or is thrown sideways) and strikes a material surface; small bounce, rest, gone."""

    kind, obj = "impact", "falling object"

    def plan(self, rng, pick):
        r = self.region
        self.material = looks.material_of(self.cls, self.group)
        self.sprite = self._object(self._size(0.16, 0.3, rng), rng)
        self.thick = int(rng.integers(8, 24))
        self.fall = int(rng.integers(int(0.35 * self.fps), int(0.7 * self.fps)))
        self.bounce, self.rest = int(rng.integers(3, 7)), int(rng.integers(3, 10))
        self.paths: list[Any] = []
        h = self.sprite.shape[0]
        for_path = []

        def position(f, rng):
            xc = rng.uniform(r.x0 + 0.3 * r.width, r.x1 - 0.3 * r.width)
            xs = xc if rng.random() < 0.5 else xc + rng.choice([-1, 1]) * rng.uniform(0.2, 0.5) * r.width
            ys = rng.uniform(r.top - h, r.top + 0.3 * (r.ground - r.top))
            for_path.append((f, xs, ys, xc, rng.uniform(0.05, 0.2) * h))
            return (xc, r.ground)

        self._timeline(rng, pick, self.fall, self.fall + self.bounce + self.rest + 2, 4, False, position)
        self.paths = for_path

    def bake(self, bg, rng):
        self._strip(bg, self.material, self.thick, 2, rng)

    def draw(self, canvas, f):
        for k, xs, ys, xc, hb in self.paths:
            if k - self.fall <= f <= k:
                tau = (f - (k - self.fall)) / self.fall  # gravity: distance grows as tau^2
                draw.blit_bottom(canvas, self.sprite, xs + (xc - xs) * tau, ys + (self.region.ground - ys) * tau * tau)
            elif k < f <= k + self.bounce + self.rest:
                u = (f - k) / self.bounce
                lift = hb * np.sin(np.pi * u) if u < 1 else 0.0
                fade = 1.0 - max(0, f - k - self.bounce) / (self.rest + 1)
                draw.blit_bottom(canvas, self.sprite, xc, self.region.ground - lift, fade)


class WalkerSource(Source):
    """A walker crossing textured ground; each foot lands (height reaches 0) on its step's frame."""

    kind, obj = "walk", "walker"

    def plan(self, rng, pick):
        r = self.region
        self.material = looks.material_of(self.cls, self.group)
        self.period = int(rng.integers(int(0.38 * self.fps), int(0.6 * self.fps)))
        self.scale = r.width / 224 * rng.uniform(0.9, 1.3) + 0.25
        self.stride = max(4.0, 14 * self.scale)
        self.colour = rng.uniform(30, 220, 3).astype(np.float32)
        self.thick = int(rng.integers(10, 26))
        n = int(rng.integers(3, 12))
        start = int(rng.integers(self.period, max(self.period + 1, self.frames - n * self.period)))
        self.first = start - self.period
        x, d = rng.uniform(r.x0 + 10, r.x1 - 10), rng.choice([-1.0, 1.0])
        feet = [x, x + d * self.stride / 2]  # planted positions; foot i % 2 moves at step i
        self.steps = []  # (land frame, foot index, from x, to x)
        for i in range(n):
            f = start + i * self.period
            if f >= self.frames - 1:
                break
            foot = i % 2
            to = feet[1 - foot] + d * self.stride
            if not (r.x0 + 6 < to < r.x1 - 6):
                d = -d
                to = feet[1 - foot] + d * self.stride
            self.steps.append((f, foot, feet[foot], to))
            feet[foot] = to
            clip, ns = pick(rng)
            self.events.append(Event(f, clip, ns, (to, r.ground)))
        self.x_init = [s[2] for s in self.steps[:2]] if len(self.steps) >= 2 else [x, x]

    def bake(self, bg, rng):
        self._strip(bg, self.material, self.thick, 0, rng)

    def _feet(self, f):
        """(x, lift) of both feet at frame f."""
        pos = [[self.x_init[0], 0.0], [self.x_init[1], 0.0]]
        prev = self.first
        for land, foot, x_from, x_to in self.steps:
            if f >= land:
                pos[foot] = [x_to, 0.0]
            elif f > prev:
                u = (f - prev) / (land - prev)
                # high through the swing, down only in the last frames: the landing frame is unambiguous
                pos[foot] = [x_from + (x_to - x_from) * u, 9 * self.scale * min(1.0, 3 * np.sin(np.pi * u))]
                break
            else:
                break
            prev = land
        return pos

    def draw(self, canvas, f):
        s, g = self.scale, self.region.ground
        (xa, la), (xb, lb) = self._feet(f)
        hip = ((xa + xb) / 2, g - 26 * s - 1.5 * s * np.sin(f * np.pi / self.period))
        dark = self.colour * 0.6
        for x, lift in ((xa, la), (xb, lb)):
            draw.segment(canvas, hip, (x, g - lift - 2 * s), 3.5 * s, dark)
            draw.ellipse(canvas, x + 2 * s, g - lift - 1.6 * s, 3.6 * s, 1.8 * s, (25, 25, 25))
        neck = (hip[0], hip[1] - 20 * s)
        draw.segment(canvas, hip, neck, 7 * s, self.colour)
        draw.ellipse(canvas, neck[0], neck[1] - 6 * s, 5 * s, 5 * s, (225, 190, 160))


class StrikeSource(Source):
    """A stick (drums) or a tool (hammer, axe, pick, blade) swings down and meets its target on the frame.

    Swing-like classes (a sword swing, a throw, an arrow's flight, a thrust) have no target: the tool
    reaches the bottom of its fastest swing on the event frame."""

    kind = "strike"

    def plan(self, rng, pick):
        r = self.region
        self.drum = self.group.lower() in ("drum", "drums", "percussion") or "drum" in self.cls.lower()
        self.swing = not self.drum and any(w in self.cls.lower() for w in ("swing", "throw", "flight", "thrust", "whoosh"))
        size = self._size(0.45, 0.75, rng)
        if self.drum:
            self.obj = "drum"
            self.target, strike_y = looks.drum_sprite(self.cls, size)
            self.target = looks.tint(self.target, rng, 0.08)
        else:
            self.obj = "swing" if self.swing else "tool"
            h = max(8, size // 3)
            tex = looks.texture(looks.material_of(self.cls, self.group), h, size, rng)
            self.target, strike_y = draw.sprite_from(tex, np.ones((h, size))), 0.0
        th, tw = self.target.shape[:2]
        self.tx = rng.uniform(r.x0 + tw / 2, max(r.x0 + tw / 2 + 1, r.x1 - tw / 2))
        self.ty = r.ground - th  # target's top
        self.hit = (self.tx + rng.uniform(-0.15, 0.15) * tw, self.ty + strike_y * th)
        side = rng.choice([-1.0, 1.0])
        self.length = size * rng.uniform(0.6, 0.9)
        self.pivot = (self.hit[0] + side * self.length * 0.9, self.hit[1] - self.length * 0.45)
        self.a_hit = np.arctan2(self.hit[1] - self.pivot[1], self.hit[0] - self.pivot[0])
        self.a_up = self.a_hit + side * rng.uniform(0.7, 1.1)  # raised: the tip rotated upwards
        self.reach = np.hypot(self.hit[0] - self.pivot[0], self.hit[1] - self.pivot[1])
        self.down, self.up = int(rng.integers(2, 5)), int(rng.integers(3, 6))
        self.width = max(2.0, size * 0.05)
        n_max = int(rng.integers(2, 9)) if self.drum else int(rng.integers(1, 5))
        self._timeline(rng, pick, self.down + 1, self.down + self.up + (0 if self.drum else 3), n_max,
                       False, lambda f, rng: self.hit)
        self.hits = np.array([e.frame for e in self.events])

    def bake(self, bg, rng):
        if not self.swing:
            draw.blit_bottom(bg, self.target, self.tx, self.region.ground)

    def _angle(self, f):
        nxt = self.hits[self.hits >= f]
        prv = self.hits[self.hits <= f]
        a = self.a_up
        if len(nxt) and nxt[0] - f < self.down:  # swinging down, accelerating
            u = 1 - (nxt[0] - f) / self.down
            a = self.a_up + (self.a_hit - self.a_up) * u * u
        elif len(prv) and f - prv[-1] < self.up:  # coming back up
            u = (f - prv[-1]) / self.up
            a = self.a_hit + (self.a_up - self.a_hit) * np.sin(np.pi / 2 * u)
        return a

    def draw(self, canvas, f):
        a = self._angle(f)
        px, py = self.pivot
        tip = (px + self.reach * np.cos(a), py + self.reach * np.sin(a))
        if self.drum:
            draw.segment(canvas, self.pivot, tip, self.width, (215, 180, 120))
        else:
            draw.segment(canvas, self.pivot, tip, self.width, (110, 75, 40))
            ux, uy = np.cos(a), np.sin(a)
            hw = self.width * 2.5  # the head, across the handle at the tip
            c, s = tip[0] - ux * hw, tip[1] - uy * hw
            draw.segment(canvas, (c - uy * hw * 1.3, s + ux * hw * 1.3), (c + uy * hw * 1.3, s - ux * hw * 1.3),
                         hw * 1.6, (90, 90, 100))


class CallSource(Source):
    """An animal/thing picture that jumps and swells when it sounds; a face whose mouth follows speech."""

    kind, obj = "call", "picture"

    def plan(self, rng, pick):
        r = self.region
        self.face = self.group.lower() in ("speech", "human") and self.look is None
        self.obj = "face" if self.face else ("animal" if self.group.lower() == "animal" else "picture")
        size = self._size(0.45, 0.8, rng)
        self.sprite = None if self.face else self._object(size, rng, animal=self.group.lower() == "animal")
        self.size = size
        self.x = rng.uniform(r.x0 + size / 2, max(r.x0 + size / 2 + 1, r.x1 - size / 2))
        self.jump, self.hop = int(rng.integers(4, 8)), rng.uniform(0.08, 0.2) * size
        self.skin = rng.uniform(150, 235, 3).astype(np.float32)
        self._timeline(rng, pick, 2, self.jump + 2, int(rng.integers(1, 4)), True,
                       lambda f, rng: (self.x, self.region.ground - self.size / 2))
        self.onsets = np.array([e.frame for e in self.events])

    def draw(self, canvas, f):
        e = 0.0 if self.env is None else float(self.env[f])
        past = self.onsets[self.onsets <= f]
        lift = 0.0
        if len(past) and f - past[-1] < self.jump:  # the jump starts on the onset frame
            lift = self.hop * np.sin(np.pi * (f - past[-1] + 1) / (self.jump + 1))
        g = self.region.ground - lift
        if self.face:
            s = self.size
            draw.ellipse(canvas, self.x, g - s / 2, s * 0.38, s * 0.45, self.skin)
            for dx in (-0.13, 0.13):
                draw.ellipse(canvas, self.x + dx * s, g - s * 0.62, s * 0.04, s * 0.05, (30, 30, 30))
            draw.ellipse(canvas, self.x, g - s * 0.3, s * 0.14, s * (0.015 + 0.12 * e), (90, 20, 30))
            return
        assert self.sprite is not None  # planned for every call source but a face
        h, w = self.sprite.shape[:2]
        grow = 1.0 + 0.18 * e  # swells with its own loudness
        sp = self.sprite if grow < 1.01 else draw.resize(self.sprite, int(h * grow), int(w * (1 + 0.08 * e)))
        draw.blit_bottom(canvas, sp, self.x, g)


class DoorSource(Source):
    """A door that has swung open closes, accelerating, and meets its frame on the event frame."""

    kind, obj = "door", "door"

    def plan(self, rng, pick):
        r = self.region
        self.w = int(r.width * rng.uniform(0.35, 0.55))
        self.h = int(min(r.ground - r.top - 4, self.w * rng.uniform(1.6, 2.2)))
        self.hinge = rng.uniform(r.x0 + 4, r.x1 - self.w - 4)
        self.panel = draw.sprite_from(looks.texture(looks.material_of(self.cls, "wood"), self.h, self.w, rng),
                                      np.ones((self.h, self.w)))
        self.close, self.reopen = int(rng.integers(3, 7)), int(rng.integers(10, 20))
        self.open_angle = rng.uniform(1.0, 1.35)
        self._timeline(rng, pick, self.close, self.close + self.reopen + 2, int(rng.integers(1, 4)), False,
                       lambda f, rng: (self.hinge + self.w, self.region.ground - self.h / 2))
        self.shuts = np.array([e.frame for e in self.events])

    def bake(self, bg, rng):
        g = self.region.ground
        draw.fill_rect(bg, self.hinge - 3, g - self.h - 3, self.hinge + self.w + 3, g, (60, 45, 35))
        draw.fill_rect(bg, self.hinge, g - self.h, self.hinge + self.w, g, (15, 15, 20))

    def _angle(self, f):
        nxt, prv = self.shuts[self.shuts >= f], self.shuts[self.shuts < f]
        if len(nxt) and nxt[0] - f < self.close:
            u = 1 - (nxt[0] - f) / self.close
            return self.open_angle * (1 - u * u)
        if len(prv):  # shut; it swings open again only if it will shut again
            since, half = f - prv[-1], self.reopen // 2
            if not len(nxt) or since < half:
                return 0.0
            return self.open_angle * min(1.0, (since - half) / (self.reopen - half))
        return self.open_angle

    def draw(self, canvas, f):
        w = max(1, int(round(self.w * np.cos(self._angle(f)))))
        sp = self.panel if w == self.w else draw.resize(self.panel, self.h, w)
        draw.composite(canvas, int(round(self.hinge)), int(round(self.region.ground)) - self.h,
                       sp[..., :3] * (0.6 + 0.4 * w / self.w), sp[..., 3])


class ShatterSource(Source):
    """An object falls and, on the contact frame, breaks into pieces that fly out and settle."""

    kind, obj = "shatter", "breaking object"

    def plan(self, rng, pick):
        r = self.region
        self.sprite = self._object(self._size(0.2, 0.35, rng), rng)
        self.colour = self.sprite[..., :3][self.sprite[..., 3] > 0.5].mean(0) if (self.sprite[..., 3] > 0.5).any() else np.full(3, 200.0)
        self.thick = int(rng.integers(8, 20))
        self.material = str(rng.choice(["stone", "tile", "wood"]))  # the floor it breaks on
        self.fall, self.fly = int(rng.integers(int(0.35 * self.fps), int(0.6 * self.fps))), int(rng.integers(8, 14))
        self.paths: list[Any] = []

        def position(f, rng):
            x = rng.uniform(r.x0 + 0.3 * r.width, r.x1 - 0.3 * r.width)
            n = int(rng.integers(6, 12))
            v = np.stack([rng.uniform(-1, 1, n) * r.width * 0.35, -rng.uniform(0.1, 1, n) * 40], 1)
            self.paths.append((f, x, rng.uniform(r.top, r.top + 0.3 * (r.ground - r.top)), v, rng.uniform(2, 5, n)))
            return (x, r.ground)

        self._timeline(rng, pick, self.fall, self.fall + self.fly + int(self.fps), int(rng.integers(1, 3)), False, position)

    def bake(self, bg, rng):
        self._strip(bg, self.material, self.thick, 2, rng)

    def draw(self, canvas, f):
        g = self.region.ground
        for k, x, ys, v, sz in self.paths:
            if k - self.fall <= f < k:
                tau = (f - (k - self.fall)) / self.fall
                draw.blit_bottom(canvas, self.sprite, x, ys + (g - ys) * tau * tau)
            elif k <= f < k + self.fly + int(self.fps):
                t = min(f - k, self.fly) / self.fps  # pieces fly until they land, then lie still
                px = x + v[:, 0] * t
                py = np.minimum(g - 2 + v[:, 1] * t + 0.5 * 400 * t * t, g - 2)
                fade = 1.0 if f - k < self.fly else 1.0 - (f - k - self.fly) / self.fps
                for xi, yi, si in zip(px, py, sz, strict=True):
                    draw.polygon(canvas, [(xi - si, yi), (xi + si, yi - si * 0.6), (xi + si * 0.4, yi + si * 0.5)],
                                 self.colour, fade)


class FlashSource(Source):
    """A gun's muzzle flash and recoil, or an explosion's fireball, appearing on the event frame."""

    kind = "flash"

    def plan(self, rng, pick):
        r = self.region
        lower = self.cls.lower()
        self.sky = "thunder" in lower or "lightning" in lower
        self.gun = not self.sky and not any(k in lower for k in ("explo", "tnt", "bomb", "blast", "grenade"))
        self.obj = "lightning" if self.sky else "gun" if self.gun else "explosion"
        self.bolt = [(r.cx + rng.uniform(-0.3, 0.3) * r.width, r.top + i * (r.ground - r.top) / 5) for i in range(6)]
        self.len = r.width * rng.uniform(0.3, 0.5)
        self.dir = rng.choice([-1.0, 1.0])
        self.x = r.cx - self.dir * self.len / 2
        self.y = rng.uniform(r.top + 0.3 * (r.ground - r.top), r.ground - 10)
        self.radius = r.width * rng.uniform(0.15, 0.3)
        self.ttl = int(rng.integers(5, 10))
        muzzle = lambda f, rng: (self.x + self.dir * self.len, self.y) if self.gun else (r.cx, self.y)
        self._timeline(rng, pick, 1, self.ttl + 3, int(rng.integers(1, 5)), False, muzzle)
        self.shots = np.array([e.frame for e in self.events])

    def draw(self, canvas, f):
        past = self.shots[self.shots <= f]
        age = f - past[-1] if len(past) else 10**6
        if self.sky:
            if age < 3:  # the flash lights the sky for a few frames
                draw.fill_rect(canvas, self.region.x0, self.region.top, self.region.x1, self.region.ground,
                               (255, 255, 240), 0.45 * (1 - age / 3))
                for p0, p1 in itertools.pairwise(self.bolt):
                    draw.segment(canvas, p0, p1, 2.5, (255, 255, 210))
        elif self.gun:
            back = 4.0 * max(0.0, 1 - age / 4) if age < 4 else 0.0
            x = self.x - self.dir * back
            draw.segment(canvas, (x, self.y), (x + self.dir * self.len, self.y), 4, (50, 50, 55))
            draw.segment(canvas, (x, self.y), (x - self.dir * 6, self.y + 10), 6, (80, 55, 35))
            if age < 2:
                mx = x + self.dir * (self.len + 6)
                draw.ellipse(canvas, mx, self.y, 9, 5, (255, 240, 150))
                draw.ellipse(canvas, mx, self.y, 4, 3, (255, 255, 255))
        elif age < self.ttl:
            u = (age + 1) / self.ttl
            draw.ellipse(canvas, self.region.cx, self.y, self.radius * (0.4 + u), self.radius * (0.4 + u) * 0.8,
                         (120, 110, 100), 0.8 * (1 - u))
            draw.ellipse(canvas, self.region.cx, self.y, self.radius * (0.3 + 0.6 * u), self.radius * (0.3 + 0.5 * u),
                         (255, 170, 40), 1 - u)
