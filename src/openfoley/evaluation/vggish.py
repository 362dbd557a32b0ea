"""VGGish (Hershey et al. 2017), the AudioSet embedding network behind FAD, plus weight loading.

Input: log-mel patches (N, 1, 96, 64) from ``frontends.vggish_patches``; output: embeddings (N, 128).
Architecture (published sizes are the defaults): four conv stages of 3x3 convolutions (stride 1,
padding 1, ReLU) with 64 / 128 / 256x2 / 512x2 channels, each stage ending in a 2x2 max-pool, so a
96x64 patch becomes 512 x 6 x 4; flattened in (h, w, c) order (the order of the original TensorFlow
model, so converted weights line up); then fully connected 12288 -> 4096 -> 4096 -> 128 with ReLU
between. Parameter names follow the widely used PyTorch conversion of the published weights
(``features.{0,3,6,8,11,13}``, ``embeddings.{0,2,4}``), so its state dict loads as it is.

The final 128-d layer: Google's FAD uses it raw (no ReLU, no PCA/quantisation post-processing); the
PyTorch conversion appends a ReLU, which FAD toolkits built on it remove. ``final_relu=False`` (the
default) matches FAD; PCA post-processing is not implemented (FAD does not use it).

``load_weights`` reads a local ``.pt``/``.pth`` (``torch.load(weights_only=True)``) or
``.safetensors`` file and raises ``ModelError`` for a missing/unreadable file or keys and shapes that
do not match; nothing is ever downloaded. It is shared with ``cnn14``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

import torch
from torch import nn

from openfoley.checkpoint import read_state_file
from openfoley.errors import ModelError

M = TypeVar("M", bound=nn.Module)

PATCH_FRAMES, PATCH_MELS = 96, 64


class VGGish(nn.Module):
    """VGGish: (N, 1, 96, 64) log-mel patches -> (N, embed_dim) embeddings.

    ``channels`` (four stages), ``hidden`` and ``embed_dim`` default to the published sizes
    (72,141,184 parameters); smaller values give fast test models with the same structure.
    """

    def __init__(self, channels: Sequence[int] = (64, 128, 256, 512), hidden: int = 4096,
                 embed_dim: int = 128, final_relu: bool = False):
        super().__init__()
        c1, c2, c3, c4 = channels
        conv = lambda i, o: nn.Conv2d(i, o, kernel_size=3, stride=1, padding=1)  # noqa: E731
        pool = lambda: nn.MaxPool2d(kernel_size=2, stride=2)  # noqa: E731
        self.features = nn.Sequential(
            conv(1, c1), nn.ReLU(inplace=True), pool(),
            conv(c1, c2), nn.ReLU(inplace=True), pool(),
            conv(c2, c3), nn.ReLU(inplace=True), conv(c3, c3), nn.ReLU(inplace=True), pool(),
            conv(c3, c4), nn.ReLU(inplace=True), conv(c4, c4), nn.ReLU(inplace=True), pool(),
        )
        h, w = PATCH_FRAMES // 16, PATCH_MELS // 16  # four 2x2 pools: 96x64 -> 6x4
        layers: list[nn.Module] = [
            nn.Linear(c4 * h * w, hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, embed_dim),
        ]
        if final_relu:
            layers.append(nn.ReLU(inplace=True))
        self.embeddings = nn.Sequential(*layers)
        self.embed_dim = embed_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 1, 96, 64) -> (N, embed_dim)."""
        assert x.dim() == 4 and x.shape[1:] == (1, PATCH_FRAMES, PATCH_MELS), (
            f"VGGish expects (N, 1, {PATCH_FRAMES}, {PATCH_MELS}) patches, got {tuple(x.shape)}")
        h = self.features(x)  # (N, c4, 6, 4)
        h = h.permute(0, 2, 3, 1).flatten(1)  # (N, 6 * 4 * c4) in TensorFlow's (h, w, c) order
        return self.embeddings(h)


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors from a local weights file (``checkpoint.read_state_file``: safetensors or torch)."""
    return read_state_file(path)


def load_weights(model: M, path: str | Path, ignore_prefixes: Sequence[str] = ()) -> M:
    """Load a weights file into ``model`` strictly (every key present, nothing extra, same shapes).

    Keys starting with one of ``ignore_prefixes`` are dropped from the file first (e.g. the PANNs
    checkpoints' built-in front end, which ``frontends`` recomputes). Returns ``model`` in eval mode.
    """
    state = {k: v for k, v in read_state_dict(path).items()
             if not any(k.startswith(pre) for pre in ignore_prefixes)}
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    extra = sorted(set(state) - set(own))
    if missing or extra:
        raise ModelError(f"{path}: weights do not match {type(model).__name__}: "
                         f"missing {_few(missing)}, unexpected {_few(extra)}")
    bad = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in own.items()
           if state[k].shape != v.shape]
    if bad:
        raise ModelError(f"{path}: tensor shapes do not match {type(model).__name__}: {_few(bad)}")
    model.load_state_dict(state, strict=True)
    return model.eval()


def _few(items: list[str], n: int = 4) -> str:
    if not items:
        return "none"
    more = f" (+{len(items) - n} more)" if len(items) > n else ""
    return "[" + ", ".join(items[:n]) + "]" + more


def load_vggish(path: str | Path, final_relu: bool = False) -> VGGish:
    """The published-size VGGish with weights from a local file (no download). Eval mode."""
    return load_weights(VGGish(final_relu=final_relu), path)
