#!/usr/bin/env python3
"""Switch on a config setting whose new parameters start at zero, in a trained model, keeping its outputs.

    scripts/switch-on.py WEIGHTS OUT flow.global_cond=true
    openfoley train --preset small --live data/bank --init OUT --set flow.global_cond=true ...

WEIGHTS: a weights folder. OUT: the same model with each ``section.key=value`` applied: every trained
tensor kept, and the tensors the setting adds taken from a fresh model, where they must all be zero (a
setting whose new layers start at zero, such as ``flow.global_cond``, changes nothing until trained).
OUT is written only if it generates what WEIGHTS generates (``save_converted``, checked on a random
batch) and no trained tensor changed its shape. Used to join the generator's global route to the
path run's weights (docs/sync-diagnosis.md part 24).

``--grow`` is for settings that add layers to a residual stream (``flow.unet_blocks``, ``flow.depth``):

    scripts/switch-on.py WEIGHTS OUT --grow flow.unet_blocks=2 flow.depth=4

The new tensors keep a fresh model's initialisation, so the new layers can learn, except that each new
cross-attention's output projection is set to zero: with those, every new block starts as the identity (a
residual block's last convolution and an adaLN block's gates already start at zero). The same output check
decides (docs/sync-diagnosis.md part 42).
"""

from __future__ import annotations

import argparse
import sys

import torch

from openfoley.checkpoint import load_weights
from openfoley.config import apply_overrides
from openfoley.errors import OpenFoleyError
from openfoley.model import FoleyModel, save_converted


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("weights")
    ap.add_argument("out")
    ap.add_argument("settings", nargs="+", metavar="SECTION.KEY=VALUE")
    ap.add_argument("--grow", action="store_true",
                    help="the settings add layers: keep their fresh initialisation (see above)")
    args = ap.parse_args(argv)
    try:
        lw = load_weights(args.weights)
        cfg = lw.config
        cfg = apply_overrides(cfg, args.settings)
        if cfg == lw.config:
            raise OpenFoleyError("the settings change nothing")
        old = FoleyModel(lw.config).eval()
        old.load_state_dict(lw.state)
        torch.manual_seed(0)
        new = FoleyModel(cfg).eval()
        fresh = new.state_dict()
        missing, unexpected = new.load_state_dict(lw.state, strict=False)
        if unexpected:
            raise OpenFoleyError(f"the setting removes trained tensors ({', '.join(unexpected[:3])})")
        nonzero = [k for k in missing if fresh[k].abs().max() > 0]
        if args.grow:
            new.load_state_dict({k: torch.zeros_like(fresh[k]) for k in missing if ".cross.out." in k}, strict=False)
        elif nonzero:
            raise OpenFoleyError(f"the setting adds tensors that do not start at zero ({', '.join(nonzero[:3])}); "
                                 "it would change the trained model's outputs")
        meta = {**lw.meta, "switched_on": args.settings, **({"grown": True} if args.grow else {})}
        diff = save_converted(old, new, args.out, meta, 1e-6)
    except (OpenFoleyError, RuntimeError) as e:  # RuntimeError: a trained tensor changed shape
        print(f"error: {str(e).splitlines()[0]}", file=sys.stderr)
        return 2
    how = "grown" if args.grow else "all zero"
    print(f"{args.out}: {args.weights} with {' '.join(args.settings)} ({len(missing)} new tensors, {how}), "
          f"same outputs (max diff {diff:.1e})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
