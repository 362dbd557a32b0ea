"""Does the condition know a clip's spectral colour, and does the generator follow it? (docs/sync-diagnosis.md part 24)

    python benchmarks/colour_probe.py --weights builtin --train 600 --test 200

FAD on test-closed is mostly a clip-to-clip spread the generated sound lacks: each clip's mean log-mel
spectrum (its "colour") varies across real clips about three times as much as across generated ones
(part 19). This asks where that is lost. It renders ``--train`` clips of the bank's train split (seed 41)
and ``--test`` clips of test-closed (seed 42), as live training does (128 px, frames on the model's grid),
and takes each clip's colour: the mean over time of its log-mel, (f,) with f the model's mel bands.

Predictors of the colour, each a ridge regression (standardised inputs, the penalty chosen on a fifth of
the train clips held out) fitted on the train clips and scored on the test clips:

  pixels      the frames average-pooled to 8 x 8, mean and max over time
  appearance  the appearance path's embedding (``encoder.appearance = "cnn"``), mean and max over time
  condition   the generator's per-token condition (``FoleyModel.flow_condition``), mean and max over tokens
  class       the mean colour of the train clips of the clip's own class (a label: an upper bound for
              what knowing the class alone gives, not something the model may use)

and, used as they are, the generated sound's own colour (``FoleyModel.generate``, the weights' sampler
settings) and the colour of the network's conditional mean E[x1 | c] (``expected``: x0 + v(x0, 0 | c),
one velocity evaluation at flow time 0, where the noise carries nothing of the data; no guidance). For each: R^2 over clips and bands (1 - residual / variance around the train mean), the mean per-band
Pearson correlation with the real colour across clips, and the ratio of the across-clip standard
deviation to the real one. Prints a table; appends a JSON line to ``--log``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
import zlib
from pathlib import Path

import torch
import torch.nn.functional as F


def ridge(xtr: torch.Tensor, ytr: torch.Tensor, xte: torch.Tensor, lambdas=(0.1, 1, 10, 100, 1000)) -> torch.Tensor:
    """Ridge regression xtr (n, d) -> ytr (n, m), penalty chosen on the last fifth of xtr; -> predictions (k, m) for xte."""
    mu, sd = xtr.mean(0), xtr.std(0) + 1e-6
    xtr, xte = (xtr - mu) / sd, (xte - mu) / sd
    ym = ytr.mean(0)

    def fit(x, y, lam):
        d = x.shape[1]
        return torch.linalg.solve(x.T @ x + lam * torch.eye(d, dtype=x.dtype), x.T @ (y - ym))

    cut = int(len(xtr) * 0.8)
    best = min(lambdas, key=lambda lam: float(((xtr[cut:] @ fit(xtr[:cut], ytr[:cut], lam) + ym - ytr[cut:]) ** 2).sum()))
    return xte @ fit(xtr, ytr, best) + ym


def scores(pred: torch.Tensor, real: torch.Tensor, train_mean: torch.Tensor) -> dict[str, float]:
    """pred, real (n, m) colours -> R^2, mean per-band correlation, across-clip std ratio."""
    r2 = 1 - float(((real - pred) ** 2).sum() / ((real - train_mean) ** 2).sum())
    pc, rc = pred - pred.mean(0), real - real.mean(0)
    corr = (pc * rc).sum(0) / (pc.norm(dim=0) * rc.norm(dim=0)).clamp_min(1e-9)
    return {"r2": r2, "corr": float(corr.mean()), "spread": float(pred.std(0).mean() / real.std(0).mean())}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default="builtin")
    ap.add_argument("--bank", default="data/bank")
    ap.add_argument("--train", type=int, default=600,
                    help="train clips for the ridge and class rows; 0: only the generated and expected rows")
    ap.add_argument("--test", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0, help="sampling seed of the generated sound")
    ap.add_argument("--log", default="runs/colour-probe.jsonl")
    args = ap.parse_args(argv)

    from openfoley.config.tools import RenderConfig
    from openfoley.data.foleyworld.live import LiveStore
    from openfoley.encoders.video import as_unit_frames
    from openfoley.pipeline.core import FoleyPipeline

    model = FoleyPipeline.from_pretrained(args.weights, device="cpu", vocoder="griffinlim").model.eval()
    cfg = model.cfg
    render = RenderConfig(seconds=cfg.seconds, size=128, sample_rate=cfg.audio.sample_rate)
    t0 = time.perf_counter()
    gen = torch.Generator().manual_seed(args.seed)
    sets = {}
    for split, n, seed in (("train", args.train, 41), ("test-closed", args.test, 42)):
        if n == 0:
            continue
        store = LiveStore(args.bank, cfg, split=split, seed=seed, render=render)
        feats: dict[str, list[torch.Tensor]] = {}
        for i in range(0, n, 8):
            items = [store[j] for j in range(i, min(n, i + 8))]
            frames = torch.stack([it["frames"] for it in items])  # (b, t, 3, s, s) uint8
            with torch.no_grad():
                x = as_unit_frames(frames)
                pix = F.adaptive_avg_pool2d(x.flatten(0, 1), 8).reshape(x.shape[0], x.shape[1], -1)
                f = {"pixels": pix}
                if model.appearance is not None:
                    f["appearance"] = model.appearance(x)
                f["condition"] = model.video_condition(frames, track=False).flow.tokens
                f = {k: torch.cat([v.mean(1), v.amax(1)], -1) for k, v in f.items()}
                f["colour"] = torch.stack([it["mel"] for it in items]).mean(2)  # (b, f) from (b, f, m)
                if split != "train":
                    mel, c = model.generate(frames, gen)  # (b, f, m)
                    f["generated"] = mel.mean(2)
                    # the network's conditional mean: at t = 0 the noise says nothing of the data, so
                    # x0 + v(x0, 0 | c) estimates E[x1 | c] (no guidance, every key frame visible)
                    net = model.generator.net
                    x0 = torch.randn(frames.shape[0], cfg.audio_tokens, net.token_dim, generator=gen)
                    x1 = x0 + net(x0, torch.zeros(frames.shape[0]), c.flow)
                    f["expected"] = model.latent_to_mel(x1).mean(2)
            for k, v in f.items():
                feats.setdefault(k, []).append(v)
            feats.setdefault("label", []).append(torch.tensor([zlib.crc32(it["label"].encode()) % (2 ** 31) for it in items]))
        sets[split] = {k: torch.cat(v) for k, v in feats.items()}
        print(f"{split}: {n} clips, {time.perf_counter() - t0:.0f} s", flush=True)
    te = sets["test-closed"]
    tr = sets.get("train", {})
    ym = tr["colour"].mean(0) if tr else te["colour"].mean(0)  # --train 0: R^2 around the test clips' own mean
    rows = {}
    for k in ("pixels", "appearance", "condition"):
        if k in tr:
            rows[k] = scores(ridge(tr[k], tr["colour"], te[k]), te["colour"], ym)
    # the class's mean train colour, for the test clips whose class has train clips
    means = {int(c): tr["colour"][tr["label"] == c].mean(0) for c in tr["label"].unique()} if tr else {}
    keep = [i for i, c in enumerate(te["label"].tolist()) if c in means]
    if keep:
        pred = torch.stack([means[int(te["label"][i])] for i in keep])
        rows["class"] = scores(pred, te["colour"][keep], ym)
        rows["class"]["clips"] = len(keep)
    rows["generated"] = scores(te["generated"], te["colour"], ym)
    rows["expected"] = scores(te["expected"], te["colour"], ym)
    print(f"{args.train} train clips, {args.test} test-closed clips; colour = mean log-mel over time "
          f"(across-clip std of the real colour {float(te['colour'].std(0).mean()):.3f})")
    print(f"{'predictor':12s} {'R^2':>7s} {'corr':>6s} {'spread':>7s}")
    for k, r in rows.items():
        print(f"{k:12s} {r['r2']:7.3f} {r['corr']:6.3f} {r['spread']:7.3f}")
    rec = {"weights": args.weights, "train": args.train, "test": args.test, "seed": args.seed, **rows,
           "seconds": round(time.perf_counter() - t0, 1)}
    Path(args.log).parent.mkdir(parents=True, exist_ok=True)
    with open(args.log, "a") as fh:
        fh.write(json.dumps(rec) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
