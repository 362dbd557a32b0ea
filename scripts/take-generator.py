#!/usr/bin/env python3
"""A model with the velocity network of a generator stage and everything else of the model it came from.

    scripts/take-generator.py STAGE BASE OUT [SECTION.KEY=VALUE ...]
    scripts/take-generator.py runs/gfit2-20000 builtin runs/cand-20000 flow.cfg_scale=3
    scripts/take-generator.py runs/gfit2-20000 builtin runs/mix-20000 --mix 0.5

STAGE: weights written by ``scripts/fit-global-route.py --params generator`` (a snapshot or its end).
BASE: the model whose video side that stage froze, possibly with another onset head since (the built-in
model got its convolutional head after the stage had started: docs/sync-diagnosis.md part 27). OUT:
BASE's config and tensors with STAGE's ``generator.net.*`` tensors, and the sampler settings given
(``flow.cfg_scale=3``...; a setting that changes a tensor's shape is refused by the strict load).
``--mix A`` takes A * STAGE + (1 - A) * BASE for each floating-point tensor of the velocity network
instead of STAGE's (a weight-space interpolation between the stage's end and its start, as in WiSE-FT;
docs/sync-diagnosis.md part 28); the default 1 takes STAGE's tensors as they are.

Refused in one line, with nothing written, unless every tensor outside the velocity network and the onset
head is the same in STAGE and BASE (the stage trained on the conditions BASE computes) and the two
configs agree on the flow and encoder sections apart from sampler settings. BASE may hold event paths
(``event_path.*``, ``coarse_event_path.*``) that STAGE lacks: they read the frames for the onset track alone
and never enter the velocity network's condition (the built-in model got its two after the stage had
started; docs/sync-diagnosis.md part 41).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

import torch

from openfoley.checkpoint import load_weights, save_weights
from openfoley.config import apply_overrides
from openfoley.errors import OpenFoleyError
from openfoley.model import FoleyModel
from openfoley.pipeline.folders import resolve_model_dir

NET = "generator.net."
HEAD = "mma.onset_head."
EVENTS = ("event_path.", "coarse_event_path.")
# flow settings that only steer sampling; the rest of the section shapes or trains the network
SAMPLER = {"steps", "solver", "cfg_scale", "refine", "refine_neighbors", "refine_scale", "onset_guidance",
           "onset_guide", "onset_guide_lead", "onset_peak_threshold", "onset_peak_height", "onset_floor",
           "global_gain", "time_steps"}


def take(stage_dir: str, base_dir: str, out: str, settings: list[str], mix: float = 1.0) -> None:
    from pathlib import Path

    if Path(out).resolve() in {resolve_model_dir(stage_dir).resolve(), resolve_model_dir(base_dir).resolve()}:
        raise OpenFoleyError(f"{out}: is one of the inputs; give a new folder")
    stage, base = load_weights(resolve_model_dir(stage_dir)), load_weights(resolve_model_dir(base_dir))
    stage_keys = {k for k in stage.state if not k.startswith(HEAD)}  # each side's onset head is its own
    base_only = {k for k in base.state if not k.startswith(HEAD)} - stage_keys
    if not stage_keys <= base.state.keys() or any(not k.startswith(EVENTS) for k in base_only):
        raise OpenFoleyError(f"{stage_dir} and {base_dir} are different models (their tensors are not the same set)")
    other = [k for k in stage.state if k in stage_keys and not k.startswith(NET)
             and not torch.equal(base.state[k], stage.state[k])]
    if other:
        raise OpenFoleyError(f"{stage_dir} was not trained on {base_dir}'s conditions ({len(other)} tensors "
                             f"outside the velocity network differ, e.g. {other[0]})")
    sf = {k: v for k, v in dataclasses.asdict(stage.config.flow).items() if k not in SAMPLER}
    bf = {k: v for k, v in dataclasses.asdict(base.config.flow).items() if k not in SAMPLER}
    if sf != bf or stage.config.encoder != base.config.encoder:
        diff = sorted(k for k in sf if sf[k] != bf.get(k)) or ["encoder"]
        raise OpenFoleyError(f"{stage_dir} and {base_dir} differ in their network settings ({', '.join(diff)})")
    cfg = apply_overrides(base.config, settings)
    if not 0 <= mix <= 1:
        raise OpenFoleyError(f"--mix must be in [0, 1], not {mix}")

    def net_tensor(k: str) -> torch.Tensor:
        a, b = stage.state[k], base.state[k]
        if mix == 1 or not a.is_floating_point():
            return a
        return (mix * a.double() + (1 - mix) * b.double()).to(a.dtype)

    state = {k: (net_tensor(k) if k.startswith(NET) else v) for k, v in base.state.items()}
    FoleyModel(cfg).load_state_dict(state)  # strict: the config and the tensors agree
    meta = {**base.meta, "generator_from": {"stage": str(stage_dir), "stage_meta": stage.meta,
                                            "settings": list(settings), "mix": mix}}
    save_weights(out, state, cfg, meta)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("stage")
    ap.add_argument("base")
    ap.add_argument("out")
    ap.add_argument("settings", nargs="*", metavar="SECTION.KEY=VALUE")
    ap.add_argument("--mix", type=float, default=1.0,
                    help="the velocity network as MIX * STAGE + (1 - MIX) * BASE (default: 1, STAGE's)")
    args = ap.parse_args(argv)
    try:
        take(args.stage, args.base, args.out, args.settings, args.mix)
    except (OpenFoleyError, RuntimeError) as e:
        print(f"error: {str(e).splitlines()[0]}", file=sys.stderr)
        return 2
    print(f"wrote {args.out}: {args.base} with the velocity network of {args.stage}"
          + (f" mixed {args.mix:g} with its own" if args.mix != 1 else "")
          + (f" and {' '.join(args.settings)}" if args.settings else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
