"""Training throughput and peak memory of a preset on this machine (issue "train": measure and report).

    python benchmarks/train_throughput.py --preset small --batch 16 --steps 6 [--set flow.width=192 ...]

Builds a synthetic feature store (same format as `openfoley data extract`), runs the real trainer for
``--steps`` optimiser steps (the first is warm-up and excluded) and prints clips/s, seconds per step and
peak RSS. Run on an otherwise idle machine; the table in docs/training.md says which command made it.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import torch

from openfoley.config import apply_overrides, get_preset
from openfoley.features.store import FeatureStore
from openfoley.model import FoleyModel, count_parameters
from openfoley.training.loop import train
from openfoley.training.synthetic import make_synthetic_store


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="small")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = apply_overrides(get_preset(args.preset), [f"train.batch_size={args.batch}", "train.log_every=1",
                                                    f"train.ckpt_every={10**9}", *args.overrides])
    with tempfile.TemporaryDirectory() as d:
        store = FeatureStore(make_synthetic_store(Path(d) / "s", cfg, clips=max(args.batch, 16)))
        t0 = time.perf_counter()
        train(cfg, store, Path(d) / "run", max_steps=args.steps, progress=False)
        wall = time.perf_counter() - t0
        recs = [json.loads(line) for line in (Path(d) / "run" / "metrics.jsonl").read_text().splitlines()]
    steady = [r["clips_per_s"] for r in recs[1:]] or [recs[0]["clips_per_s"]]
    cps = sum(steady) / len(steady)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print("| preset | params | batch | threads | clips/s | s/step | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {cfg.name} {' '.join(args.overrides)} | {count_parameters(FoleyModel(cfg)) / 1e6:.2f}M | "
          f"{args.batch} | {args.threads} | {cps:.2f} | {args.batch / cps:.2f} | {rss:.0f} |")
    print(f"(total wall {wall:.1f} s for {args.steps} steps incl. setup)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
