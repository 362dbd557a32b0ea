"""Camera-shake compensation for frame differences: one global shift per pair of neighbouring frames.

Shapes: b batch, t frames, c channels, h x w pixels, n frame pairs.

A walker's foot landing is a foot of 2 x 1 pixels at 64 px. When the camera shakes, every textured edge
of the frame moves by up to a few pixels between frames, and the difference frames that should show the
foot show the whole ground instead. docs/sync-diagnosis.md part 15 measured what that costs: a landing
detector trained on whole 64 px frames reached AP 0.23 on shaking frames and 0.61 with each neighbour
frame moved back into the middle frame's camera (the renderer's true shake), same data, same network.
This module estimates that shift from the pixels alone, so it works on real video too: an exhaustive
search over integer shifts within ``reach`` pixels by mean absolute difference over the frame's interior,
refined to a fraction of a pixel by a parabola through each axis' neighbouring costs, then a bilinear
shift. No parameters, no FFT (so it exports to ONNX), and about (2 reach + 1)^2 h w / s^2 operations per pair
(s the search's stride, ``encoder.window_search_stride``: 1, every pixel, unless a config asks otherwise).
"""

from __future__ import annotations

import torch
from torch import Tensor


def shift_costs(ref: Tensor, mov: Tensor, reach: int, stride: int = 1) -> Tensor:
    """ref, mov (n, h, w) -> (n, 2 reach + 1, 2 reach + 1): cost[k, dy + reach, dx + reach] is the mean
    |ref(y, x) - mov(y + dy, x + dx)| over the pixels at least ``reach`` from every edge; with ``stride`` s > 1
    over every s-th of their rows and columns only (from the first), s^2 times fewer differences."""
    r, s = reach, stride
    h, w = ref.shape[-2:]
    if h <= 2 * r or w <= 2 * r:
        raise ValueError(f"frames {h}x{w} are too small for a shift search of reach {r}")
    if s < 1:
        raise ValueError(f"the search's stride must be >= 1, got {s}")
    core = ref[:, r:h - r:s, r:w - r:s]
    rows = []
    for dy in range(-r, r + 1):
        rows.append(torch.stack([(core - mov[:, r + dy:h - r + dy:s, r + dx:w - r + dx:s]).abs().mean((-2, -1))
                                 for dx in range(-r, r + 1)], -1))
    return torch.stack(rows, -2)


def _refine(c_minus: Tensor, c0: Tensor, c_plus: Tensor) -> Tensor:
    """Vertex of the parabola through (-1, c_minus), (0, c0), (1, c_plus), clamped to [-0.5, 0.5]."""
    curve = c_minus - 2 * c0 + c_plus
    off = 0.5 * (c_minus - c_plus) / curve.clamp_min(1e-8)
    return torch.where(curve > 1e-8, off, torch.zeros_like(off)).clamp(-0.5, 0.5)


def estimate_shift(ref: Tensor, mov: Tensor, reach: int = 3, stride: int = 1) -> Tensor:
    """ref, mov (n, h, w) grey frames -> (n, 2) float (dy, dx) pixels, such that mov(y + dy, x + dx) ~ ref(y, x).

    The integer argmin of ``shift_costs`` within [-reach, reach]^2, each axis refined by a parabola through
    its two neighbours (an argmin on the search's edge is not refined along that axis). ``stride`` as in
    ``shift_costs``.
    """
    r, k = reach, 2 * reach + 1
    cost = shift_costs(ref, mov, r, stride)  # (n, k, k)
    best = cost.flatten(1).argmin(1)  # (n,)
    iy, ix = best // k, best % k
    n = torch.arange(cost.shape[0], device=cost.device)

    def at(y: Tensor, x: Tensor) -> Tensor:
        return cost[n, y.clamp(0, k - 1), x.clamp(0, k - 1)]

    c0 = at(iy, ix)
    fy = torch.where((iy > 0) & (iy < k - 1), _refine(at(iy - 1, ix), c0, at(iy + 1, ix)), torch.zeros_like(c0))
    fx = torch.where((ix > 0) & (ix < k - 1), _refine(at(iy, ix - 1), c0, at(iy, ix + 1)), torch.zeros_like(c0))
    return torch.stack([iy.to(c0.dtype) - r + fy, ix.to(c0.dtype) - r + fx], -1)


def _lerp_matrix(shift: Tensor, size: int, dtype: torch.dtype) -> Tensor:
    """shift (n,) pixels -> (n, size, size) M with (M v)[i] = v at i + shift, linear between pixels, the
    coordinate clamped to [0, size - 1] (the edge pixel repeated): two weights per row."""
    grid = torch.arange(size, dtype=dtype, device=shift.device)
    pos = (grid[None, :] + shift[:, None].to(dtype)).clamp(0, size - 1)  # (n, size)
    i0 = pos.floor()
    frac = (pos - i0)[..., None]  # (n, size, 1)
    i1 = (i0 + 1).clamp(max=size - 1)
    return (grid == i0[..., None]).to(dtype) * (1 - frac) + (grid == i1[..., None]).to(dtype) * frac


def warp(x: Tensor, shift: Tensor) -> Tensor:
    """x (n, c, h, w), shift (n, 2) (dy, dx) pixels -> out (n, c, h, w) with out(y, x) = x(y + dy, x + dx),
    bilinear between pixels, the edge pixels repeated outside the frame.

    ``F.grid_sample(mode="bilinear", padding_mode="border", align_corners=False)`` with a translated grid
    gives the same values up to float rounding. For one shift per image the interpolation separates into
    a pass along x and one along y, each a product with a (size, size) matrix of two weights per row
    (``_lerp_matrix``): ONNX Runtime runs these products several times faster than its GridSample, which
    took 54 of the condition network's 130 ms per window (docs/generate.md)."""
    n, c, h, w = x.shape
    mx = _lerp_matrix(shift[:, 1], w, x.dtype)  # (n, w, w)
    my = _lerp_matrix(shift[:, 0], h, x.dtype)  # (n, h, h)
    out = torch.matmul(x.reshape(n, c * h, w), mx.transpose(1, 2))  # along x: (n, c h, w)
    return torch.matmul(my[:, None], out.reshape(n, c, h, w))  # along y: (n, c, h, w)


def aligned_neighbours(x: Tensor, reach: int = 3, stride: int = 1) -> tuple[Tensor, Tensor]:
    """frames (b, t, c, h, w) -> (prev, next), each (b, t, c, h, w): frame i - 1 and frame i + 1 moved into
    frame i's camera. At the ends frame i itself stands in for the missing neighbour (a zero difference).

    One shift is estimated per neighbouring pair, on the channel mean; frame i + 1 is moved back by the
    negated shift of the pair (i, i + 1). Shifts are found without gradients (they are a measurement of
    the input, not a learned quantity); ``stride`` is the search's (``shift_costs``).
    """
    b, t, c, h, w = x.shape
    if t < 2:
        return x, x
    with torch.no_grad():
        grey = x.mean(2)  # (b, t, h, w)
        s = estimate_shift(grey[:, 1:].flatten(0, 1), grey[:, :-1].flatten(0, 1), reach, stride)  # (b (t-1), 2): i-1 -> i
    prev = warp(x[:, :-1].flatten(0, 1), s).unflatten(0, (b, t - 1))  # frame i-1 in frame i's camera, i >= 1
    nxt = warp(x[:, 1:].flatten(0, 1), -s).unflatten(0, (b, t - 1))  # frame i+1 in frame i's camera, i <= t-2
    return torch.cat([x[:, :1], prev], 1), torch.cat([nxt, x[:, -1:]], 1)
