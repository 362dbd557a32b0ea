"""Griffin-Lim vocoder: the fallback that needs no weights.

Log-mel (b, f, m) -> ``exp`` -> non-negative mel inverse -> fast Griffin-Lim with momentum ->
waveform (b, m * hop). All the maths lives in ``openfoley.features.mel`` (``log_mel_to_wav``); this
class fixes the iteration count and the phase seed so that it behaves like any other ``Vocoder``:
the same input gives the same output.
"""

from __future__ import annotations

import torch

from openfoley.config import AudioConfig
from openfoley.features.mel import log_mel_to_wav


class GriffinLimVocoder:
    """``__call__(logmel (b, f, m), generator=None) -> (b, m * hop)``.

    ``iters`` None uses ``cfg.griffin_lim_iters``. Phases start from ``generator`` when one is given,
    else from a generator seeded ``seed`` (so repeated calls agree).
    """

    kind = "griffinlim"

    def __init__(self, cfg: AudioConfig, iters: int | None = None, seed: int = 0):
        self.cfg = cfg
        self.iters = cfg.griffin_lim_iters if iters is None else int(iters)
        if self.iters < 0:
            raise ValueError(f"Griffin-Lim iterations must be >= 0, got {self.iters}")
        self.seed = seed

    @property
    def name(self) -> str:
        return f"griffin-lim-{self.iters}"

    def __call__(self, logmel: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if generator is None:
            generator = torch.Generator().manual_seed(self.seed)
        return log_mel_to_wav(logmel, self.cfg, iters=self.iters, generator=generator)
