"""The training objective of Algorithm 1 as a pure function: L = lambda_mask * L_mask + lambda_flow * L_flow.

``loss_fn(model, batch, generator, cfg)`` runs the model (or its DDP wrapper) once and returns the
weighted loss plus every term for logging: the two masking losses separately, the flow loss, and the
flow loss per flow-time bin (t=0 noise, t=1 data). The terms stay detached tensors on the model's
device; the loop turns them into floats only on the steps it logs, since each conversion waits for the
device.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from openfoley.config import Config
from openfoley.model import Batch


@dataclass
class LossOutput:
    """``loss``: the scalar to back-propagate. ``parts``: detached scalar terms (``loss``, ``loss_mask``,
    ``loss_mask_audio``, ``loss_mask_video``, ``loss_flow``). ``flow_bins``: (bins,) detached flow loss
    per flow-time bin, NaN where no example fell in a bin; None for the flows that have no time."""

    loss: Tensor
    parts: dict[str, Tensor]
    flow_bins: Tensor | None = None


def loss_fn(model: torch.nn.Module, batch: Batch, generator: torch.Generator, cfg: Config) -> LossOutput:
    out = model(batch, generator)
    tc = cfg.train
    loss = tc.lambda_mask * out.loss_mask + tc.lambda_flow * out.flow.loss
    parts = {"loss": loss, "loss_mask": out.loss_mask, "loss_mask_audio": out.loss_mask_audio,
             "loss_mask_video": out.loss_mask_video, "loss_flow": out.flow.loss}
    if out.loss_onset is not None:  # alignment.onset_weight > 0
        loss = loss + cfg.alignment.onset_weight * out.loss_onset
        parts["loss"] = loss
        parts["loss_onset"] = out.loss_onset
    return LossOutput(loss=loss, parts={k: v.detach() for k, v in parts.items()}, flow_bins=out.flow.per_bin)
