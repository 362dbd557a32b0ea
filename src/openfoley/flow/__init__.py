"""Modality-aware flow generation (MFG) and the paper's ablation generators.

Time convention: t = 0 is noise, t = 1 is data. It is written once, in ``path.py``; every sampler
here follows it (DDPM converts its own step index at its boundary, ``ddpm.py``).

    base.py          FlowCondition (what the generator sees), FlowLoss, the Generator interface
    path.py          the conditional-OT probability path x_t and its target velocity u_t
    time_sampler.py  training-time samplers: uniform, logit-normal
    solvers.py       stateless fixed-grid ODE solvers: Euler, midpoint, Heun
    guidance.py      classifier-free guidance and the Eq. 7 refinement term
    velocity.py      VelocityNet, the velocity transformer over audio latent tokens
    cfm.py           CFMGenerator: conditional flow matching (the default, ``kind = "cfm"``)
    coupling.py      CouplingGenerator: conditional affine-coupling flow (``kind = "coupling"``)
    nf.py            NFGenerator: vanilla flow, video only in the prior (``kind = "nf"``)
    ddpm.py          DDPMGenerator: Gaussian diffusion on the same backbone (``kind = "ddpm"``)

Every generator takes x1 (b, n, p*f), the normalised audio latent, and a ``FlowCondition``:
``loss(x1, cond, generator) -> FlowLoss`` and ``sample(cond, generator, steps, solver, cfg_scale) -> x1``.
``build_generator(cfg)`` picks one by ``cfg.flow.kind``. See docs/flow.md for the readings chosen.
"""

from __future__ import annotations

from openfoley.config import Config
from openfoley.errors import ConfigError
from openfoley.flow.base import FlowCondition, FlowLoss, Generator
from openfoley.flow.cfm import CFMGenerator
from openfoley.flow.coupling import CouplingGenerator
from openfoley.flow.ddpm import DDPMGenerator
from openfoley.flow.nf import NFGenerator

GENERATORS: dict[str, type[Generator]] = {
    "cfm": CFMGenerator,
    "coupling": CouplingGenerator,
    "nf": NFGenerator,
    "ddpm": DDPMGenerator,
}


def build_generator(cfg: Config) -> Generator:
    """The generator named by ``cfg.flow.kind`` (cfm | coupling | nf | ddpm), freshly initialised."""
    try:
        cls = GENERATORS[cfg.flow.kind]
    except KeyError:
        raise ConfigError(f"flow.kind must be one of {sorted(GENERATORS)}, got {cfg.flow.kind!r}") from None
    return cls.from_config(cfg)


__all__ = ["FlowCondition", "FlowLoss", "Generator", "build_generator", "GENERATORS", "CFMGenerator",
           "CouplingGenerator", "NFGenerator", "DDPMGenerator"]
