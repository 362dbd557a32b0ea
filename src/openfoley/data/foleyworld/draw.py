"""Vectorised drawing primitives on a float32 RGB canvas (h, w, 3), values in [0, 255].

Everything draws in place into a bounding box (clipped to the canvas), with anti-aliased alpha where
edges matter. Sprites are (h, w, 4) float32: RGB in [0, 255] and alpha in [0, 1]. These are the only
per-frame operations of the renderer, so each costs one numpy expression over a small box.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

_AR = np.arange(4096, dtype=np.float32) + 0.5  # pixel centres; slices replace np.ogrid (much cheaper)


def _grid(xa: int, ya: int, xb: int, yb: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates (yy (h, 1), xx (1, w)) of the box, float32."""
    return _AR[ya:yb, None], _AR[None, xa:xb]


def _alpha(x: np.ndarray) -> np.ndarray:
    """clip(x, 0, 1) for small arrays (np.clip's Python overhead dominates at this size)."""
    return np.minimum(np.maximum(x, 0.0), 1.0)


def _box(canvas: np.ndarray, x0: float, y0: float, x1: float, y1: float):
    h, w = canvas.shape[:2]
    xa, ya = max(0, int(np.floor(x0))), max(0, int(np.floor(y0)))
    xb, yb = min(w, int(np.ceil(x1)) + 1), min(h, int(np.ceil(y1)) + 1)
    if xa >= xb or ya >= yb:
        return None
    return xa, ya, xb, yb


def composite(canvas: np.ndarray, x: int, y: int, rgb: np.ndarray, alpha: np.ndarray) -> None:
    """Alpha-blend ``rgb`` (h, w, 3) with ``alpha`` (h, w) at top-left (x, y), clipped to the canvas."""
    H, W = canvas.shape[:2]
    h, w = alpha.shape
    xa, ya, xb, yb = max(0, x), max(0, y), min(W, x + w), min(H, y + h)
    if xa >= xb or ya >= yb:
        return
    a = alpha[ya - y:yb - y, xa - x:xb - x, None]
    dst = canvas[ya:yb, xa:xb]
    dst += a * (rgb[ya - y:yb - y, xa - x:xb - x] - dst)


def blit(canvas: np.ndarray, sprite: np.ndarray, cx: float, cy: float, opacity: float = 1.0) -> None:
    """Draw an RGBA ``sprite`` (h, w, 4) centred at (cx, cy)."""
    h, w = sprite.shape[:2]
    a = sprite[..., 3] if opacity == 1.0 else sprite[..., 3] * opacity
    composite(canvas, int(round(cx - w / 2)), int(round(cy - h / 2)), sprite[..., :3], a)


def blit_bottom(canvas: np.ndarray, sprite: np.ndarray, cx: float, bottom: float, opacity: float = 1.0) -> None:
    """Draw ``sprite`` with its bottom row's lower edge at ``bottom`` (so it rests on a surface there)."""
    h, w = sprite.shape[:2]
    a = sprite[..., 3] if opacity == 1.0 else sprite[..., 3] * opacity
    composite(canvas, int(round(cx - w / 2)), int(round(bottom)) - h, sprite[..., :3], a)


def resize(sprite: np.ndarray, h: int, w: int) -> np.ndarray:
    """Nearest-neighbour resize of (h0, w0, c) to (h, w, c)."""
    h0, w0 = sprite.shape[:2]
    ys = np.minimum((np.arange(max(1, h)) + 0.5) * h0 / max(1, h), h0 - 1).astype(int)
    xs = np.minimum((np.arange(max(1, w)) + 0.5) * w0 / max(1, w), w0 - 1).astype(int)
    return sprite[ys][:, xs]


def fill_rect(canvas: np.ndarray, x0: float, y0: float, x1: float, y1: float, colour, alpha: float = 1.0) -> None:
    """Fill [x0, x1) x [y0, y1) (pixel units) with ``colour``."""
    h, w = canvas.shape[:2]
    xa, ya = max(0, int(round(x0))), max(0, int(round(y0)))
    xb, yb = min(w, int(round(x1))), min(h, int(round(y1)))
    if xa < xb and ya < yb:
        dst = canvas[ya:yb, xa:xb]
        dst += alpha * (np.asarray(colour, np.float32) - dst)


def ellipse(canvas: np.ndarray, cx: float, cy: float, rx: float, ry: float, colour, alpha: float = 1.0) -> None:
    """Anti-aliased filled ellipse."""
    if rx <= 0 or ry <= 0:
        return
    box = _box(canvas, cx - rx - 1, cy - ry - 1, cx + rx + 1, cy + ry + 1)
    if box is None:
        return
    xa, ya, xb, yb = box
    yy, xx = _grid(xa, ya, xb, yb)
    d = np.sqrt(((xx - cx) * (1 / rx)) ** 2 + ((yy - cy) * (1 / ry)) ** 2)
    a = _alpha((1.0 - d) * min(rx, ry) + 0.5)[..., None] * alpha
    dst = canvas[ya:yb, xa:xb]
    dst += a * (np.asarray(colour, np.float32) - dst)


def segment(canvas: np.ndarray, p0, p1, width: float, colour, alpha: float = 1.0) -> None:
    """Anti-aliased thick line from p0 to p1 (round caps)."""
    (x0, y0), (x1, y1) = p0, p1
    r = width / 2
    box = _box(canvas, min(x0, x1) - r - 1, min(y0, y1) - r - 1, max(x0, x1) + r + 1, max(y0, y1) + r + 1)
    if box is None:
        return
    xa, ya, xb, yb = box
    yy, xx = _grid(xa, ya, xb, yb)
    px, py = xx - np.float32(x0), yy - np.float32(y0)
    dx, dy = np.float32(x1 - x0), np.float32(y1 - y0)
    L2 = dx * dx + dy * dy
    t = _alpha((px * dx + py * dy) * (1 / L2)) if L2 > 0 else np.zeros_like(px + py)
    d = np.sqrt((px - t * dx) ** 2 + (py - t * dy) ** 2)
    a = _alpha(r - d + 0.5)[..., None] * alpha
    dst = canvas[ya:yb, xa:xb]
    dst += a * (np.asarray(colour, np.float32) - dst)


def polygon(canvas: np.ndarray, pts, colour, alpha: float = 1.0) -> None:
    """Filled convex polygon ``pts`` [(x, y), ...] (either winding), lightly anti-aliased."""
    pts = np.asarray(pts, np.float32)
    box = _box(canvas, pts[:, 0].min() - 1, pts[:, 1].min() - 1, pts[:, 0].max() + 1, pts[:, 1].max() + 1)
    if box is None:
        return
    xa, ya, xb, yb = box
    py, px = _grid(xa, ya, xb, yb)
    p = pts.tolist()
    edges = list(zip(p, p[1:] + p[:1], strict=True))
    area = sum(ax * by - bx * ay for (ax, ay), (bx, by) in edges)
    sign = 1.0 if area >= 0 else -1.0
    inside = None
    for (ax, ay), (bx, by) in edges:
        ex, ey = bx - ax, by - ay
        n = np.hypot(ex, ey) or 1.0
        dist = sign * (ex * (py - ay) - ey * (px - ax)) / n  # signed distance inside > 0
        inside = dist if inside is None else np.minimum(inside, dist)
    assert inside is not None  # a polygon has edges
    a = _alpha(inside + 0.5)[..., None] * alpha
    dst = canvas[ya:yb, xa:xb]
    dst += a * (np.asarray(colour, np.float32) - dst)


@lru_cache(maxsize=64)
def _ellipse_alpha(h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    d = np.sqrt(((xx + 0.5 - w / 2) / (w / 2)) ** 2 + ((yy + 0.5 - h / 2) / (h / 2)) ** 2)
    return np.clip((1.0 - d) * min(h, w) / 2 + 0.5, 0, 1).astype(np.float32)


def ellipse_alpha(h: int, w: int) -> np.ndarray:
    """(h, w) anti-aliased alpha of the ellipse inscribed in an h x w box (cached; do not modify)."""
    return _ellipse_alpha(int(h), int(w))


def sprite_from(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Stack rgb (h, w, 3) and alpha (h, w) into an RGBA float32 sprite (h, w, 4)."""
    return np.concatenate([rgb.astype(np.float32), alpha.astype(np.float32)[..., None]], axis=2)


def trim(sprite: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Crop an RGBA sprite to the rows/columns where alpha >= ``threshold`` (so a sprite drawn with its
    bottom on a surface touches it with solid pixels, not with a transparent border)."""
    solid = sprite[..., 3] >= threshold
    if not solid.any():
        return sprite
    rows, cols = np.nonzero(solid.any(1))[0], np.nonzero(solid.any(0))[0]
    return np.ascontiguousarray(sprite[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1])
