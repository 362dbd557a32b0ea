#!/usr/bin/env python3
"""Give a trained model's motion encoder the full-resolution view (``encoder.motion_pool`` 2 -> 1), same outputs.

    scripts/unpool-motion.py WEIGHTS OUT
    RUN=runs/R INIT=OUT scripts/build-builtin-model.sh       # continue training with the finer view

WEIGHTS: a weights folder whose video encoder is ``motion`` at ``motion_pool`` q > 1. OUT: the same model at
``motion_pool`` 1 (``openfoley.encoders.video.unpool_motion_state``): the first layers of the motion
encoder read 8 x 8-pixel patches of the full frame, each pixel with a quarter (1 / q^2) of its pooled
pixel's weight, so OUT computes what WEIGHTS computed (checked here on a random batch before writing)
until training teaches it what the pooled view could not see (docs/sync-diagnosis.md part 11).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from openfoley.checkpoint import load_weights
from openfoley.encoders.video import unpool_motion_state
from openfoley.errors import ModelError
from openfoley.model import FoleyModel, save_converted


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("weights")
    ap.add_argument("out")
    args = ap.parse_args(argv)
    lw = load_weights(args.weights)
    cfg = lw.config
    if cfg.encoder.video != "motion" or cfg.encoder.motion_pool == 1:
        print("error: the weights need the motion video encoder at encoder.motion_pool > 1", file=sys.stderr)
        return 2
    new_cfg = dataclasses.replace(cfg, encoder=dataclasses.replace(cfg.encoder, motion_pool=1))
    old_model = FoleyModel(cfg).eval()
    old_model.load_state_dict(lw.state)
    new_model = FoleyModel(new_cfg).eval()
    new_model.load_state_dict(unpool_motion_state(lw.state, cfg.encoder.motion_pool))
    try:
        diff = save_converted(old_model, new_model, args.out, {**lw.meta, "unpooled_from": str(args.weights)}, 1e-4)
    except ModelError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"{args.out}: {args.weights} at encoder.motion_pool 1, same outputs (max diff {diff:.1e})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
