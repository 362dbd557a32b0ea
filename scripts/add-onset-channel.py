#!/usr/bin/env python3
"""Give a trained model's generator the onset channel (``alignment.onset_condition``) and keep all it learned.

    scripts/add-onset-channel.py WEIGHTS OUT --scale 3
    openfoley train --preset small --live data/bank --init OUT ...        # continue with the new condition

WEIGHTS: a weights folder trained with ``alignment.onset_weight`` > 0 and ``onset_condition`` 0. OUT: the
same model with ``onset_condition = scale``: every generator parameter that reads a condition vector
gets one more input (its weights for the old inputs copied, the new input's weights zero), so OUT
computes exactly what WEIGHTS computed until training moves the new weights (checked here on a random
batch before writing). Used once to continue the built-in model's run on the new design
(docs/sync-diagnosis.md part 8) instead of starting it again.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

import torch

from openfoley.checkpoint import load_weights
from openfoley.errors import ModelError
from openfoley.model import FoleyModel, save_converted


def widen(old: dict[str, torch.Tensor], new_model: FoleyModel) -> dict[str, torch.Tensor]:
    """Old state -> new state: same tensors, with the condition input dimension padded by zeros."""
    out = {}
    for k, target in new_model.state_dict().items():
        src = old[k]
        if src.shape == target.shape:
            out[k] = src.clone()
            continue
        if src.dim() != target.dim() or src.shape[:-1] != target.shape[:-1] or target.shape[-1] != src.shape[-1] + 1:
            raise SystemExit(f"error: {k}: cannot widen {tuple(src.shape)} to {tuple(target.shape)}")
        out[k] = torch.cat([src, torch.zeros(*src.shape[:-1], 1, dtype=src.dtype)], -1)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("weights")
    ap.add_argument("out")
    ap.add_argument("--scale", type=float, default=3.0)
    args = ap.parse_args(argv)
    lw = load_weights(args.weights)
    cfg = lw.config
    if cfg.alignment.onset_weight <= 0 or cfg.alignment.onset_condition > 0:
        print("error: the weights need onset_weight > 0 and no onset channel yet", file=sys.stderr)
        return 2
    new_cfg = dataclasses.replace(cfg, alignment=dataclasses.replace(cfg.alignment, onset_condition=args.scale))
    old_model = FoleyModel(cfg).eval()
    old_model.load_state_dict(lw.state)
    new_model = FoleyModel(new_cfg).eval()
    new_model.load_state_dict(widen(lw.state, new_model))
    try:
        diff = save_converted(old_model, new_model, args.out, {**lw.meta, "widened_from": str(args.weights)}, 1e-4)
    except ModelError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"{args.out}: {args.weights} with the onset channel (scale {args.scale}), same outputs (max diff "
          f"{diff:.1e})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
