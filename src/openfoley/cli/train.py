"""``openfoley train``: Algorithm 1 on a feature store (or, with ``--smoke``, on data it makes itself).

Single process: ``openfoley train --preset small --data STORE --out RUN``.
Many: ``torchrun --nproc_per_node=N -m openfoley train ...`` (DDP; NCCL on GPUs, gloo on CPU).
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from pathlib import Path

from openfoley.cli.common import add_config_args, config_from_args
from openfoley.config.tools import LIVE_WALKER_SHARE
from openfoley.errors import ConfigError, DataError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a model (Algorithm 1) on a feature store",
                       description="Train OpenFoley on a feature store made by `openfoley data extract`. "
                                   "Writes RUN/weights (EMA inference weights, safetensors + config.json), "
                                   "RUN/checkpoints (resume state, last N kept) and RUN/metrics.jsonl. "
                                   "Resumes automatically when RUN holds a checkpoint.")
    add_config_args(p)
    p.add_argument("--data", help="feature store folder (from `openfoley data extract`)")
    p.add_argument("--live", metavar="BANK",
                   help="instead of --data: render FoleyWorld training clips on the fly from this sound bank "
                        "(every step gets new scenes; with train.num_workers > 0 they are rendered ahead "
                        "in worker processes)")
    p.add_argument("--live-seed", type=int, default=0, help="render seed of --live (default: %(default)s)")
    p.add_argument("--live-walkers", type=float, default=LIVE_WALKER_SHARE, metavar="SHARE",
                   help="--live: probability that a strike or impact source is drawn as a walker whose feet land "
                        "with its sounds (RenderConfig.walker_share; default: %(default)s)")
    p.add_argument("--init", metavar="WEIGHTS",
                   help="when RUN has no checkpoint: continue from this weights folder (RUN/weights or a shipped "
                        "model, same config) at its recorded step, with a fresh optimiser (a new machine)")
    p.add_argument("--val", help="validation feature store (default: none)")
    p.add_argument("--out", required=True, help="run folder")
    p.add_argument("--max-steps", type=int, default=None, help="override train.max_steps")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default)")
    p.add_argument("--no-resume", action="store_true", help="start from scratch even if RUN has a checkpoint")
    p.add_argument("--smoke", action="store_true",
                   help="two steps on synthetic clips made on the fly (no --data needed): a CI check")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from openfoley.data.foleyworld.live import LiveStore
    from openfoley.features.store import FeatureStore
    from openfoley.training.loop import train
    from openfoley.training.synthetic import make_synthetic_store

    cfg = config_from_args(args)
    logging.getLogger("openfoley").setLevel(logging.INFO)
    tmp = None
    store: FeatureStore | LiveStore
    if args.smoke:
        tmp = tempfile.TemporaryDirectory(prefix="openfoley-smoke-")
        store = FeatureStore(make_synthetic_store(Path(tmp.name) / "store", cfg, clips=cfg.train.batch_size))
        max_steps = 2 if args.max_steps is None else args.max_steps
    elif args.live:
        if args.data:
            raise DataError("give --data STORE or --live BANK, not both")
        if not 0.0 <= args.live_walkers <= 1.0:
            raise ConfigError(f"--live-walkers must be in [0, 1], got {args.live_walkers}")
        store = LiveStore.for_training(args.live, cfg, args.live_walkers, seed=args.live_seed)
        max_steps = args.max_steps
    else:
        if not args.data:
            raise DataError("--data STORE or --live BANK is required (or use --smoke)")
        store = FeatureStore(args.data)
        max_steps = args.max_steps
    store.check_compatible(cfg)
    val = None
    if args.val:
        val = FeatureStore(args.val)
        val.check_compatible(cfg)
    try:
        res = train(cfg, store, args.out, val_store=val, resume=not args.no_resume,
                    device=None if args.device == "auto" else args.device, max_steps=max_steps,
                    progress=not args.no_progress, init=args.init)
    finally:
        if tmp is not None:
            tmp.cleanup()
    print(f"trained to step {res.step}, loss {res.last_loss:.4f}; weights: {res.weights}")
    return 0
