"""Griffin-Lim vocoder: the fallback that needs no weights.

Log-mel (b, f, m) -> ``exp`` -> non-negative mel inverse -> a phase from the magnitude's gradients
(or random phases) -> fast Griffin-Lim with momentum -> waveform (b, m * hop). All the maths lives in
``openfoley.features.mel`` (``log_mel_to_wav``); this class fixes the iteration count, the momentum,
the phase initialisation and the random seed so that it behaves like any other ``Vocoder``: the same
input gives the same output.
"""

from __future__ import annotations

import torch

from openfoley.config import AudioConfig, griffin_lim_name
from openfoley.features.mel import GL_INITS, log_mel_to_wav


class GriffinLimVocoder:
    """``__call__(logmel (b, f, m), generator=None) -> (b, m * hop)``.

    ``iters`` / ``momentum`` / ``init`` None take ``cfg.griffin_lim_iters`` / ``griffin_lim_momentum``
    / ``griffin_lim_init``. With ``init="random"`` the phases start from ``generator`` when one is
    given, else from a generator seeded ``seed`` (so repeated calls agree); "pghi" uses no randomness.
    """

    kind = "griffinlim"

    def __init__(self, cfg: AudioConfig, iters: int | None = None, seed: int = 0, momentum: float | None = None,
                 init: str | None = None):
        self.cfg = cfg
        self.iters = cfg.griffin_lim_iters if iters is None else int(iters)
        self.momentum = cfg.griffin_lim_momentum if momentum is None else float(momentum)
        self.init = cfg.griffin_lim_init if init is None else init
        if self.iters < 0 or not self.momentum >= 0 or self.init not in GL_INITS:
            raise ValueError(f"Griffin-Lim needs iters >= 0, momentum >= 0 and init in {GL_INITS}, "
                             f"got {self.iters}, {self.momentum}, {self.init!r}")
        self.seed = seed

    @property
    def name(self) -> str:
        """e.g. ``griffin-lim-4`` (the default pghi start), ``griffin-lim-random-32``, ``...-m0`` (classic)."""
        return griffin_lim_name(self.init, self.iters, self.momentum)

    def __call__(self, logmel: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if generator is None and self.init == "random":
            generator = torch.Generator().manual_seed(self.seed)
        return log_mel_to_wav(logmel, self.cfg, iters=self.iters, generator=generator, momentum=self.momentum,
                              init=self.init)
