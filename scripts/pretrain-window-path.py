#!/usr/bin/env python3
"""Pretrain a window-encoder model's window path as a per-frame event detector (openfoley.training.window).

    scripts/add-window-path.py src/openfoley/assets/model-small runs/w-window     # motion -> window
    scripts/pretrain-window-path.py runs/w-window runs/wp --bank data/bank --steps 3000
    RUN=runs/R INIT=runs/wp/weights SETS="--set encoder.video=window" scripts/build-builtin-model.sh

The same command resumes from OUT/checkpoints. OUT/weights is WEIGHTS with the trained convolutions; the
window path's output layer is untouched, so the model generates what it did until joint training grows it.
"""

from __future__ import annotations

import argparse
import logging
import sys

from openfoley.errors import ConfigError, DataError, ModelError
from openfoley.evaluation.metrics import average_precision
from openfoley.training.window import TARGETS, WindowPretrainConfig, pretrain_window


def main(argv=None) -> int:
    d = WindowPretrainConfig()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("weights", help="weights folder of a model with encoder.video = window")
    ap.add_argument("out", help="run folder: OUT/weights, OUT/checkpoints, OUT/metrics.jsonl")
    ap.add_argument("--bank", default="data/bank", help="sound bank to render from (default: %(default)s)")
    ap.add_argument("--steps", type=int, default=d.steps)
    ap.add_argument("--batch", type=int, default=d.batch, help="clips per step (default: %(default)s)")
    ap.add_argument("--lr", type=float, default=d.lr)
    ap.add_argument("--walkers", type=float, default=d.walkers, help="walker share of the renders (default: %(default)s)")
    ap.add_argument("--target", choices=TARGETS, default=d.target,
                    help="audio: the clip's onset strength (self-supervised); labels: the renderer's event "
                         "frames (diagnosis only) (default: %(default)s)")
    ap.add_argument("--workers", type=int, default=d.workers)
    ap.add_argument("--eval-every", type=int, default=d.eval_every)
    ap.add_argument("--eval-clips", type=int, default=d.eval_clips)
    ap.add_argument("--threads", type=int, default=1, help="torch threads of the training process")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    import torch

    torch.set_num_threads(args.threads)
    try:
        cfg = WindowPretrainConfig(steps=args.steps, batch=args.batch, lr=args.lr, walkers=args.walkers,
                                   target=args.target, workers=args.workers, eval_every=args.eval_every,
                                   eval_clips=args.eval_clips)
        last = pretrain_window(args.weights, args.bank, args.out, cfg, average_precision)
    except (ConfigError, DataError, ModelError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"{args.out}/weights: window path pretrained ({last or 'no evaluation'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
