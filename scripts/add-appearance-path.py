#!/usr/bin/env python3
"""Join a pretrained appearance path to a trained model (``encoder.appearance`` none -> cnn), same outputs.

    python scripts/pretrain-appearance.py --out runs/appearance
    scripts/add-appearance-path.py WEIGHTS runs/appearance OUT
    RUN=runs/R INIT=OUT SETS="--set encoder.video=window --set encoder.appearance=cnn" scripts/build-builtin-model.sh

WEIGHTS: a weights folder without the path. APPEARANCE: the folder ``scripts/pretrain-appearance.py``
wrote (its ``appearance.safetensors``, the tower learned from co-occurrence). OUT: the same model with
``encoder.appearance = "cnn"``: every trained tensor kept, the tower loaded, and its projection into the
condition zero, so OUT computes what WEIGHTS computed (checked here before writing) until training
teaches the generator to use what the frames show (docs/sync-diagnosis.md part 18).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from safetensors.torch import load_file

from openfoley.checkpoint import load_weights
from openfoley.errors import ModelError
from openfoley.model import FoleyModel, save_converted


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("weights")
    ap.add_argument("appearance")
    ap.add_argument("out")
    args = ap.parse_args(argv)
    lw = load_weights(args.weights)
    cfg = lw.config
    if cfg.encoder.appearance != "none":
        print("error: the weights already have an appearance path", file=sys.stderr)
        return 2
    folder = Path(args.appearance)
    try:
        tower = load_file(str(folder / "appearance.safetensors"))
        meta = json.loads((folder / "meta.json").read_text())
    except (OSError, ValueError) as e:
        print(f"error: {folder}: not a pretrained appearance folder ({e})", file=sys.stderr)
        return 2
    enc = dataclasses.replace(cfg.encoder, appearance="cnn", **{k: tuple(v) if isinstance(v, list) else v
                                                                  for k, v in meta["encoder"].items()})
    new_cfg = dataclasses.replace(cfg, encoder=enc)
    old_model = FoleyModel(cfg).eval()
    old_model.load_state_dict(lw.state)
    new_model = FoleyModel(new_cfg).eval()
    state = {**lw.state, **{f"appearance.{k}": v for k, v in tower.items()}}
    missing, unexpected = new_model.load_state_dict(state, strict=False)
    if unexpected or any(not k.startswith("appearance_proj.") for k in missing):
        print(f"error: the tower does not fit the model ({missing[:2]}, {unexpected[:2]})", file=sys.stderr)
        return 1
    try:
        diff = save_converted(old_model, new_model, args.out,
                              {**lw.meta, "appearance_from": str(folder), "appearance_pretrain": meta}, 1e-6)
    except ModelError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"{args.out}: {args.weights} with the appearance path of {folder} (projection zero at start), "
          f"same outputs (max diff {diff:.1e})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
