#!/usr/bin/env python3
"""Keep an event path between sessions, and give it back to a model.

    scripts/event-path-candidate.py save runs/ev25.ck experiments/ev25-latest/event-path.safetensors
    scripts/event-path-candidate.py build experiments/ev25-latest/event-path.safetensors builtin runs/ev25-500 \\
        --fps 25 --threshold 0.28

``save`` takes the moving average of the path (``event_path.*`` without the prefix) from a
``scripts/fit-event-path.py --checkpoint`` file, with the step and the run's settings as metadata: a few MB
where the checkpoint (Adam's moments included) is three times that. ``build`` writes OUT: the weights
folder BASE with that path (``alignment.event_path`` on, ``alignment.event_fps`` = ``--fps``, or the model's
own rate without it) and, with ``--threshold``, ``flow.onset_peak_threshold`` set; ``--search-stride S`` sets
``alignment.event_search_stride`` for a path trained with that shift search (part 38). Everything else is BASE's,
bit for bit. docs/sync-diagnosis.md part 33.

``build --pair`` (with ``--fps`` above BASE's frame rate) keeps BASE's own event path beside the new one
(``alignment.event_pair``: its tensors move to ``coarse_event_path.*``) and the track is the mean of the two
(docs/sync-diagnosis.md part 36):

    scripts/event-path-candidate.py build experiments/ev25-latest/event-path.safetensors runs/builtin-c36e037 \
        runs/pair --fps 25 --pair --threshold 0.24

(``runs/builtin-c36e037``: the built-in model before the pair, ``git show c36e037:src/openfoley/assets/model-small/<file>``
for its three files; the built-in model since has both paths, and ``--pair`` refuses a BASE without one at its own
rate.)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from openfoley.checkpoint import load_weights, save_weights
from openfoley.errors import ConfigError, OpenFoleyError
from openfoley.model import FoleyModel
from openfoley.pipeline.folders import resolve_model_dir


def save(ck_path: str, out: str) -> int:
    try:
        ck = torch.load(ck_path, weights_only=False)
        state = ck["ema"]["model"]
    except (OSError, KeyError, TypeError, RuntimeError) as e:
        print(f"error: {ck_path}: not a fit-event-path.py checkpoint ({e})", file=sys.stderr)
        return 2
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    meta = {"step": str(ck["step"]), "settings": json.dumps(ck["settings"])}
    save_file({k: v.contiguous() for k, v in state.items()}, out, metadata=meta)
    print(f"wrote {out} (step {ck['step']}, {sum(v.numel() for v in state.values())} values)")
    return 0


def build(path_file: str, base: str, out: str, fps: float | None, threshold: float | None,
          pair: bool = False, search_stride: int | None = None) -> int:
    try:
        folder = resolve_model_dir(base)
        if Path(out).resolve() == folder.resolve():
            raise OpenFoleyError(f"{out}: is BASE; give a new folder")
        lw = load_weights(folder)
        own = lw.config.alignment
        if pair and not (own.event_path and own.event_fps is None and not own.event_pair):
            raise OpenFoleyError(f"--pair: {base} has no event path at its own frame rate to keep")
        if pair and (fps is None or fps <= lw.config.video.fps):
            raise OpenFoleyError(f"--pair needs --fps above {base}'s {lw.config.video.fps:g} fps")
        a = dataclasses.replace(lw.config.alignment, event_path=True, event_pair=pair,
                                event_fps=None if fps is None or fps == lw.config.video.fps else fps,
                                event_search_stride=search_stride)
        flow = lw.config.flow if threshold is None else dataclasses.replace(lw.config.flow,
                                                                             onset_peak_threshold=threshold)
        cfg = dataclasses.replace(lw.config, alignment=a, flow=flow)
        path = load_file(path_file)
    except (OpenFoleyError, OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    state = {k: v for k, v in lw.state.items() if not k.startswith("event_path.")}
    if pair:  # BASE's own path stays, under the coarse path's prefix
        state |= {f"coarse_{k}": v for k, v in lw.state.items() if k.startswith("event_path.")}
    state |= {f"event_path.{k}": v for k, v in path.items()}
    model = FoleyModel(cfg)
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        print(f"error: {path_file} is not an event path of {base}'s architecture", file=sys.stderr)
        return 2
    save_weights(out, state, cfg, {**lw.meta, "event_path_file": {"file": str(path_file), "fps": fps,
                                                                  "threshold": threshold, "pair": pair,
                                                                  "search_stride": search_stride}})
    print(f"wrote {out}")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("save")
    s.add_argument("checkpoint")
    s.add_argument("out")
    b = sub.add_parser("build")
    b.add_argument("path")
    b.add_argument("base")
    b.add_argument("out")
    b.add_argument("--fps", type=float, default=None)
    b.add_argument("--threshold", type=float, default=None)
    b.add_argument("--pair", action="store_true", help="keep BASE's own event path beside the new one")
    b.add_argument("--search-stride", type=int, default=None,
                   help="alignment.event_search_stride: the path's shift search over every S-th row and column (a "
                        "path trained so; docs/sync-diagnosis.md part 38). Default: the search BASE's encoder has")
    args = ap.parse_args(argv)
    if args.cmd == "save":
        return save(args.checkpoint, args.out)
    if args.threshold is not None and not 0 <= args.threshold <= 1:
        print("error: --threshold must be in [0, 1]", file=sys.stderr)
        return 2
    try:
        return build(args.path, args.base, args.out, args.fps, args.threshold, args.pair, args.search_stride)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
