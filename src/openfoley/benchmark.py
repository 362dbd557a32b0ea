"""The paper's ablation tables on FoleyWorld: the variants, the reference rows, and running them.

Variants are config overrides of one base preset, so every row trains through the same loop and is
sampled through the same pipeline:

    Table 3   full, no-mma, no-mfg (Gaussian diffusion instead of flow), no-mma-no-mfg
    Table 4   flow-nf (vanilla normalizing flow), flow-coupling (conditional affine coupling); full = CFM
    Table 5   mask-0.2, mask-0.6; full = 0.4

Reference rows bound the numbers: ``ground-truth`` (the real audio through our features and vocoder:
the ceiling), ``retrieval`` (the audio of the nearest training clip by video features: a strong
non-generative baseline), ``shuffled`` (real audio of another test clip: the floor).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

VARIANTS: dict[str, dict[str, Any]] = {
    "full": {},
    "no-mma": {"alignment.enabled": False},
    "no-mfg": {"flow.kind": "ddpm"},
    "no-mma-no-mfg": {"alignment.enabled": False, "flow.kind": "ddpm"},
    "flow-nf": {"flow.kind": "nf"},
    "flow-coupling": {"flow.kind": "coupling"},
    "mask-0.2": {"alignment.mask_ratio": 0.2},
    "mask-0.6": {"alignment.mask_ratio": 0.6},
}

REFERENCES: dict[str, str] = {
    "ground-truth": "real audio through our log-mel and vocoder (the ceiling)",
    "retrieval": "audio of the nearest training clip by video features (non-generative baseline)",
    "shuffled": "real audio of another test clip (the floor)",
}

TABLES: dict[str, list[str]] = {
    "Table 3 (components)": ["full", "no-mma", "no-mfg", "no-mma-no-mfg"],
    "Table 4 (flow type)": ["full", "flow-nf", "flow-coupling"],
    "Table 5 (mask ratio)": ["mask-0.2", "full", "mask-0.6"],
}


@dataclass(frozen=True)
class VariantInfo:
    name: str
    overrides: dict[str, Any]
    description: str


def list_variants() -> list[VariantInfo]:
    out = []
    for name, ov in VARIANTS.items():
        desc = ", ".join(f"{k}={v}" for k, v in ov.items()) or "the full method (MMA + CFM, mask ratio 0.4)"
        out.append(VariantInfo(name, ov, desc))
    for name, desc in REFERENCES.items():
        out.append(VariantInfo(name, {}, f"reference row: {desc}"))
    return out
