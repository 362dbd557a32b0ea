"""Selective key-frame conditioning: a saliency score per frame, then a budget of k frames (sec. 3.3).

Input:  frames (b, t, 3, h, w) in [0, 1] (uint8 accepted), their timestamps (b, t) in seconds.
Output: ``KeyFrames(indices (b, k) sorted ascending, times (b, k) = the true timestamps of those
        frames, saliency (b, t))``; ``gather(features (b, t, d), indices) -> (b, k, d)``.

Saliency (``frame_saliency``), all terms "onset" style: frame i is scored by how it differs from
frame i - 1, so the first frame showing an impact or a cut scores high (frame 0 scores 0):
  - motion energy: mean absolute pixel difference to the previous frame;
  - scene change: total-variation distance (half the L1 distance, in [0, 1]) between the previous
    and current frame's per-channel intensity histograms (16 bins per channel, averaged over channels).
Each term is divided by its per-clip maximum (so both live in [0, 1] whatever the footage), then
``saliency = motion_weight * motion + scene_weight * scene`` (``KeyFrameConfig``).

Selection (``select_key_frames``): the k highest scores, returned in time order. Ties (a static clip
scores 0 everywhere) are broken towards k evenly spaced frames, so a clip without motion is still
covered uniformly. k = ``Config.key_frames`` (budget as a fraction of t or a count, at least
``min_frames``); ``select_budget`` computes it for clips of another length.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from openfoley.config import Config, KeyFrameConfig
from openfoley.encoders.video import as_unit_frames, check_frames

HIST_BINS = 16


@dataclass(frozen=True)
class KeyFrames:
    """indices (b, k) ascending; times (b, k) seconds; saliency (b, t)."""

    indices: Tensor
    times: Tensor
    saliency: Tensor


def motion_energy(frames: Tensor) -> Tensor:
    """(b, t, c, h, w) -> (b, t): mean |frame_i - frame_{i-1}|, 0 for frame 0."""
    x = as_unit_frames(frames)
    d = (x[:, 1:] - x[:, :-1]).abs().mean(dim=(2, 3, 4))  # (b, t-1)
    return torch.cat([d.new_zeros(d.shape[0], 1), d], dim=1)


def histograms(frames: Tensor, bins: int = HIST_BINS) -> Tensor:
    """(b, t, c, h, w) in [0, 1] -> (b, t, c, bins) normalised intensity histograms."""
    x = as_unit_frames(frames).clamp(0, 1)
    idx = (x * bins).long().clamp_max(bins - 1).flatten(3)  # (b, t, c, h*w)
    hist = torch.zeros(*idx.shape[:3], bins, dtype=torch.float32, device=x.device)
    hist.scatter_add_(3, idx, torch.ones_like(idx, dtype=torch.float32))
    return hist / idx.shape[-1]


def scene_change(frames: Tensor, bins: int = HIST_BINS) -> Tensor:
    """(b, t, c, h, w) -> (b, t): histogram total-variation distance to the previous frame, 0 for frame 0."""
    h = histograms(frames, bins)
    d = 0.5 * (h[:, 1:] - h[:, :-1]).abs().sum(-1).mean(-1)  # (b, t-1), in [0, 1]
    return torch.cat([d.new_zeros(d.shape[0], 1), d], dim=1)


def _unit(x: Tensor) -> Tensor:
    """Divide each row by its maximum (rows of zeros stay zero)."""
    return x / x.amax(dim=1, keepdim=True).clamp_min(1e-12)


def frame_saliency(frames: Tensor, cfg: KeyFrameConfig) -> Tensor:
    """(b, t, 3, h, w) -> (b, t) saliency = w_m * motion / max + w_s * scene / max."""
    check_frames(frames)
    return cfg.motion_weight * _unit(motion_energy(frames)) + cfg.scene_weight * _unit(scene_change(frames))


def select_budget(t: int, cfg: KeyFrameConfig) -> int:
    """k for a clip of t frames: ``budget`` as a fraction (< 1) or a count (>= 1), within [min_frames, t]."""
    k = round(cfg.budget * t) if cfg.budget < 1 else int(cfg.budget)
    return max(min(cfg.min_frames, t), min(k, t))


def select_key_frames(saliency: Tensor, times: Tensor, k: int) -> KeyFrames:
    """saliency (b, t), times (b, t) -> the k most salient frames, in time order, with their times."""
    b, t = saliency.shape
    if times.shape != (b, t) or not 1 <= k <= t:
        raise ValueError(f"saliency {tuple(saliency.shape)}, times {tuple(times.shape)}, k={k}: need equal (b, t), 1 <= k <= t")
    spread = torch.zeros(t, device=saliency.device)
    spread[torch.linspace(0, t - 1, k, device=saliency.device).round().long()] = 1.0
    # Tie-break: 1e-6 is far below any real difference of the unit-scaled saliency, and exact in fp32.
    score = saliency.float() + 1e-6 * spread
    # Equal scores go to the earlier frame: 1e-12 per frame index in float64 is below any difference of
    # two float32 scores near the unit scale, and it makes the choice independent of how a top-k breaks
    # ties (torch's and ONNX Runtime's differ; the lite runtime, openfoley.lite, must pick the same).
    order = torch.arange(t, device=saliency.device, dtype=torch.float64)
    idx = (score.double() - 1e-12 * order).topk(k, dim=1).indices.sort(dim=1).values  # (b, k)
    return KeyFrames(indices=idx, times=times.gather(1, idx), saliency=saliency)


def gather(features: Tensor, indices: Tensor) -> Tensor:
    """features (b, t, d), indices (b, k) -> (b, k, d)."""
    if features.dim() != 3 or indices.shape[0] != features.shape[0]:
        raise ValueError(f"features {tuple(features.shape)} must be (b, t, d) and indices (b, k), got {tuple(indices.shape)}")
    return features.gather(1, indices[..., None].expand(-1, -1, features.shape[-1]))


def key_frames(frames: Tensor, times: Tensor, cfg: Config) -> KeyFrames:
    """Saliency and selection in one call, budget from ``cfg.keyframes`` for this clip's t."""
    return select_key_frames(frame_saliency(frames, cfg.keyframes), times, select_budget(int(frames.shape[1]), cfg.keyframes))


def nearest_in_time(features: Tensor, times: Tensor, query_times: Tensor) -> Tensor:
    """features (b, t, d) at times (b, t) -> (b, q, d): for each query time, the feature of the nearest
    frame (earlier frame on a tie). Builds the per-audio-token video condition from (key) frames."""
    if features.dim() != 3 or times.shape != features.shape[:2] or query_times.shape[0] != features.shape[0]:
        raise ValueError(f"features {tuple(features.shape)}, times {tuple(times.shape)}, "
                         f"query_times {tuple(query_times.shape)}: need (b, t, d), (b, t), (b, q)")
    dist = (query_times[:, :, None] - times[:, None, :]).abs()  # (b, q, t)
    return gather(features, dist.argmin(dim=-1))
