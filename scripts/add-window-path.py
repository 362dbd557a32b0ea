#!/usr/bin/env python3
"""Give a trained motion-encoder model the window path (``encoder.video`` motion -> window), same outputs.

    scripts/add-window-path.py WEIGHTS OUT
    RUN=runs/R INIT=OUT SETS="--set encoder.video=window" scripts/build-builtin-model.sh   # train it on

WEIGHTS: a weights folder whose video encoder is ``motion``. OUT: the same model with
``encoder.video = "window"`` (``openfoley.encoders.video.WindowVideoEncoder``): every trained tensor is
kept, the window path's first layers are freshly initialised (seed 0) and its output layer is zero, so
OUT computes what WEIGHTS computed (checked here on a random batch before writing) until training
teaches the window path what the motion encoder's 8 x 8-pixel patches could not see, a walker's foot
landing (docs/sync-diagnosis.md part 14).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

import torch

from openfoley.checkpoint import load_weights
from openfoley.errors import ModelError
from openfoley.model import FoleyModel, save_converted


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("weights")
    ap.add_argument("out")
    args = ap.parse_args(argv)
    lw = load_weights(args.weights)
    cfg = lw.config
    if cfg.encoder.video != "motion":
        print("error: the weights need the motion video encoder (encoder.video = motion)", file=sys.stderr)
        return 2
    new_cfg = dataclasses.replace(cfg, encoder=dataclasses.replace(cfg.encoder, video="window"))
    old_model = FoleyModel(cfg).eval()
    old_model.load_state_dict(lw.state)
    torch.manual_seed(0)
    new_model = FoleyModel(new_cfg).eval()
    missing, unexpected = new_model.load_state_dict(lw.state, strict=False)
    if unexpected or any(".win_" not in k for k in missing):
        print(f"error: {args.weights} does not map onto the window model ({missing[:2]}, {unexpected[:2]})",
              file=sys.stderr)
        return 1
    try:
        diff = save_converted(old_model, new_model, args.out, {**lw.meta, "window_path_from": str(args.weights)},
                              1e-5)
    except ModelError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"{args.out}: {args.weights} with the window path (zero at start), same outputs (max diff {diff:.1e})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
