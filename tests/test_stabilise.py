"""Camera-shake compensation (openfoley.features.stabilise): exact answers on shifted textures."""

from __future__ import annotations

import pytest
import torch

from openfoley.features.stabilise import aligned_neighbours, estimate_shift, shift_costs, warp


def texture(h: int = 40, w: int = 48, seed: int = 0) -> torch.Tensor:
    """(h, w) smooth random texture: noise blurred by a 3 x 3 box (so sub-pixel shifts are well defined)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(1, 1, h + 2, w + 2, generator=g)
    return torch.nn.functional.avg_pool2d(x, 3, stride=1)[0, 0]


def test_costs_are_zero_exactly_at_the_true_integer_shift() -> None:
    big = texture(60, 60)
    ref = big[10:50, 10:50][None]
    mov = big[12:52, 9:49][None]  # mov(y, x) = big(y + 12, x + 9) = ref(y - 2, x + 1)
    cost = shift_costs(ref, mov, 3)  # mov(y + dy, x + dx) = ref(y, x) at dy = -2, dx = 1
    assert cost.shape == (1, 7, 7)
    assert cost[0, 3 - 2, 3 + 1] == 0
    assert (cost[0] > 0).sum() == 48


@pytest.mark.parametrize("dy,dx", [(0, 0), (1, -3), (-2, 2), (3, 3)])
def test_integer_shifts_are_found(dy: int, dx: int) -> None:
    big = texture(60, 60, seed=1)
    ref = big[10:50, 10:50]
    mov = big[10 - dy:50 - dy, 10 - dx:50 - dx]  # mov(y + dy, x + dx) = ref(y, x)
    s = estimate_shift(ref[None], mov[None], 3)
    # the integer search lands on (dy, dx) exactly; the parabola through the neighbours' costs (which a
    # texture does not make symmetric) moves it by a few thousandths of a pixel at most
    torch.testing.assert_close(s, torch.tensor([[float(dy), float(dx)]]), rtol=0, atol=0.01)


def test_half_pixel_shift_is_found_within_a_tenth_of_a_pixel() -> None:
    big = texture(60, 60, seed=2)
    ref = big[None, None]
    mov = warp(ref, torch.tensor([[-0.5, 1.5]]))  # mov(y, x) = ref(y - 0.5, x + 1.5)
    s = estimate_shift(ref[0], mov[0], 3)[0]  # mov(y + 0.5, x - 1.5) = ref(y, x)
    assert abs(s[0].item() - 0.5) < 0.1 and abs(s[1].item() + 1.5) < 0.1


def test_warp_by_integers_is_slicing_and_by_zero_is_identity() -> None:
    x = texture(20, 24, seed=3)[None, None].repeat(2, 3, 1, 1)
    out = warp(x, torch.tensor([[2.0, -1.0], [0.0, 0.0]]))
    # out(y, x) = x(y + 2, x - 1) wherever y + 2 and x - 1 are inside the frame
    torch.testing.assert_close(out[0, :, :18, 1:], x[0, :, 2:, :23], rtol=0, atol=1e-6)
    torch.testing.assert_close(out[1], x[1], rtol=0, atol=1e-6)
    # outside the frame the edge repeats: row 19 of out reads row 21 -> row 19 (the last)
    torch.testing.assert_close(out[0, :, 19, 1:], x[0, :, 19, :23], rtol=0, atol=1e-6)


def test_warp_by_fractions_interpolates_linearly_and_repeats_the_edge() -> None:
    # x(y, x) = 10 y + x is linear, so bilinear sampling at (y + dy, x + dx) inside the frame is exactly
    # 10 (y + dy) + x + dx; outside it the coordinate is clamped to the frame
    h, w = 6, 7
    ramp = (10 * torch.arange(h, dtype=torch.float32)[:, None] + torch.arange(w, dtype=torch.float32)[None, :])
    out = warp(ramp[None, None], torch.tensor([[0.25, -1.5]]))[0, 0]
    ys = (torch.arange(h) + 0.25).clamp(0, h - 1)
    xs = (torch.arange(w) - 1.5).clamp(0, w - 1)
    torch.testing.assert_close(out, 10 * ys[:, None] + xs[None, :], rtol=0, atol=1e-5)
    assert out[0, 0].item() == 2.5  # y 0.25, x clamped from -1.5 to 0


def test_warp_equals_grid_sample_with_a_translated_grid() -> None:
    """The separable lerp is grid_sample (bilinear, border, align_corners=False), up to float rounding."""
    g = torch.Generator().manual_seed(5)
    x = torch.rand(16, 3, 20, 24, generator=g)
    shift = (torch.rand(16, 2, generator=g) - 0.5) * 10
    n, _, h, w = x.shape
    gy = (2 * (torch.arange(h)[None, :] + shift[:, :1]) + 1) / h - 1
    gx = (2 * (torch.arange(w)[None, :] + shift[:, 1:]) + 1) / w - 1
    grid = torch.stack([gx[:, None, :].expand(n, h, w), gy[:, :, None].expand(n, h, w)], -1)
    ref = torch.nn.functional.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    torch.testing.assert_close(warp(x, shift), ref, rtol=0, atol=1e-5)


def test_aligned_neighbours_undo_a_shaking_camera() -> None:
    big = texture(80, 80, seed=4)
    offsets = [(10, 10), (12, 9), (11, 11), (9, 12)]  # each frame's crop origin (y, x) on the canvas
    frames = torch.stack([big[y:y + 48, x:x + 48] for y, x in offsets])[None, :, None].repeat(1, 1, 3, 1, 1)
    prev, nxt = aligned_neighbours(frames, reach=3)  # (1, 4, 3, 48, 48) each
    assert prev.shape == nxt.shape == frames.shape
    inner = (slice(None), slice(None), slice(None), slice(4, 44), slice(4, 44))
    for i in range(4):  # away from the edges each neighbour, moved into frame i's camera, is frame i
        torch.testing.assert_close(prev[:, i][inner[:1] + inner[2:]], frames[:, i][inner[:1] + inner[2:]],
                                   rtol=0, atol=2e-3)
        torch.testing.assert_close(nxt[:, i][inner[:1] + inner[2:]], frames[:, i][inner[:1] + inner[2:]],
                                   rtol=0, atol=2e-3)
    torch.testing.assert_close(prev[:, 0], frames[:, 0], rtol=0, atol=0)  # the ends: the frame itself
    torch.testing.assert_close(nxt[:, -1], frames[:, -1], rtol=0, atol=0)
    assert not torch.allclose(frames[:, 1], frames[:, 0])  # the camera really moved


def test_too_small_frames_are_refused() -> None:
    x = torch.zeros(1, 6, 6)
    with pytest.raises(ValueError, match="too small"):
        shift_costs(x, x, 3)


def test_a_strided_search_is_the_mean_over_every_s_th_row_and_column_of_the_interior() -> None:
    ref = texture(16, 18, seed=3)[None]
    mov = texture(16, 18, seed=4)[None]
    got = shift_costs(ref, mov, 2, stride=3)
    assert got.shape == (1, 5, 5)
    ys, xs = range(2, 14, 3), range(2, 16, 3)  # rows 2 5 8 11, columns 2 5 8 11 14 of the 12 x 14 interior
    for dy in range(-2, 3):
        for dx in range(-2, 3):
            want = sum(abs(ref[0, y, x] - mov[0, y + dy, x + dx]) for y in ys for x in xs) / (len(ys) * len(xs))
            torch.testing.assert_close(got[0, dy + 2, dx + 2], want, rtol=1e-6, atol=0)
    torch.testing.assert_close(shift_costs(ref, mov, 2, stride=1), shift_costs(ref, mov, 2), rtol=0, atol=0)


@pytest.mark.parametrize("dy,dx", [(1, -3), (-2, 2)])
def test_a_stride_two_search_finds_integer_shifts(dy: int, dx: int) -> None:
    big = texture(60, 60, seed=1)
    ref = big[10:50, 10:50]
    mov = big[10 - dy:50 - dy, 10 - dx:50 - dx]
    s = estimate_shift(ref[None], mov[None], 3, stride=2)
    torch.testing.assert_close(s, torch.tensor([[float(dy), float(dx)]]), rtol=0, atol=0.05)


def test_a_stride_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="stride"):
        shift_costs(texture()[None], texture()[None], 3, stride=0)
