"""The training objective of Algorithm 1 as a pure function: L = lambda_mask * L_mask + lambda_flow * L_flow.

``loss_fn(model, batch, generator, cfg)`` runs the model (or its DDP wrapper) once and returns the
weighted loss plus every term as plain floats for logging: the two masking losses separately and the
flow loss per flow-time bin (``flow_t0`` .. ``flow_t3``, t=0 noise, t=1 data).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from openfoley.config import Config
from openfoley.model import Batch


@dataclass
class LossOutput:
    loss: torch.Tensor
    parts: dict[str, float] = field(default_factory=dict)


def loss_fn(model: torch.nn.Module, batch: Batch, generator: torch.Generator, cfg: Config) -> LossOutput:
    out = model(batch, generator)
    tc = cfg.train
    loss = tc.lambda_mask * out.loss_mask + tc.lambda_flow * out.loss_flow
    parts = {"loss": float(loss.detach()), "loss_mask": float(out.loss_mask.detach()),
             "loss_mask_audio": float(out.loss_mask_audio.detach()),
             "loss_mask_video": float(out.loss_mask_video.detach()),
             "loss_flow": float(out.loss_flow.detach())}
    if out.flow_bins is not None:
        for i, v in enumerate(out.flow_bins.tolist()):
            if not math.isnan(v):
                parts[f"flow_t{i}"] = v
    return LossOutput(loss=loss, parts=parts)
