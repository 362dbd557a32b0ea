"""Default video encoder, trained from scratch: a compact per-frame conv stem plus temporal mixing.

Input:  frames (b, t, c, h, w), c = 3, float in [0, 1] (uint8 in [0, 255] is accepted and scaled),
        optional times (b, t) in seconds, optional valid (b, t) bool (True = a real frame, not padding).
Output: ``VideoFeatures(features (b, t, d), times (b, t))``.

Per frame: ``len(EncoderConfig.video_channels)`` stages of stride-2 3x3 conv, GroupNorm, SiLU
(64x64 -> 8x8 in the ``small`` preset, about 10 M multiply-adds per frame), global average pooling and
a linear map to d. Across frames: ``EncoderConfig.temporal_layers`` residual blocks of
LayerNorm -> temporal conv (kernel 3) -> GELU -> linear, so each feature sees its neighbours and frame
differences (motion) become visible to later layers. Padded frames are zeroed before every temporal
conv so they never leak into valid ones.

Timestamps default to the centre of each frame's display interval, ``(i + 0.5) / fps``
(``openfoley.nn.patches.centre_times``), the convention audio tokens share.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from openfoley.config import Config
from openfoley.features.stabilise import aligned_neighbours
from openfoley.nn.patches import centre_times


@dataclass(frozen=True)
class VideoFeatures:
    """features (b, t, d); times (b, t) seconds on the shared time axis."""

    features: Tensor
    times: Tensor


def as_unit_frames(frames: Tensor) -> Tensor:
    """(b, t, c, h, w) uint8 or float -> float32 in [0, 1] (uint8 divided by 255, floats as given)."""
    if frames.dtype == torch.uint8:
        return frames.float() / 255.0
    return frames.float()


def check_frames(frames: Tensor, size: int | None = None, channels: int = 3) -> None:
    if frames.dim() != 5 or frames.shape[2] != channels:
        raise ValueError(f"frames {tuple(frames.shape)} must be (b, t, c={channels}, h, w)")
    if size is not None and tuple(frames.shape[-2:]) != (size, size):
        raise ValueError(f"frames {tuple(frames.shape)} must be {size}x{size} (video.size)")


def default_times(frames_or_feats: Tensor, fps: float) -> Tensor:
    """(b, t) centre-of-interval timestamps for a uniform stream at ``fps``."""
    b, t = frames_or_feats.shape[:2]
    return centre_times(t, 1.0 / fps, batch=b, device=frames_or_feats.device)


class TemporalMixer(nn.Module):
    """Residual temporal conv blocks over (b, t, d), padding-safe."""

    def __init__(self, dim: int, layers: int, kernel: int = 3):
        super().__init__()
        self.norms = nn.ModuleList(nn.LayerNorm(dim) for _ in range(layers))
        self.convs = nn.ModuleList(nn.Conv1d(dim, dim, kernel, padding=kernel // 2) for _ in range(layers))
        self.outs = nn.ModuleList(nn.Linear(dim, dim) for _ in range(layers))
        self.act = nn.GELU()

    def forward(self, x: Tensor, valid: Tensor | None = None) -> Tensor:
        """x (b, t, d), valid (b, t) bool or None -> (b, t, d)."""
        keep = None if valid is None else valid[..., None].to(x.dtype)  # (b, t, 1)
        for norm, conv, out in zip(self.norms, self.convs, self.outs, strict=True):
            h = norm(x)
            if keep is not None:
                h = h * keep
            h = conv(h.transpose(1, 2)).transpose(1, 2)  # (b, t, d)
            x = x + out(self.act(h))
        return x


class VideoEncoder(nn.Module):
    """Base of every video encoder: a per-frame network, then a padding-safe temporal mixer.

    ``frame_features(frames) -> (b, t, d)`` looks at each frame alone; ``mix(x, valid)`` mixes across
    time and never lets a frame with ``valid=False`` influence another. MMA uses the split to hide
    masked frames from the mixer while running the expensive per-frame part once
    (``openfoley.alignment.mma.run_mma``).
    """

    fps: float
    size: int
    width: int
    temporal: TemporalMixer
    # frames on each side whose pixels the motion part of frame i reads: (before, after). MMA hides frame
    # i's motion wherever one of them is masked (``openfoley.alignment.mma.run_mma``).
    motion_reach: tuple[int, int] = (1, 0)

    def _setup(self, cfg: Config) -> None:
        """fps, size and width from ``cfg``, and the temporal mixer: the set-up every encoder shares."""
        self.fps = float(cfg.video.fps)
        self.size = int(cfg.video.size)
        self.width = int(cfg.encoder.width)
        self.temporal = TemporalMixer(self.width, cfg.encoder.temporal_layers)

    def frame_features(self, frames: Tensor) -> Tensor:  # (b, t, c, h, w) -> (b, t, d)
        raise NotImplementedError

    def frame_parts(self, frames: Tensor) -> tuple[Tensor, Tensor | None]:
        """(appearance (b, t, d), motion (b, t, d) or None); ``frame_features`` is their sum.

        Motion of frame i is computed from frames i-1 and i, so it reveals frame i-1: MMA hides it
        wherever frame i-1 is masked (``openfoley.alignment.mma.run_mma``). Encoders without a motion
        path return (frame_features, None).
        """
        return self.frame_features(frames), None

    def mix(self, x: Tensor, valid: Tensor | None = None) -> Tensor:
        """x (b, t, d), valid (b, t) bool -> (b, t, d); invalid frames are zeroed, then mixed."""
        if valid is not None:
            if tuple(valid.shape) != tuple(x.shape[:2]) or valid.dtype != torch.bool:
                raise ValueError(f"valid {valid.dtype} {tuple(valid.shape)} must be bool (b, t) for {tuple(x.shape)}")
            x = x * valid[..., None].to(x.dtype)
        return self.temporal(x, valid)

    def forward(self, frames: Tensor, times: Tensor | None = None, valid: Tensor | None = None) -> VideoFeatures:
        """frames (b, t, 3, h, w), times (b, t) s or None, valid (b, t) or None -> VideoFeatures."""
        check_frames(frames, self.size)
        b, t = frames.shape[:2]
        if times is None:
            times = default_times(frames, self.fps)
        if tuple(times.shape) != (b, t):
            raise ValueError(f"times {tuple(times.shape)} must be (b, t) = {(b, t)} for frames {tuple(frames.shape)}")
        return VideoFeatures(features=self.mix(self.frame_features(frames), valid), times=times)


class ConvVideoEncoder(VideoEncoder):
    """frames (b, t, 3, h, w) -> VideoFeatures((b, t, d), (b, t)). Built from ``Config``."""

    def __init__(self, cfg: Config):
        super().__init__()
        enc = cfg.encoder
        self._setup(cfg)
        stages: list[nn.Module] = []
        c_in = 3
        for c in enc.video_channels:
            stages += [nn.Conv2d(c_in, c, 3, stride=2, padding=1), nn.GroupNorm(min(8, c), c), nn.SiLU()]
            c_in = c
        self.stem = nn.Sequential(*stages)
        self.proj = nn.Linear(c_in, enc.width)

    def frame_features(self, frames: Tensor) -> Tensor:
        """(b, t, 3, h, w) -> (b, t, d), each frame on its own."""
        check_frames(frames, self.size)
        b = frames.shape[0]
        x = as_unit_frames(frames) * 2 - 1  # [-1, 1]
        x = rearrange(x, "b t c h w -> (b t) c h w")
        x = self.stem(x).mean(dim=(-2, -1))  # (b t, c_last)
        return rearrange(self.proj(x), "(b t) d -> b t d", b=b)  # (b, t, d)


class PatchVideoEncoder(VideoEncoder):
    """Patch appearance + frame-difference motion, on a coarse spatial grid (``encoder.video = "patch"``).

    frames (b, t, 3, h, w) -> VideoFeatures((b, t, d), (b, t)). Per frame, two paths with the same
    layout and their own weights:

      appearance  x_i = frame i in [-1, 1]
      motion      x_i = frame i - frame i-1 (frame -1 := frame 0, so the first frame has no motion)

    each cut into non-overlapping P x P pixel patches (P = h / 8; 8 x 8 patches at 64 px), a linear
    map of each patch (3 P^2 values) to c = ``encoder.video_channels[-1]`` channels, GELU, a second
    linear map and GELU, average-pooled to a ``G x G`` grid of cells (G = 4) and flattened, then one
    linear map to d. Keeping the grid (instead of a global average) lets later layers see *where*
    things move, and the difference path gives the frame-to-frame change an event makes (contacts,
    flashes, mouths) directly: docs/sync-diagnosis.md has the probes that led here. Every operation is a
    matrix multiply, about 5x cheaper per training step than the conv stem at 64 px on a CPU.

    The temporal mixer is the conv encoder's (``EncoderConfig.temporal_layers``).
    """

    GRID = 4
    PATCHES = 8

    def __init__(self, cfg: Config):
        super().__init__()
        enc = cfg.encoder
        self._setup(cfg)
        if self.size % self.PATCHES or self.PATCHES % self.GRID:
            raise ValueError(f"patch video encoder needs video.size divisible by {self.PATCHES}, got {self.size}")
        self.patch = self.size // self.PATCHES
        c = int(enc.video_channels[-1])
        dim_in = 3 * self.patch * self.patch

        def path() -> nn.ModuleDict:
            return nn.ModuleDict({"embed": nn.Linear(dim_in, c), "hidden": nn.Linear(c, c),
                                  "out": nn.Linear(self.GRID * self.GRID * c, enc.width)})

        self.appearance = path()
        self.motion = path()

    def _path(self, p: nn.ModuleDict, x: Tensor) -> Tensor:
        """x (b, t, 3, h, w) -> (b, t, d)."""
        b, t = x.shape[:2]
        g = self.PATCHES // self.GRID
        z = rearrange(x, "b t c (gh ph) (gw pw) -> b t gh gw (c ph pw)", ph=self.patch, pw=self.patch)
        z = F.gelu(p["hidden"](F.gelu(p["embed"](z))))  # (b, t, 8, 8, c)
        z = rearrange(z, "b t (gh a) (gw e) c -> b t gh gw (a e) c", a=g, e=g).mean(-2)  # (b, t, G, G, c)
        return p["out"](z.flatten(2))  # (b, t, d)

    def frame_parts(self, frames: Tensor) -> tuple[Tensor, Tensor]:
        check_frames(frames, self.size)
        x = as_unit_frames(frames) * 2 - 1  # (b, t, 3, h, w) in [-1, 1]
        prev = torch.cat([x[:, :1], x[:, :-1]], 1)
        return self._path(self.appearance, x), self._path(self.motion, x - prev)

    def frame_features(self, frames: Tensor) -> Tensor:
        """(b, t, 3, h, w) -> (b, t, d): appearance of each frame plus its change from the previous one."""
        a, m = self.frame_parts(frames)
        return a + m


class MotionVideoEncoder(VideoEncoder):
    """Local motion before pooling: where something moves, and whether it stops (``encoder.video = "motion"``).

    frames (b, t, 3, h, w) -> VideoFeatures((b, t, d), (b, t)). The frames are average-pooled by
    q = ``encoder.motion_pool`` (2: to s = 32 px at 64 px; 1: not at all) and cut into non-overlapping
    p x p patches, p = 8 / q, each covering 8 x 8 pixels of the input: an (h/8)^2 grid whatever q. Two
    paths, summed:

      appearance  patch of frame i (3 p^2 values: 48 at q = 2) -> MLP (2 layers, c =
                  ``encoder.video_channels[-1]``) -> mean over patches -> linear to d
      motion      the same patch of d_prev = x_i - x_{i-1} and d_next = x_{i+1} - x_i (6 p^2 values; the
                  first frame has no d_prev, the last no d_next) -> MLP -> **max and mean** over
                  patches -> linear to d

    An event is local and brief: a falling object stops on the ground, a stick meets a drum, a mouth
    opens. Seeing d_prev and d_next of the *same* patch together lets the MLP respond to a change of
    motion there (moving into the frame, still after it: the contact), and the max over patches keeps
    a small object's response from being averaged away by the rest of the frame; the patch encoder
    (``PatchVideoEncoder``) only had d_prev, averaged over 16 x 16 pixel cells before any nonlinearity
    could compare frames. docs/sync-diagnosis.md part 7 measures both as onset detectors.

    Pooling is linear, so a pool-2 encoder is a pool-1 encoder whose first layers give each input pixel
    a quarter of its pooled pixel's weight (``unpool_state``): pool 1 can start from a trained pool-2
    model with the same outputs and then learn detail the 32 px view averaged away (a walker's foot).

    The motion of frame i reads frames i-1 and i+1 (``motion_reach = (1, 1)``), which MMA hides where
    either is masked. Matrix multiplies only: about 1 M multiply-adds per frame at 64 px, pool 2.
    """

    CELL = 8  # input pixels per patch side
    motion_reach = (1, 1)

    def __init__(self, cfg: Config):
        super().__init__()
        self._setup(cfg)
        self.pool = int(cfg.encoder.motion_pool)
        if self.pool > self.CELL or self.CELL % self.pool:
            raise ValueError(f"motion video encoder needs encoder.motion_pool dividing {self.CELL}, got {self.pool}")
        self.PATCH = self.CELL // self.pool
        if self.size % self.CELL:
            raise ValueError(f"motion video encoder needs video.size divisible by {self.CELL}, got {self.size}")
        c = int(cfg.encoder.video_channels[-1])
        dim = 3 * self.PATCH * self.PATCH
        self.app_embed = nn.Sequential(nn.Linear(dim, c), nn.GELU(), nn.Linear(c, c), nn.GELU())
        self.app_out = nn.Linear(c, self.width)
        self.mot_embed = nn.Sequential(nn.Linear(2 * dim, c), nn.GELU(), nn.Linear(c, c), nn.GELU())
        self.mot_out = nn.Linear(2 * c, self.width)

    def _patches(self, x: Tensor) -> Tensor:
        """(b, t, 3, s, s) -> (b, t, patches, 3 * 4 * 4)."""
        return rearrange(x, "b t c (gh ph) (gw pw) -> b t (gh gw) (c ph pw)", ph=self.PATCH, pw=self.PATCH)

    def frame_parts(self, frames: Tensor) -> tuple[Tensor, Tensor]:
        check_frames(frames, self.size)
        return self._parts(as_unit_frames(frames) * 2 - 1)

    def _parts(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """frames (b, t, 3, h, w) in [-1, 1] -> (appearance, motion), each (b, t, d)."""
        b = x.shape[0]
        if self.pool > 1:
            x = F.avg_pool2d(x.flatten(0, 1), self.pool).unflatten(0, (b, -1))  # (b, t, 3, s, s), s = h / q
        d = x[:, 1:] - x[:, :-1]  # (b, t-1, 3, s, s): d[i] = x[i+1] - x[i]
        zero = torch.zeros_like(x[:, :1])
        d_prev = torch.cat([zero, d], 1)
        d_next = torch.cat([d, zero], 1)
        a = self.app_out(self.app_embed(self._patches(x)).mean(2))  # (b, t, d)
        m = self.mot_embed(torch.cat([self._patches(d_prev), self._patches(d_next)], -1))  # (b, t, P, c)
        m = self.mot_out(torch.cat([m.amax(2), m.mean(2)], -1))  # (b, t, d)
        return a, m

    def frame_features(self, frames: Tensor) -> Tensor:
        """(b, t, 3, h, w) -> (b, t, d): appearance plus local motion around frame i."""
        a, m = self.frame_parts(frames)
        return a + m


class WindowVideoEncoder(MotionVideoEncoder):
    """The motion encoder plus a local path over three frames at the full resolution (``encoder.video = "window"``).

    frames (b, t, 3, h, w) -> VideoFeatures((b, t, d), (b, t)). Appearance and motion as
    ``MotionVideoEncoder`` (at ``encoder.motion_pool``), plus, at the full resolution:

      window  [x_i, x_i - x'_{i-1}, x'_{i+1} - x_i] (9 channels) -> three 3 x 3 convolutions of stride 2,
              each followed by GELU (c/2, c/2, c channels, c = ``encoder.video_channels[-1]``: an
              (h/8)^2 grid of cells that each see a 15 x 15-pixel window) -> max and mean over the grid
              -> linear to d, zero at initialisation. x'_{i-1}, x'_{i+1}: the neighbours moved into frame
              i's camera by a global shift estimated from the pixels (``encoder.window_stabilise``,
              ``openfoley.features.stabilise``); without it the plain neighbours.

    A walker's foot landing is a few pixels: one foot comes down while the other lifts, both within a
    window around the feet. docs/sync-diagnosis.md part 14 has a crop oracle that reads it at AP 0.91
    from the model's own 64 px, 12.5 fps frames. The motion encoder's 8 x 8-pixel patches do not learn
    it, even from the true labels. Small kernels make the path the same wherever the walker stands.
    Inside joint training it did not learn the landing (500 steps of the built-in model's training left
    it flat); trained alone on fresh renders, with the camera shake taken out of its differences, it
    does (part 15), so it is pretrained first (``scripts/pretrain-window-path.py``). It starts at zero,
    so a trained motion model loaded into this encoder computes exactly what it did
    (``scripts/add-window-path.py``), and training adds the path from there. About 6 M multiply-adds per
    frame at 64 px, c = 64, plus about (2 * 3 + 1)^2 * 3 h w for the shift search.
    """

    def __init__(self, cfg: Config):
        super().__init__(cfg)
        c = int(cfg.encoder.video_channels[-1])
        self.win_convs = nn.ModuleList([nn.Conv2d(9, c // 2, 3, stride=2, padding=1),
                                        nn.Conv2d(c // 2, c // 2, 3, stride=2, padding=1),
                                        nn.Conv2d(c // 2, c, 3, stride=2, padding=1)])
        self.stabilise = bool(cfg.encoder.window_stabilise)
        self.search_stride = int(cfg.encoder.window_search_stride)
        self.pooled_width = 2 * c  # c2: the width of window_features
        self.win_out = nn.Linear(2 * c, self.width)
        nn.init.zeros_(self.win_out.weight)
        nn.init.zeros_(self.win_out.bias)

    def window_part(self, frames: Tensor) -> Tensor:
        """(b, t, 3, h, w) -> (b, t, d): the window path alone."""
        return self.win_out(self.window_features(frames))

    def window_features(self, frames: Tensor) -> Tensor:
        """(b, t, 3, h, w) -> (b, t, 2c): the window path's pooled cells, before its output layer (what
        ``openfoley.training.window`` pretrains)."""
        return self._pooled(as_unit_frames(frames) * 2 - 1)

    def _pooled(self, x: Tensor) -> Tensor:
        """frames (b, t, 3, h, w) in [-1, 1] -> (b, t, 2c): max and mean of the cells over the grid."""
        b = x.shape[0]
        if self.stabilise:
            prev, nxt = aligned_neighbours(x, stride=self.search_stride)  # (b, t, 3, h, w) each; frame i itself at the ends
        else:
            prev, nxt = torch.cat([x[:, :1], x[:, :-1]], 1), torch.cat([x[:, 1:], x[:, -1:]], 1)
        z = torch.cat([x, x - prev, nxt - x], 2).flatten(0, 1)  # (b t, 9, h, w); zero differences at the ends
        for conv in self.win_convs:
            z = F.gelu(conv(z))  # -> (b t, c, h/8, w/8)
        return torch.cat([z.amax((-2, -1)), z.mean((-2, -1))], -1).unflatten(0, (b, -1))  # (b, t, 2c)

    def frame_parts(self, frames: Tensor) -> tuple[Tensor, Tensor]:
        check_frames(frames, self.size)
        x = as_unit_frames(frames) * 2 - 1  # converted once for both parts
        a, m = self._parts(x)
        return a, m + self.win_out(self._pooled(x))


def unpool_motion_state(state: dict[str, Tensor], k: int) -> dict[str, Tensor]:
    """A motion encoder's state at ``motion_pool`` q -> the same function at pool q / k.

    Every ``app_embed.0.weight`` (c, 3 p^2) and ``mot_embed.0.weight`` (c, 2 * 3 p^2) becomes (c, [2 *] 3
    (k p)^2): each of the k x k input pixels that an average-pool of factor k merged gets 1 / k^2 of the
    merged pixel's weight, so the layer's output is unchanged on every input. Other tensors are shared.
    """
    if k < 1:
        raise ValueError(f"unpool factor must be >= 1, got {k}")
    out = dict(state)
    for key, w in state.items():
        if not key.endswith(("app_embed.0.weight", "mot_embed.0.weight")):
            continue
        parts = 2 if key.endswith("mot_embed.0.weight") else 1
        p = round((w.shape[1] / (3 * parts)) ** 0.5)
        if 3 * parts * p * p != w.shape[1]:
            raise ValueError(f"{key}: {tuple(w.shape)} is not a motion encoder's first layer")
        x = w.reshape(w.shape[0], parts, 3, p, p).repeat_interleave(k, -1).repeat_interleave(k, -2) / (k * k)
        out[key] = x.reshape(w.shape[0], -1).contiguous()
    return out
