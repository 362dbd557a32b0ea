"""Dynamic, modality-specific masks for MMA (sec. 3.2). ``True`` = visible, ``False`` = masked.

Ratios: each example draws its own ratio per modality, ``r_i ~ U[r - j, r + j]`` clipped to [0, 1]
(``AlignmentConfig.mask_ratio`` r, ``ratio_jitter`` j). A ratio of exactly ``r = 0`` turns masking
off (no jitter), so ``mask_ratio=0`` means "nothing masked".

Counts are exact: an example of length L with ratio r_i has ``round(r_i * L)`` masked positions.

Audio (b, n): contiguous time spans. Span lengths are drawn from ``audio_span = (lo, hi)`` and then
adjusted to sum to the count while staying in [lo, hi]; the spans are placed in random order with at
least one visible token between neighbours (when the visible tokens allow), so every maximal masked
run is one span. If the count is below lo, one span of exactly the count is used.

Video (b, t): a mixture. ``round(video_single_fraction * count)`` frames are random single frames;
the rest are contiguous clips with lengths from ``video_clip`` placed like the audio spans. Singles
are drawn among the frames left visible by the clips (so the count stays exact).

Every function takes a ``torch.Generator``; draws happen on CPU and the masks are moved to ``device``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from openfoley.config import AlignmentConfig


@dataclass(frozen=True)
class Masks:
    """audio (b, n) and video (b, t) bool, True = visible; the per-example ratios drawn (b,) each."""

    audio: Tensor
    video: Tensor
    audio_ratio: Tensor
    video_ratio: Tensor


def sample_ratios(b: int, ratio: float, jitter: float, generator: torch.Generator) -> Tensor:
    """(b,) per-example ratios ~ U[ratio - jitter, ratio + jitter] clipped to [0, 1]; zeros if ratio == 0."""
    if not 0.0 <= ratio <= 1.0 or jitter < 0:
        raise ValueError(f"mask ratio must be in [0, 1] and jitter >= 0, got {ratio}, {jitter}")
    if ratio == 0.0:
        return torch.zeros(b)
    u = torch.rand(b, generator=generator) * 2 - 1  # U[-1, 1]
    return (ratio + jitter * u).clamp(0.0, 1.0)


def _span_lengths(count: int, lo: int, hi: int, generator: torch.Generator) -> list[int]:
    """Random lengths in [lo, hi] summing to ``count`` (one span of ``count`` if count < lo)."""
    if count <= 0:
        return []
    if count < lo:
        return [count]
    draws = torch.randint(lo, hi + 1, (count // lo + 1,), generator=generator).tolist()
    lengths: list[int] = []
    for x in draws:  # as many draws as it takes to reach the count
        if sum(lengths) >= count:
            break
        lengths.append(x)
    if len(lengths) * lo > count:  # too many spans to fit: drop one, then grow the rest below
        lengths.pop()
    excess = sum(lengths) - count  # > 0: shrink, < 0: grow, spreading over random spans
    order = torch.randperm(len(lengths), generator=generator).tolist()
    while excess != 0:
        moved = False
        for i in order:
            if excess > 0 and lengths[i] > lo:
                lengths[i] -= 1
                excess -= 1
                moved = True
            elif excess < 0 and lengths[i] < hi:
                lengths[i] += 1
                excess += 1
                moved = True
            if excess == 0:
                break
        if not moved:  # cannot stay within [lo, hi]: let the last span absorb the rest
            lengths[-1] -= excess
            excess = 0
    return lengths


def _place_spans(length: int, lengths: list[int], generator: torch.Generator,
                 blocked: Tensor | None = None) -> Tensor:
    """(length,) bool, True = masked: spans in random order, >= 1 free position between neighbours.

    Gaps: g_0, g_s >= 0 and inner gaps >= 1 (when the free positions allow), summing to the free
    count; the free surplus is split by a uniform random composition (stars and bars).
    """
    masked = torch.zeros(length, dtype=torch.bool)
    s = len(lengths)
    if s == 0:
        return masked
    free = length - sum(lengths)
    sep = 1 if free >= s - 1 else 0
    surplus = free - sep * (s - 1)
    # composition of `surplus` into s + 1 non-negative parts
    bars = torch.randperm(surplus + s, generator=generator)[:s].sort().values.tolist()
    parts, prev = [], -1
    for bar in bars:
        parts.append(bar - prev - 1)
        prev = bar
    parts.append(surplus + s - prev - 1)
    order = torch.randperm(s, generator=generator).tolist()
    pos = parts[0]
    for k, i in enumerate(order):
        masked[pos:pos + lengths[i]] = True
        pos += lengths[i] + parts[k + 1] + (sep if k < s - 1 else 0)
    return masked


def span_mask(ratios: Tensor, length: int, span: tuple[int, int], generator: torch.Generator) -> Tensor:
    """(b,) ratios -> (b, length) bool, True = visible; masked positions form contiguous spans."""
    lo, hi = span
    if not 1 <= lo <= hi:
        raise ValueError(f"span lengths must satisfy 1 <= lo <= hi, got {span}")
    rows = []
    for r in ratios.tolist():
        count = round(r * length)
        rows.append(~_place_spans(length, _span_lengths(count, lo, hi, generator), generator))
    return torch.stack(rows) if rows else torch.ones(0, length, dtype=torch.bool)


def video_mask(ratios: Tensor, length: int, single_fraction: float, clip: tuple[int, int],
               generator: torch.Generator) -> Tensor:
    """(b,) ratios -> (b, length) bool, True = visible: random single frames plus contiguous clips."""
    lo, hi = clip
    if not 1 <= lo <= hi or not 0.0 <= single_fraction <= 1.0:
        raise ValueError(f"need 1 <= clip lo <= hi and single_fraction in [0, 1], got {clip}, {single_fraction}")
    rows = []
    for r in ratios.tolist():
        count = round(r * length)
        singles = round(single_fraction * count)
        masked = _place_spans(length, _span_lengths(count - singles, lo, hi, generator), generator)
        free = (~masked).nonzero().flatten()
        pick = free[torch.randperm(len(free), generator=generator)[:singles]]
        masked[pick] = True
        rows.append(~masked)
    return torch.stack(rows) if rows else torch.ones(0, length, dtype=torch.bool)


def sample_masks(b: int, n: int, t: int, cfg: AlignmentConfig, generator: torch.Generator,
                 device: torch.device | str | None = None) -> Masks:
    """Draw one training step's masks: audio (b, n) spans, video (b, t) singles + clips."""
    ra = sample_ratios(b, cfg.mask_ratio, cfg.ratio_jitter, generator)
    rv = sample_ratios(b, cfg.mask_ratio, cfg.ratio_jitter, generator)
    audio = span_mask(ra, n, cfg.audio_span, generator)
    video = video_mask(rv, t, cfg.video_single_fraction, cfg.video_clip, generator)
    return Masks(audio=audio.to(device), video=video.to(device), audio_ratio=ra, video_ratio=rv)
