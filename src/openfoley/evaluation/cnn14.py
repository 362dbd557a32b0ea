"""PANNs CNN14 (Kong et al. 2020), an AudioSet tagger used for KL and classification metrics.

Input: log-mel (b, 1, m, 64) from ``frontends.cnn14_log_mel`` (32 kHz); outputs: 527 AudioSet logits
(``forward``) or the 2048-d embedding (``embed``). Multi-label probabilities are ``sigmoid(logits)``
(what PANNs reports); distributions for ``metrics.kld`` are ``softmax(logits)`` (see
docs/evaluation.md).

Architecture (published sizes are the defaults, 80,753,615 parameters): batch norm over the 64 mel
bins; six conv blocks (two 3x3 conv -> BN -> ReLU, no conv bias) of 64, 128, 256, 512, 1024, 2048
channels, each followed by 2x2 average pooling except the last (1x1); mean over frequency; along
time, max-pool(3) + avg-pool(3) (stride 1, padding 1); then max over time + mean over time; fc1
(ReLU) gives the embedding and ``fc_audioset`` the logits. Dropout layers of the original are
training-only and omitted (these networks are evaluators, never trained here). Parameter names match
the published checkpoints; their built-in front-end tensors (``spectrogram_extractor.*``,
``logmel_extractor.*``) are ignored on load because ``frontends`` recomputes the same front end.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from openfoley.evaluation.vggish import load_weights

N_MELS = 64
FRONTEND_PREFIXES = ("spectrogram_extractor.", "logmel_extractor.")


class ConvBlock(nn.Module):
    """Two 3x3 conv -> BN -> ReLU, then average pooling: (b, i, m, f) -> (b, o, m/p, f/p)."""

    def __init__(self, cin: int, cout: int, pool: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, kernel_size=3, stride=1, padding=1, bias=False)
        self.conv2 = nn.Conv2d(cout, cout, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.bn2 = nn.BatchNorm2d(cout)
        self.pool = pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        return F.avg_pool2d(x, kernel_size=self.pool) if self.pool > 1 else x


class Cnn14(nn.Module):
    """CNN14: (b, 1, m, 64) log-mel -> (b, n_classes) logits; ``embed`` -> (b, embed_dim).

    m must be at least 32 frames (five 2x2 poolings). Smaller ``channels`` / ``embed_dim`` /
    ``n_classes`` give fast test models with the same structure and parameter names.
    """

    def __init__(self, channels: Sequence[int] = (64, 128, 256, 512, 1024, 2048),
                 embed_dim: int = 2048, n_classes: int = 527):
        super().__init__()
        if len(channels) != 6:
            raise ValueError(f"Cnn14 has six conv blocks, got channels={tuple(channels)}")
        self.bn0 = nn.BatchNorm2d(N_MELS)
        cins = (1, *channels[:-1])
        for i, (cin, cout) in enumerate(zip(cins, channels, strict=True), start=1):
            self.add_module(f"conv_block{i}", ConvBlock(cin, cout, pool=1 if i == 6 else 2))
        self.fc1 = nn.Linear(channels[-1], embed_dim, bias=True)
        self.fc_audioset = nn.Linear(embed_dim, n_classes, bias=True)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(b, 1, m, 64) -> (b, embed_dim)."""
        assert x.dim() == 4 and x.shape[1] == 1 and x.shape[3] == N_MELS and x.shape[2] >= 32, (
            f"Cnn14 expects (b, 1, m >= 32, {N_MELS}) log-mel, got {tuple(x.shape)}")
        x = self.bn0(x.transpose(1, 3)).transpose(1, 3)  # normalise each mel bin
        for i in range(1, 7):
            x = getattr(self, f"conv_block{i}")(x)  # (b, c, m', f')
        x = x.mean(dim=3)  # (b, c, m')
        x = F.max_pool1d(x, 3, stride=1, padding=1) + F.avg_pool1d(x, 3, stride=1, padding=1)
        x = x.amax(dim=2) + x.mean(dim=2)  # (b, c)
        return F.relu(self.fc1(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(b, 1, m, 64) -> (b, n_classes) logits."""
        return self.fc_audioset(self.embed(x))


def load_cnn14(path: str | Path) -> Cnn14:
    """The published-size CNN14 with weights from a local file (no download). Eval mode."""
    return load_weights(Cnn14(), path, ignore_prefixes=FRONTEND_PREFIXES)
