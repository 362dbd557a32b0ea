#!/usr/bin/env python3
"""Pretrain the appearance path from co-occurrence (``openfoley.training.appearance``) and measure it.

    python scripts/pretrain-appearance.py --out runs/appearance            # ~20 min on 2 cores
    python scripts/add-appearance-path.py WEIGHTS runs/appearance OUT      # join it to a model

Renders CLIPS live train clips and TEST test-closed clips (cached in OUT/cache-*.pt, reused when there),
trains the two towers for STEPS steps, then prints and writes to OUT/meta.json:
- retrieval: the share of the TEST clips whose own sound is nearest to their frames among all TEST
  sounds (chance 1 / TEST);
- class probe: a linear probe of the clip's class on the appearance embeddings (mean and max over the
  sampled frames), fit on the train clips, scored on the test clips (the labels are used here only,
  never in training). docs/sync-diagnosis.md part 17 measured 0.105 for today's condition.
OUT/appearance.safetensors holds the video tower (``AppearanceEncoder``'s state).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch


def _render(args: tuple) -> object:
    bank, weights, clips, split, seed, start = args
    torch.set_num_threads(1)
    from openfoley.training.appearance import render_cache

    return render_cache(bank, appearance_config(model_config(weights)), clips, split=split, seed=seed, start=start)


def model_config(weights: str):
    from openfoley.checkpoint import load_config
    from openfoley.pipeline.folders import resolve_model_dir

    return load_config(resolve_model_dir(weights))


def appearance_config(cfg):
    import dataclasses

    return dataclasses.replace(cfg, encoder=dataclasses.replace(cfg.encoder, appearance="cnn"))


def cache(path: Path, bank: str, weights: str, clips: int, split: str, seed: int, workers: int):
    from openfoley.training.appearance import Cache

    if path.is_file():
        c = torch.load(path, weights_only=False)
        if len(c.labels) == clips:
            return c
    t0 = time.perf_counter()
    per = -(-clips // workers)
    jobs = [(bank, weights, min(per, clips - s), split, seed, s) for s in range(0, clips, per)]
    with ProcessPoolExecutor(workers) as ex:
        parts = list(ex.map(_render, jobs))
    c = Cache(torch.cat([p.frames for p in parts]), torch.cat([p.mel for p in parts]),
              [lab for p in parts for lab in p.labels])
    tmp = path.with_suffix(".tmp")
    torch.save(c, tmp)
    tmp.replace(path)
    print(f"{path}: {clips} {split} clips rendered in {time.perf_counter() - t0:.0f} s", flush=True)
    return c


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bank", default="data/bank")
    ap.add_argument("--weights", default="builtin", help="the model whose config sets sizes and rates")
    ap.add_argument("--clips", type=int, default=4000)
    ap.add_argument("--test", type=int, default=300)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default="runs/appearance")
    args = ap.parse_args(argv)

    from safetensors.torch import save_file

    from openfoley.errors import OpenFoleyError
    from openfoley.training.appearance import (
        AppearancePretrainConfig,
        clip_appearance,
        labels_to_index,
        linear_probe,
        pretrain,
        retrieval_accuracy,
    )

    if not (Path(args.bank) / "manifest.jsonl").is_file():
        print(f"error: {args.bank}: not a sound bank (no manifest.jsonl; build one with `openfoley data sound-bank`)",
              file=sys.stderr)
        return 2
    if args.clips < args.batch or args.test < 2 or args.steps < 1 or args.workers < 1:
        print("error: need --clips >= --batch, --test >= 2, --steps >= 1 and --workers >= 1", file=sys.stderr)
        return 2
    try:
        cfg = appearance_config(model_config(args.weights))
    except OpenFoleyError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    train = cache(out / "cache-train.pt", args.bank, args.weights, args.clips, "train", 61, args.workers)
    test = cache(out / "cache-test-closed.pt", args.bank, args.weights, args.test, "test-closed", 62, args.workers)
    torch.set_num_threads(args.workers)
    t0 = time.perf_counter()
    towers = pretrain(cfg, train, AppearancePretrainConfig(steps=args.steps, batch=args.batch),
                      log=lambda s: print(s, flush=True))
    seconds = time.perf_counter() - t0
    retrieval = retrieval_accuracy(towers, test)
    ytr, yte, keep = labels_to_index(train.labels, test.labels)
    xtr = clip_appearance(towers.video, train.frames)
    xte = clip_appearance(towers.video, test.frames[keep])
    acc = linear_probe(xtr, ytr, xte, yte, int(ytr.max()) + 1)
    chance = float(torch.bincount(yte).max()) / len(yte)
    save_file({k: v.contiguous() for k, v in towers.video.state_dict().items()}, str(out / "appearance.safetensors"))
    meta = {"clips": args.clips, "test": args.test, "steps": args.steps, "batch": args.batch,
            "train_seconds": round(seconds, 1), "retrieval_top1": retrieval, "retrieval_chance": 1 / args.test,
            "class_probe": acc, "class_chance": chance, "classes": int(ytr.max()) + 1,
            "encoder": {k: getattr(cfg.encoder, k) for k in ("appearance_channels", "appearance_dim",
                                                               "appearance_stride")}}
    (out / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
    print(f"{out}: retrieval top-1 {retrieval:.3f} among {args.test} test-closed clips (chance {1 / args.test:.3f}); "
          f"class probe {acc:.3f} (chance {chance:.3f}, {len(keep)} clips); {seconds:.0f} s of training")
    return 0


if __name__ == "__main__":
    sys.exit(main())
