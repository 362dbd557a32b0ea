"""The appearance path: *what* is in the frames, for the generator's condition (``encoder.appearance``).

The video encoders and MMA were built to find *when* something happens; a class probe found their
output holds no more of the sounding object's class than a thumbnail (docs/sync-diagnosis.md part 17),
and the generator made the same generic thud for every clip. This path is a small CNN that looks at
single frames at the model's full size and says what is there:

    frames (b, t, 3, H, W) in [0, 1] ──every `stride`-th frame──> (b, t', 3, H, W), t' = ceil(t / stride)
        ──3 x [3 x 3 conv, stride 2, GELU] (channels encoder.appearance_channels)──> (b*t', c, H/8, W/8)
        ──max and mean over the grid──> (b*t', 2c) ──linear──> (b, t', e)   e = encoder.appearance_dim
        ──scaled to length sqrt(e) (root-mean-square 1 per channel)──> (b, t', e)
        ──linear interpolation back to the t frame centres──> (b, t, e)

The scaling matters: the contrastive objective only fixes each embedding's direction, and the pretrained
tower's raw embeddings came out at root-mean-square 0.12 against the aligned features' 0.89, so the
zero-initialised projection had to grow for thousands of steps before the generator saw anything
(docs/sync-diagnosis.md part 18).

Its weights are learned from co-occurrence alone (no labels, no text): ``openfoley.training.appearance``
trains it contrastively against a small audio tower, so that a clip's frames and its own sound map
close together and other clips' sounds far apart (``scripts/pretrain-appearance.py``). The model adds
``FoleyModel.appearance_proj`` (e -> the condition width, zero at start) of it to every frame's
condition, so a model joined with the path computes what it computed before until training teaches the
generator to use it (``scripts/add-appearance-path.py``). With ``encoder.appearance_train = False``
(the default) the tower stays as pretrained and is run without gradients in the training step.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class AppearanceEncoder(nn.Module):
    """Frames (b, t, 3, H, W) float in [0, 1] -> per-frame appearance embeddings (b, t, e)."""

    def __init__(self, channels: tuple[int, ...] = (32, 64, 128), dim: int = 128, stride: int = 4):
        super().__init__()
        chans = (3, *channels)
        self.convs = nn.ModuleList(nn.Conv2d(a, b, 3, stride=2, padding=1)
                                   for a, b in zip(chans[:-1], chans[1:], strict=True))
        self.out = nn.Linear(2 * chans[-1], dim)
        self.stride = stride
        self.dim = dim

    def embed(self, x: Tensor) -> Tensor:
        """Single frames (n, 3, H, W) in [0, 1] -> raw embeddings (n, e) (what contrastive pretraining trains)."""
        x = x - 0.5
        for conv in self.convs:
            x = F.gelu(conv(x))
        return self.out(torch.cat([x.amax((-2, -1)), x.mean((-2, -1))], -1))

    def sampled(self, t: int) -> Tensor:
        """The frame indices the path looks at for a window of t frames: 0, stride, 2 stride, ..."""
        return torch.arange(0, t, self.stride)

    def forward(self, frames: Tensor) -> Tensor:
        b, t = frames.shape[:2]
        idx = self.sampled(t).to(frames.device)
        picked = frames.index_select(1, idx)  # (b, t', 3, H, W)
        emb = self.embed(picked.flatten(0, 1)).unflatten(0, (b, len(idx)))  # (b, t', e)
        emb = F.normalize(emb, dim=-1) * math.sqrt(self.dim)  # rms 1 per channel, as the condition's scale
        return spread(emb, idx, t)


def spread(emb: Tensor, idx: Tensor, t: int) -> Tensor:
    """Embeddings (b, t', e) of frames ``idx`` (t',) -> (b, t, e) at every frame: linear interpolation
    between the sampled frames, held constant past the last one."""
    if len(idx) == t:
        return emb
    pos = torch.arange(t, device=emb.device, dtype=emb.dtype)
    step = float(idx[1] - idx[0]) if len(idx) > 1 else 1.0
    f = (pos / step).clamp(max=len(idx) - 1)  # (t,) fractional index into the sampled frames
    lo = f.floor().long()
    hi = (lo + 1).clamp(max=len(idx) - 1)
    w = (f - lo.to(f.dtype))[None, :, None]  # (1, t, 1)
    return emb[:, lo] * (1 - w) + emb[:, hi] * w
