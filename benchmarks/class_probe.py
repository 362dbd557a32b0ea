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

    python benchmarks/class_probe.py --oracle 6000        # can the frames show the class at all?

``--oracle N`` instead trains a small CNN *with* the class labels (supervised: an upper bound for what a
64 px frame shows, not something the model may use) on 4 frames each of N single-source train renders
(seed 51) and scores it on ``--test`` single-source test-closed renders (seed 52), logits averaged over
the 4 frames: three 3 x 3 convolutions of stride 2 (32, 64, 128 channels, GELU), max and mean over the
8 x 8 grid, a linear layer; Adam 1e-3, batch 64, ``--oracle-steps`` steps.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from openfoley.training.appearance import labels_to_index
from openfoley.training.appearance import linear_probe as probe


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


def oracle(args) -> dict:
    """The supervised CNN of ``--oracle`` -> its record (accuracy, chance, sizes)."""
    from openfoley.config.tools import RenderConfig
    from openfoley.data.foleyworld.bank import load_bank
    from openfoley.data.foleyworld.render import render_clip, resolve_splits, split_pool

    torch.manual_seed(0)
    bank = load_bank(args.bank)
    splits = resolve_splits(bank, None)
    cfg = RenderConfig(seconds=8.0, size=128, sample_rate=bank.sample_rate)

    def frames_of(split: str, n: int, seed: int) -> tuple[torch.Tensor, list[str]]:
        pool = split_pool(bank, splits, split)
        xs, ys = [], []
        for i in range(n):
            clip = render_clip(bank, pool, cfg, seed=seed, split=split, index=i, n_sources=1, frame_step=50)
            f = torch.from_numpy(clip.frames).float().div(255)  # (4, 3, 128, 128)
            xs.append(F.avg_pool2d(f, 2))  # (4, 3, 64, 64): the model's 64 px
            ys.append(clip.truth["class"])
        return torch.stack(xs), ys

    t0 = time.perf_counter()
    xtr, ltr = frames_of("train", args.oracle, 51)
    xte, lte = frames_of("test-closed", args.test, 52)
    ytr, yte, keep = labels_to_index(ltr, lte)
    names = sorted(set(ltr))
    xte = xte[keep]

    class Net(torch.nn.Module):
        def __init__(self, classes: int):
            super().__init__()
            chans = (3, 32, 64, 128)
            self.convs = torch.nn.ModuleList(torch.nn.Conv2d(a, b, 3, stride=2, padding=1)
                                             for a, b in zip(chans[:-1], chans[1:], strict=True))
            self.head = torch.nn.Linear(2 * chans[-1], classes)

        def forward(self, x: torch.Tensor) -> torch.Tensor:  # (n, 3, 64, 64) -> (n, classes)
            for conv in self.convs:
                x = F.gelu(conv(x))
            return self.head(torch.cat([x.amax((-2, -1)), x.mean((-2, -1))], -1))

    net = Net(len(names))
    opt = torch.optim.Adam(net.parameters(), 1e-3)
    flat_x, flat_y = xtr.flatten(0, 1), ytr.repeat_interleave(xtr.shape[1])
    g = torch.Generator().manual_seed(0)
    for _ in range(args.oracle_steps):
        idx = torch.randint(0, len(flat_x), (64,), generator=g)
        loss = F.cross_entropy(net(flat_x[idx]), flat_y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        logits = net(xte.flatten(0, 1)).unflatten(0, xte.shape[:2]).mean(1)
        acc = float((logits.argmax(1) == yte).float().mean())
        train_acc = float((net(flat_x[:2000]).argmax(1) == flat_y[:2000]).float().mean())
    chance = float(torch.bincount(yte).max()) / len(yte)
    rec = {"oracle_cnn": acc, "train_frame_accuracy": train_acc, "train": args.oracle, "test": len(keep),
           "classes": len(names), "chance": chance, "steps": args.oracle_steps,
           "seconds": round(time.perf_counter() - t0, 1)}
    print(f"supervised CNN on {args.oracle} single-source train renders ({len(names)} classes), "
          f"{len(keep)} test-closed renders: accuracy {acc:.3f} (chance {chance:.3f}; "
          f"training frames {train_acc:.3f}), {rec['seconds']} s")
    return rec


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default="builtin")
    ap.add_argument("--bank", default="data/bank")
    ap.add_argument("--train", type=int, default=600)
    ap.add_argument("--test", type=int, default=200)
    ap.add_argument("--log", default="runs/class-probe.jsonl")
    ap.add_argument("--oracle", type=int, default=0, metavar="N",
                    help="train the supervised CNN on N single-source renders instead (an upper bound)")
    ap.add_argument("--oracle-steps", type=int, default=1500)
    args = ap.parse_args(argv)
    if args.oracle:
        torch.set_num_threads(1)
        rec = oracle(args)
        Path(args.log).parent.mkdir(parents=True, exist_ok=True)
        with open(args.log, "a") as fh:
            fh.write(json.dumps(rec) + "\n")
        return 0

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
    ytr, yte, keep = labels_to_index(sets["train"][1], sets["test-closed"][1])
    names = sorted(set(sets["train"][1]))
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
