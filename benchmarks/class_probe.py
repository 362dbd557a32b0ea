"""Can the generator's condition tell *which* sound a clip needs? (docs/sync-diagnosis.md part 17)

    python benchmarks/class_probe.py --weights builtin --train 600 --test 200

FAD on test-closed asks for the class's own sound. This measures where the class is lost. It renders
``--train`` clips of the bank's train split (seed 41) and ``--test`` clips of test-closed (seed 42), one
sounding source each, as live training does (128 px render, frames on the model's grid). For each clip
it takes the features below, mean- and max-pooled over time (2d values). A multinomial logistic
regression (standardised inputs, L2 1e-3, 300 LBFGS steps) is fitted on the train clips' class labels and
scored on the test-closed clips whose class is a train class. Test-closed has the same classes with other
recordings, and a class always looks the same way (docs/benchmark.md "Visual identity"), so a
condition that carries the class scores well above chance.

  pixels    the frames average-pooled to 8 x 8 (3 x 64 values per frame): the floor of a trivial cue
  pixels16  the same at 16 x 16 (3 x 256 values per frame)
  moving    the colours of what moves: pixels weighted by their change |x_{i+1} - x_{i-1}|, as a
            weighted mean colour and a 4 x 4 x 4 colour histogram per frame (67 values)
  encoder   the video encoder's output (b, t, d)
  aligned   MMA's aligned features, what the generator is conditioned on

Chance is the share of the most common class among the test clips. Prints one line per feature and
appends a JSON line to ``--log``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F


def features(model, frames: torch.Tensor) -> dict[str, torch.Tensor]:
    """frames (b, t, 3, s, s) uint8 -> {name: (b, 2d)}: each feature's mean and max over time."""
    from openfoley.encoders.video import as_unit_frames, default_times

    x = as_unit_frames(frames)
    b, t = x.shape[:2]
    pix = F.adaptive_avg_pool2d(x.flatten(0, 1), 8).reshape(b, t, -1)  # (b, t, 192)
    pix16 = F.adaptive_avg_pool2d(x.flatten(0, 1), 16).reshape(b, t, -1)  # (b, t, 768)
    # the colours of what moves: each frame's pixels weighted by |x_{i+1} - x_{i-1}| (summed over
    # channels, normalised per frame), as a weighted mean colour and a 4 x 4 x 4 colour histogram
    d = torch.zeros_like(x[:, :, 0])
    d[:, 1:-1] = (x[:, 2:] - x[:, :-2]).abs().sum(2)  # (b, t, s, s)
    wgt = d / d.sum((-2, -1), keepdim=True).clamp_min(1e-6)
    q = (x.clamp(0, 1) * 3.999).long()  # (b, t, 3, s, s) in 0..3
    bins = (q[:, :, 0] * 16 + q[:, :, 1] * 4 + q[:, :, 2]).flatten(2)  # (b, t, s*s)
    hist = torch.zeros(b, t, 64).scatter_add_(2, bins, wgt.flatten(2))
    moving = torch.cat([(x * wgt[:, :, None]).sum((-2, -1)), hist], -1)  # (b, t, 67)
    enc = model.video_encoder(x, default_times(x, model.cfg.video.fps)).features  # (b, t, d)
    ali = model.align(x)  # (b, t, d)
    return {name: torch.cat([f.mean(1), f.amax(1)], -1) for name, f in
            (("pixels", pix), ("pixels16", pix16), ("moving", moving), ("encoder", enc),
                                 ("aligned", ali))}


def probe(xtr: torch.Tensor, ytr: torch.Tensor, xte: torch.Tensor, yte: torch.Tensor, classes: int) -> float:
    """Multinomial logistic regression on standardised features -> test accuracy."""
    mu, sd = xtr.mean(0), xtr.std(0) + 1e-6
    xtr, xte = (xtr - mu) / sd, (xte - mu) / sd
    w = torch.zeros(xtr.shape[1], classes, requires_grad=True)
    b = torch.zeros(classes, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=300, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(xtr @ w + b, ytr) + 1e-3 * (w ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        return float(((xte @ w + b).argmax(1) == yte).float().mean())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default="builtin")
    ap.add_argument("--bank", default="data/bank")
    ap.add_argument("--train", type=int, default=600)
    ap.add_argument("--test", type=int, default=200)
    ap.add_argument("--log", default="runs/class-probe.jsonl")
    args = ap.parse_args(argv)

    from openfoley.config.tools import RenderConfig
    from openfoley.data.foleyworld.live import LiveStore
    from openfoley.pipeline.core import FoleyPipeline

    model = FoleyPipeline.from_pretrained(args.weights, device="cpu", vocoder="griffinlim").model.eval()
    cfg = model.cfg
    render = RenderConfig(seconds=cfg.seconds, size=128, sample_rate=cfg.audio.sample_rate)
    sets = {}
    t0 = time.perf_counter()
    for split, n, seed in (("train", args.train, 41), ("test-closed", args.test, 42)):
        store = LiveStore(args.bank, cfg, split=split, seed=seed, render=render)
        feats: dict[str, list[torch.Tensor]] = {}
        labels = []
        for i in range(0, n, 16):
            items = [store[j] for j in range(i, min(n, i + 16))]
            with torch.no_grad():
                f = features(model, torch.stack([it["frames"] for it in items]))
            for k, v in f.items():
                feats.setdefault(k, []).append(v)
            labels += [it["label"] for it in items]
        sets[split] = ({k: torch.cat(v) for k, v in feats.items()}, labels)
    names = sorted(set(sets["train"][1]))
    index = {c: i for i, c in enumerate(names)}
    ytr = torch.tensor([index[c] for c in sets["train"][1]])
    keep = [i for i, c in enumerate(sets["test-closed"][1]) if c in index]
    yte = torch.tensor([index[sets["test-closed"][1][i]] for i in keep])
    chance = float(torch.bincount(yte).max()) / len(yte)
    rec = {"weights": args.weights, "train": args.train, "test": len(keep), "classes": len(names),
           "chance": chance, "seconds": round(time.perf_counter() - t0, 1)}
    print(f"{args.train} train clips, {len(keep)} test-closed clips of {len(names)} train classes; chance {chance:.3f}")
    for k in ("pixels", "pixels16", "moving", "encoder", "aligned"):
        acc = probe(sets["train"][0][k], ytr, sets["test-closed"][0][k][keep], yte, len(names))
        rec[k] = acc
        print(f"  {k:8s} class probe accuracy {acc:.3f}")
    Path(args.log).parent.mkdir(parents=True, exist_ok=True)
    with open(args.log, "a") as fh:
        fh.write(json.dumps(rec) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
