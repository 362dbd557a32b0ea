"""Vanilla normalizing flow (``FlowConfig.kind = "nf"``): the coupling family without video in its layers.

The same affine-coupling stack as ``openfoley.flow.coupling`` (``coupling_layers`` layers of width
``coupling_width``, exact log-likelihood), but its coupling networks see only the audio latent. The
video reaches the model in one place only, the prior: z ~ N(mu(c), I) with mu a zero-initialised
linear map of each token's aligned video feature (b, n, d) -> (b, n, p*f). This is our reading of the
paper's "vanilla NF" row (docs/flow.md): an ablation of *where* the condition enters, not a model that
ignores the video altogether, so it can still be scored for synchronisation.
"""

from __future__ import annotations

from openfoley.config import Config
from openfoley.flow.coupling import CouplingGenerator


class NFGenerator(CouplingGenerator):
    """``CouplingGenerator(cond_in_layers=False, cond_prior=True)``."""

    def __init__(self, token_dim: int, cond_dim: int, width: int, layers: int):
        super().__init__(token_dim, cond_dim, width, layers, cond_in_layers=False, cond_prior=True)

    @classmethod
    def from_config(cls, cfg: Config) -> NFGenerator:
        f = cfg.flow
        return cls(cfg.audio_token_dim, cfg.cond_dim, f.coupling_width, f.coupling_layers)
