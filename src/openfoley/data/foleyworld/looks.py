"""Visual identity of every sound class: materials, procedural objects, real pictures, backgrounds.

A class always looks the same kind of way (its identity comes from its name, never from the clip), so a
model can learn what a "footstep on snow" or a "snare drum" looks like; each clip varies scale, tint,
position and background (``tint``, the per-clip ``rng``). Where the bank has a real picture for a class
(``Bank.class_images``) that picture is the object; otherwise a procedural look:

- material surfaces (impacts, footsteps, tools): a texture per material named in the class
  (metal brushed grey, wood grain, stone blocks, dirt speckle, grass blades, snow, sand ripples, gravel
  dots, glass, water, tiles, carpet), found by keyword (``material_of``);
- objects: a shape, colour and pattern derived from a hash of the class name (``object_sprite``),
  with special shapes for arrows, stones, drums (kick front, snare/tom shells, cymbal discs) and animals.

Shapes: textures and backgrounds are (h, w, 3) float32 in [0, 255]; sprites (h, w, 4) float32, alpha
in [0, 1] (see ``draw``).
"""

from __future__ import annotations

import colorsys
import zlib

import numpy as np

from openfoley.data.foleyworld import draw

# material: (base colour, keywords). Order matters: the first keyword found in the class name wins.
MATERIALS: dict[str, tuple[tuple[int, int, int], tuple[str, ...]]] = {
    "metal": ((150, 156, 165), ("metal", "iron", "steel", "shield", "armor", "armour", "chain", "tin")),
    "glass": ((170, 215, 225), ("glass", "window", "bottle", "crystal", "ice")),
    "wood": ((140, 95, 55), ("wood", "timber", "tree", "plank", "log", "chop")),
    "stone": ((128, 124, 118), ("stone", "rock", "brick", "concrete", "cobble", "marble", "mining", "pick")),
    "gravel": ((120, 110, 95), ("gravel", "pebble")),
    "dirt": ((110, 80, 55), ("dirt", "mud", "earth", "soil", "dig", "shovel")),
    "grass": ((70, 140, 60), ("grass", "leaves", "leaf", "bush", "hay")),
    "snow": ((232, 238, 245), ("snow",)),
    "sand": ((215, 190, 130), ("sand", "desert")),
    "water": ((50, 110, 180), ("water", "splash", "puddle", "river", "wet")),
    "tile": ((200, 195, 185), ("tile", "floor", "ceramic")),
    "carpet": ((140, 50, 70), ("carpet", "rug", "cloth", "fabric")),
}


def class_hash(name: str) -> int:
    return zlib.crc32(name.encode("utf-8"))


def class_colour(name: str) -> np.ndarray:
    """The class's own colour (RGB float32, 0-255), stable across runs and machines."""
    h = class_hash(name)
    hue, sat, val = (h % 360) / 360.0, 0.55 + ((h >> 9) % 40) / 100.0, 0.65 + ((h >> 17) % 30) / 100.0
    return np.array(colorsys.hsv_to_rgb(hue, sat, val), np.float32) * 255.0


def material_of(cls: str, group: str = "") -> str:
    """The surface material a class name implies; for "X on Y" names the part after "on" decides."""
    text = cls.lower()
    target = text.rsplit(" on ", 1)[-1] if " on " in text else text
    for part in (target, text, group.lower()):
        for mat, (_, words) in MATERIALS.items():
            if any(w in part for w in words):
                return mat
    return list(MATERIALS)[class_hash(cls) % len(MATERIALS)]


def smooth_noise(h: int, w: int, cell: float, rng: np.random.Generator) -> np.ndarray:
    """Bilinear value noise in [0, 1], (h, w) float32, features about ``cell`` pixels wide."""
    gh, gw = int(h / cell) + 2, int(w / cell) + 2
    g = rng.random((gh, gw), dtype=np.float32)
    y = np.arange(h, dtype=np.float32) / cell
    x = np.arange(w, dtype=np.float32) / cell
    y0, x0 = y.astype(int), x.astype(int)
    fy, fx = (y - y0)[:, None], (x - x0)[None, :]
    a, b = g[y0][:, x0], g[y0][:, x0 + 1]
    c, d = g[y0 + 1][:, x0], g[y0 + 1][:, x0 + 1]
    return (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy


def texture(material: str, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A (h, w, 3) float32 surface texture for ``material`` with per-call variation."""
    base = np.array(MATERIALS[material][0], np.float32) * rng.uniform(0.9, 1.1, 3).astype(np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    fine = rng.random((h, w), dtype=np.float32) - 0.5
    if material == "wood":
        shade = 0.85 + 0.15 * np.sin(yy * 0.9 + 3 * smooth_noise(h, w, 12, rng)) + 0.05 * fine
    elif material == "metal":
        shade = 0.8 + 0.25 * (1 - yy / max(1, h)) + 0.06 * (rng.random((h, 1), dtype=np.float32) - 0.5)
        shade = shade + 0.25 * np.exp(-((xx - w * rng.uniform(0.2, 0.8)) / (w / 8)) ** 2)
    elif material == "stone":
        bh = max(4, h // 3)
        mortar = ((yy % bh) < 1.5) | (((xx + (yy // bh % 2) * bh) % (2 * bh)) < 1.5)
        shade = 0.8 + 0.35 * smooth_noise(h, w, 6, rng) + 0.08 * fine - 0.45 * mortar
    elif material in ("dirt", "gravel"):
        dots = rng.random((h, w), dtype=np.float32) < (0.08 if material == "gravel" else 0.03)
        shade = 0.75 + 0.35 * smooth_noise(h, w, 5, rng) + 0.2 * fine + 0.35 * dots
    elif material == "grass":
        blades = rng.random((1, w), dtype=np.float32)
        shade = 0.7 + 0.4 * blades * (0.6 + 0.4 * np.sin(yy * 0.5 + xx)) + 0.1 * fine
    elif material == "snow":
        shade = 0.94 + 0.06 * smooth_noise(h, w, 8, rng) + 0.04 * fine
    elif material == "sand":
        shade = 0.88 + 0.08 * np.sin(yy * 0.7 + 2 * np.sin(xx * 0.08)) + 0.08 * fine
    elif material == "water":
        shade = 0.8 + 0.25 * np.sin(yy * 0.6 + 2.5 * smooth_noise(h, w, 10, rng) * 6)
    elif material == "tile":
        s = max(6, h // 2)
        shade = 1.0 - 0.35 * (((yy % s) < 1.5) | ((xx % s) < 1.5)) + 0.04 * fine
    elif material == "glass":
        shade = 0.9 + 0.2 * (((xx + yy) % 23) < 3) + 0.03 * fine
    else:  # carpet and anything else: fine fibre noise
        shade = 0.85 + 0.3 * fine
    return np.clip(base * shade[..., None], 0, 255).astype(np.float32)


def background(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A per-clip backdrop (h, w, 3) float32: a vertical gradient wall with soft blobs and a floor tone."""
    top = rng.uniform(40, 220, 3).astype(np.float32)
    bottom = np.clip(top * rng.uniform(0.5, 1.1, 3), 0, 255).astype(np.float32)
    t = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    bg = top * (1 - t) + bottom * t + np.zeros((1, w, 1), np.float32)
    bg *= (0.85 + 0.3 * smooth_noise(h, w, rng.uniform(20, 60), rng))[..., None]
    return np.clip(bg, 0, 255)


def tint(sprite: np.ndarray, rng: np.random.Generator, amount: float = 0.12) -> np.ndarray:
    """Per-clip colour variation of an RGBA sprite (copy)."""
    out = sprite.copy()
    out[..., :3] = np.clip(out[..., :3] * rng.uniform(1 - amount, 1 + amount, 3).astype(np.float32), 0, 255)
    return out


def picture_sprite(image: np.ndarray, size: int) -> np.ndarray:
    """A bank picture (h, w, 4) uint8 scaled so its longer side is ``size`` -> RGBA float32 sprite."""
    h, w = image.shape[:2]
    s = size / max(h, w)
    im = draw.resize(image, max(1, round(h * s)), max(1, round(w * s))).astype(np.float32)
    im[..., 3] /= 255.0
    return im


def _blank(h: int, w: int) -> np.ndarray:
    return np.zeros((h, w, 4), np.float32)


def _rgba(c) -> np.ndarray:
    return np.append(np.asarray(c, np.float32), 1.0).astype(np.float32)


def object_sprite(cls: str, size: int) -> np.ndarray:
    """The procedural object of a class (size x size RGBA): shape and pattern from the name's hash."""
    lower = cls.lower()
    col = class_colour(cls)
    dark, light = col * 0.55, np.minimum(col * 1.35 + 30, 255)
    sp = _blank(size, size)
    r = size / 2
    if "arrow" in lower or "spear" in lower or "bolt" in lower:  # pointing down, it falls tip first
        draw.segment(sp, (r, 2), (r, size * 0.72), max(2, size * 0.08), _rgba((120, 85, 50)))
        draw.polygon(sp, [(r - size * 0.2, size * 0.68), (r + size * 0.2, size * 0.68), (r, size - 1)],
                     _rgba((170, 170, 180)))
        draw.polygon(sp, [(r, 2), (r - size * 0.18, 0), (r, size * 0.25)], _rgba(col))
        draw.polygon(sp, [(r, 2), (r + size * 0.18, 0), (r, size * 0.25)], _rgba(col))
        return sp
    shape = class_hash(cls + "/shape") % 5
    c = _rgba(col)
    if "stone" in lower or "rock" in lower or "sling" in lower or shape == 0:
        draw.ellipse(sp, r, r, r - 1, r * 0.85, c)
    elif shape == 1:
        draw.polygon(sp, [(2, 2), (size - 2, 2), (size - 2, size - 2), (2, size - 2)], c)
    elif shape == 2:
        draw.polygon(sp, [(r, 1), (size - 1, r), (r, size - 1), (1, r)], c)
    elif shape == 3:
        draw.polygon(sp, [(r, 1), (size - 1, size - 2), (1, size - 2)], c)
    else:
        pts = [(r + (r - 1) * np.cos(a), r + (r - 1) * np.sin(a)) for a in np.linspace(0, 2 * np.pi, 7)[:-1]]
        draw.polygon(sp, pts, c)
    pattern = class_hash(cls + "/pattern") % 3
    mask = sp[..., 3:4].copy()
    if pattern == 0:  # stripes
        yy = np.arange(size)[:, None, None]
        sp[..., :3] = np.where((yy // max(2, size // 6)) % 2 == 0, sp[..., :3], dark)
    elif pattern == 1:  # a light dot
        draw.ellipse(sp, r, r, r * 0.35, r * 0.35, _rgba(light))
    sp[..., 3:4] = mask
    draw.segment(sp, (size * 0.3, size * 0.25), (size * 0.45, size * 0.2), max(1.5, size * 0.06),
                 np.append(light, 0.8))  # highlight, reads as a solid object
    sp[..., 3:4] = mask
    return sp


def animal_sprite(cls: str, size: int) -> np.ndarray:
    """A procedural animal: body, head, ears, legs, eye, in the class colour (size x size)."""
    col = class_colour(cls)
    sp = _blank(size, size)
    c, dark = _rgba(col), _rgba(col * 0.6)
    s = size
    for lx in (0.3, 0.45, 0.62, 0.75):
        draw.segment(sp, (s * lx, s * 0.6), (s * lx, s * 0.95), s * 0.07, dark)
    draw.ellipse(sp, s * 0.52, s * 0.55, s * 0.32, s * 0.2, c)
    draw.ellipse(sp, s * 0.22, s * 0.35, s * 0.15, s * 0.14, c)
    draw.polygon(sp, [(s * 0.12, s * 0.26), (s * 0.16, s * 0.08), (s * 0.22, s * 0.24)], dark)
    draw.polygon(sp, [(s * 0.24, s * 0.24), (s * 0.3, s * 0.08), (s * 0.33, s * 0.27)], dark)
    draw.ellipse(sp, s * 0.18, s * 0.32, s * 0.025, s * 0.025, _rgba((20, 20, 20)))
    return sp


def drum_sprite(cls: str, size: int) -> tuple[np.ndarray, float]:
    """A drum by its kind (kick front, cymbal disc, snare/tom shell); returns (sprite, strike y in [0, 1])."""
    lower = cls.lower()
    col = class_colour(cls)
    sp = _blank(size, size)
    s = size
    if any(k in lower for k in ("kick", "bass", "bd")):
        draw.ellipse(sp, s / 2, s / 2, s * 0.48, s * 0.48, _rgba(col * 0.7))
        draw.ellipse(sp, s / 2, s / 2, s * 0.42, s * 0.42, _rgba((235, 230, 215)))
        draw.ellipse(sp, s / 2, s / 2, s * 0.12, s * 0.12, _rgba(col))
        return sp, 0.5
    if any(k in lower for k in ("hat", "hh", "cymbal", "crash", "ride", "splash", "china")):
        draw.segment(sp, (s / 2, s * 0.45), (s / 2, s - 1), s * 0.05, _rgba((70, 70, 75)))
        draw.ellipse(sp, s / 2, s * 0.42, s * 0.46, s * 0.09, _rgba((205, 170, 70)))
        draw.ellipse(sp, s / 2, s * 0.42, s * 0.08, s * 0.04, _rgba((160, 120, 40)))
        return sp, 0.38
    height = 0.4 if "snare" in lower else 0.55
    top, bottom = s * (0.55 - height / 2), s * (0.55 + height / 2)
    draw.fill_rect(sp, s * 0.06, top, s * 0.94, bottom, _rgba(col))
    draw.ellipse(sp, s / 2, bottom, s * 0.44, s * 0.1, _rgba(col * 0.8))
    for y in (top + 2, bottom - 2):
        draw.segment(sp, (s * 0.06, y), (s * 0.94, y), 2, _rgba((190, 190, 200)))
    draw.ellipse(sp, s / 2, top, s * 0.44, s * 0.1, _rgba((235, 232, 220)))
    return sp, top / s
