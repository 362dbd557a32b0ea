"""The event path (``alignment.event_path``): a video side of its own for the onset track.

frames (b, t, 3, h, w) -> onset track (b, t): a second video encoder (``encoder.video``), a second
cross-modal transformer run on the video alone (as ``MMA.align`` runs the model's at inference) and a
second onset head (``alignment.onset_head_kernel``), trained on the onset target
(``openfoley.alignment.mma.onset_target``, the audio's own onset strength per frame: no label from the
renderer) and nothing else.

Why a copy: the onset head's peaks are the events onset guidance pulls the sound to, and the head reads
MMA's aligned features, which also condition the generator. One video side serves both jobs, so a
video side trained further for the events would move the generator's condition too. The event path
starts as an exact copy of the model's video side (``copy_from``: the same track to the last bit) and
is then trained alone (``scripts/fit-event-path.py``), with the generator and its condition untouched;
``openfoley train`` trains it beside everything else on the same target. docs/sync-diagnosis.md part 29
measures it on the falling-object contacts.

``mix_coarse`` is ``alignment.event_pair``'s rule: the mean of a fine path's track and a coarse one's
(docs/sync-diagnosis.md part 35 measured it on the video events before it was a model).
"""

from __future__ import annotations

from dataclasses import replace

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from openfoley.alignment.mma import MMA, build_onset_head, onset_target
from openfoley.alignment.transformer import CrossModalTransformer
from openfoley.config import Config
from openfoley.encoders import build_video_encoder
from openfoley.encoders.video import VideoEncoder, default_times


class EventPath(nn.Module):
    """frames (b, t, 3, h, w) uint8 or unit floats, times (b, t) s or None -> onset track (b, t)."""

    def __init__(self, cfg: Config):
        super().__init__()
        a = cfg.alignment
        self.fps = float(cfg.video.fps * cfg.event_rate)  # alignment.event_fps, or the model's own rate
        if a.event_search_stride is not None:  # the path's own shift search (docs/sync-diagnosis.md part 38)
            cfg = replace(cfg, encoder=replace(cfg.encoder, window_search_stride=a.event_search_stride))
        self.video_encoder = build_video_encoder(cfg)
        self.transformer = CrossModalTransformer(cfg)
        self.onset_head = build_onset_head(cfg.encoder.width, a.onset_head_kernel, a.onset_head_width)

    def forward(self, frames: Tensor, times: Tensor | None = None) -> Tensor:
        if times is None:
            times = default_times(frames, self.fps)
        feats = self.video_encoder(frames, times).features  # (b, t, d)
        b, _, d = feats.shape
        video = self.transformer(feats, times, feats.new_zeros(b, 0, d), times.new_zeros(b, 0)).video
        return self.onset_head(video)[..., 0]  # (b, t)

    def loss(self, frames: Tensor, mel: Tensor, times: Tensor | None = None) -> Tensor:
        """Mean squared error of the track against ``onset_target(mel, t)``; mel (b, f, m) normalised
        as the model's (``FoleyModel.model_mel``)."""
        track = self(frames, times)
        return F.mse_loss(track.float(), onset_target(mel, track.shape[1]).float())

    @torch.no_grad()
    def copy_from(self, video_encoder: VideoEncoder, mma: MMA) -> None:
        """Take a model's own video encoder, MMA transformer and onset head (``FoleyModel.video_encoder``,
        ``FoleyModel.mma``; the same architecture)."""
        if mma.onset_head is None:
            raise ValueError("the model has no onset head to copy")
        self.video_encoder.load_state_dict(video_encoder.state_dict())
        self.transformer.load_state_dict(mma.transformer.state_dict())
        self.onset_head.load_state_dict(mma.onset_head.state_dict())


def mix_coarse(fine: Tensor, coarse: Tensor) -> Tensor:
    """fine (b, k t), coarse (b, t) onset tracks of one span, values at frame centres -> their mean (b, k t):
    the coarse track linearly interpolated to the fine frames' centres, held flat before its first centre
    and after its last (``benchmarks/video_events.mix_tracks``'s rule)."""
    b, t = coarse.shape
    if fine.shape[0] != b or fine.shape[1] % t:
        raise ValueError(f"fine track (b, k t) and coarse track (b, t) of one span, got {tuple(fine.shape)} "
                         f"and {tuple(coarse.shape)}")
    # align_corners=False samples the source at (j + 0.5) / k - 0.5, clamped to the ends: np.interp's rule
    on_fine = F.interpolate(coarse[:, None].to(fine.dtype), size=fine.shape[1], mode="linear", align_corners=False)[:, 0]
    return 0.5 * (fine + on_fine)
