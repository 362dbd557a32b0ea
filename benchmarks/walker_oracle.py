"""Is a walker's foot landing in the pixels at all? A crop oracle (docs/sync-diagnosis.md part 14)

    python benchmarks/walker_oracle.py --clips 400 --test 100     # every view in one table

The full-frame detectors of parts 11-13 never learned the landing, even when trained on the true
landing frames. This asks the question without the "where": the renderer knows where each walker is,
so each sample is a crop around one walker's feet (its hip's x, its ground line, in the frame's own
coordinates, camera shake included), a few frames around model frame j, and the label "this walker's
foot lands within frame j's 80 ms" (landing render frame L with floor(L / 2) = j). A small MLP is
trained on the label directly and scored by per-sample average precision (AP) on walkers of held-out
clips. Views, all from the same renders (25 fps, 128 px):

- ``64px 12.5fps``  frames j-1, j, j+1 of the model's grid at its 64 px: what the model is given
- ``128px 12.5fps`` the same frames at the render's 128 px
- ``64px 25fps``    render frames 2j-2 .. 2j+2 (five), at 64 px: the render's frame rate
- ``64px 12.5fps stabilised``: as the first, each frame cropped at its own camera offset (no shake)
- ``32px 12.5fps``  the motion encoder's pool-2 view (``encoder.motion_pool = 2``)
- ``64px 12.5fps jittered [conv]``: a 32 px window with the feet at a random offset within +-8 px, an
  MLP or the window path's convolutions (``ConvNet``)
- ``64px 12.5fps full frame conv``: the whole 64 px frame of clips with exactly one walker, ``ConvNet``

If the first view scores far above chance, the landing is in what the model sees and the full-frame
encoders fail at finding it; if only the 25 fps or 128 px views do, the model's input has to change.
"""

from __future__ import annotations

import argparse
import json
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import torch
from torch import nn

from openfoley.evaluation.metrics import average_precision

CROP_W, CROP_H, BELOW = 48, 32, 8  # at 128 px: the window around the feet (width, height, rows below ground)
_STORE = None


def _init(bank: str, split: str, seed: int) -> None:
    global _STORE
    from openfoley.config import get_preset
    from openfoley.config.tools import RenderConfig
    from openfoley.data.foleyworld.live import LiveStore

    torch.set_num_threads(1)
    cfg = get_preset("small")
    render = RenderConfig(seconds=cfg.seconds, size=128, sample_rate=cfg.audio.sample_rate, walker_share=1.0)
    _STORE = LiveStore(bank, cfg, split=split, seed=seed, render=render)


def pool2(x: np.ndarray) -> np.ndarray:
    """(..., h, w) float -> (..., h/2, w/2) 2x2 means."""
    return 0.25 * (x[..., ::2, ::2] + x[..., 1::2, ::2] + x[..., ::2, 1::2] + x[..., 1::2, 1::2])


def walk_frames(src, frames: int) -> list[tuple[int, int]]:
    """A walker source's model frames from one frame before its first landing to one after its last,
    within the clip of ``frames`` render frames and with a neighbour frame on each side: (j, label), label
    1 where a foot lands within frame j (landing render frame L with floor(L / 2) = j)."""
    lands = {land // 2 for land, *_ in src.steps}
    j0, j1 = src.steps[0][0] // 2 - 1, src.steps[-1][0] // 2 + 1
    return [(j, int(j in lands)) for j in range(max(1, j0), min(frames // 2 - 1, j1 + 1))]


def _samples(i: int) -> list[tuple[np.ndarray, np.ndarray, int]]:
    """Clip i -> per walker and model frame: (crops (5, 3, CROP_H, CROP_W) at shake, the same stabilised, label)."""
    assert _STORE is not None
    clip = _STORE.clip(i)
    scene = clip.scene
    frames = clip.frames.astype(np.float32) / 127.5 - 1  # (T, 3, 128, 128)
    big_t = frames.shape[0]
    pad = np.pad(frames, ((0, 0), (0, 0), (CROP_H, CROP_H), (CROP_W, CROP_W)))
    out = []
    for src in scene.sources:
        if src.kind != "walk" or len(src.steps) < 2:
            continue
        for j, label in walk_frames(src, big_t):
            f = 2 * j
            (xa, _), (xb, _) = src._feet(f)
            cx, gy = (xa + xb) / 2, src.region.ground
            views = []
            for shake in (True, False):
                crops = []
                for g in range(f - 2, f + 3):
                    ox, oy = scene.origin[f if shake else g]
                    # canvas (x, y) is frame pixel (x - ox, y - oy); + the padding
                    x0 = int(round(cx - ox - CROP_W / 2)) + CROP_W
                    y0 = int(round(gy - oy - (CROP_H - BELOW))) + CROP_H
                    crops.append(pad[g, :, y0:y0 + CROP_H, x0:x0 + CROP_W])
                views.append(np.stack(crops).astype(np.float16))
            out.append((views[0], views[1], label))
    return out


JIT, REACH = 64, 16  # jittered views: a JIT x JIT window at 128 px, the feet anywhere within +-REACH px of its centre


def _jittered(i: int) -> list[tuple[np.ndarray, int]]:
    """Clip i -> per walker and model frame: (frames j-1, j, j+1 (3, 3, JIT/2, JIT/2) at 64 px, label), the
    window placed at a random offset (seeded by i) around the feet: the walker is somewhere in it."""
    assert _STORE is not None
    clip = _STORE.clip(i)
    scene = clip.scene
    rng = np.random.default_rng(1000 + i)
    frames = clip.frames.astype(np.float32) / 127.5 - 1  # (T, 3, 128, 128)
    big_t, p = frames.shape[0], JIT + REACH
    pad = np.pad(frames, ((0, 0), (0, 0), (p, p), (p, p)))
    out = []
    for src in scene.sources:
        if src.kind != "walk" or len(src.steps) < 2:
            continue
        for j, label in walk_frames(src, big_t):
            f = 2 * j
            (xa, _), (xb, _) = src._feet(f)
            cx, gy = (xa + xb) / 2, src.region.ground
            dx, dy = rng.integers(-REACH, REACH + 1, 2)
            ox, oy = scene.origin[f]
            x0 = int(round(cx - ox - JIT / 2 + dx)) + p
            y0 = int(round(gy - oy - JIT / 2 + dy)) + p
            crops = np.stack([pad[g, :, y0:y0 + JIT, x0:x0 + JIT] for g in (f - 2, f, f + 2)])
            out.append((pool2(crops).astype(np.float16), label))
    return out


def _fullframe(i: int) -> list[tuple[np.ndarray, int]]:
    """Clip i, when it holds exactly one walker -> per model frame of its walk: (frames j-1, j, j+1 (3, 3,
    64, 64), the whole frame at 64 px, label). Nothing says where the walker is."""
    assert _STORE is not None
    clip = _STORE.clip(i)
    walkers = [s for s in clip.scene.sources if s.kind == "walk"]
    if len(walkers) != 1 or len(walkers[0].steps) < 2:
        return []
    src = walkers[0]
    frames = pool2(clip.frames.astype(np.float32) / 127.5 - 1)  # (T, 3, 64, 64)
    return [(frames[[2 * j - 2, 2 * j, 2 * j + 2]].astype(np.float16), label)
            for j, label in walk_frames(src, frames.shape[0])]


SAMPLERS = {"crops": (_samples, ("shake", "still")), "jit": (_jittered, ("jit",)), "full": (_fullframe, ("full",))}


def build(kind: str, bank: str, split: str, seed: int, clips: int, workers: int) -> dict[str, torch.Tensor]:
    """Render ``clips`` clips of ``split`` in ``workers`` processes and stack one sampler's rows: its named
    arrays, then "y" the labels (``SAMPLERS``: "crops", "jit" or "full")."""
    fn, names = SAMPLERS[kind]
    with Pool(workers, initializer=_init, initargs=(bank, split, seed)) as pool:
        rows = [r for part in pool.imap(fn, range(clips), chunksize=4) for r in part]
    out = {name: torch.from_numpy(np.stack([r[k] for r in rows])) for k, name in enumerate(names)}
    out["y"] = torch.tensor([r[-1] for r in rows], dtype=torch.float32)
    return out


class ConvNet(nn.Module):
    """The window path of ``encoder.video = "window"`` as a classifier: frames (n, 3, 3, s, s) -> (n,) logits."""

    def __init__(self, c: int = 64):
        super().__init__()
        self.convs = nn.ModuleList([nn.Conv2d(9, c // 2, 3, stride=2, padding=1),
                                    nn.Conv2d(c // 2, c // 2, 3, stride=2, padding=1),
                                    nn.Conv2d(c // 2, c, 3, stride=2, padding=1)])
        self.out = nn.Sequential(nn.Linear(2 * c, 128), nn.GELU(), nn.Linear(128, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = torch.cat([x[:, 1], x[:, 1] - x[:, 0], x[:, 2] - x[:, 1]], 1)  # (n, 9, s, s)
        for conv in self.convs:
            z = nn.functional.gelu(conv(z))
        return self.out(torch.cat([z.amax((-2, -1)), z.mean((-2, -1))], -1))


def view(data: dict[str, torch.Tensor], name: str) -> torch.Tensor:
    """(n, 5, 3, H, W) at 128 px, 25 fps -> (n, features) for a named view."""
    x = data["still" if "stabilised" in name else "shake"].float()
    if "25fps" not in name:
        x = x[:, [0, 2, 4]]  # 12.5 fps: render frames 2j-2, 2j, 2j+2; 25 fps: all five, 2j-2 .. 2j+2
    x = x.numpy()
    if name.startswith("64px") or name.startswith("32px"):
        x = pool2(x)
    if name.startswith("32px"):
        x = pool2(x)
    return torch.from_numpy(np.ascontiguousarray(x)).flatten(1)


def fit(xtr: torch.Tensor, ytr: torch.Tensor, xte: torch.Tensor, steps: int, seed: int,
        conv: bool = False) -> np.ndarray:
    """A 2-hidden-layer MLP on the standardised crops (or ``ConvNet`` on the raw ones), BCE on the label;
    test scores."""
    torch.manual_seed(seed)
    if conv:
        net: nn.Module = ConvNet()
    else:
        mu, sd = xtr.mean(0), xtr.std(0) + 1e-3
        xtr, xte = (xtr - mu) / sd, (xte - mu) / sd
        net = nn.Sequential(nn.Linear(xtr.shape[1], 256), nn.GELU(), nn.Dropout(0.2), nn.Linear(256, 128),
                            nn.GELU(), nn.Linear(128, 1))
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-2)
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(len(xtr), (256,), generator=g)
        loss = nn.functional.binary_cross_entropy_with_logits(net(xtr[idx])[:, 0], ytr[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        return torch.cat([torch.sigmoid(net(xte[k: k + 1024])[:, 0]) for k in range(0, len(xte), 1024)]).numpy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bank", default="data/bank")
    ap.add_argument("--clips", type=int, default=400)
    ap.add_argument("--test", type=int, default=100)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--cache", default="runs/walker-oracle")
    ap.add_argument("--views", nargs="+", default=["64px 12.5fps", "128px 12.5fps", "64px 25fps",
                                                   "64px 12.5fps stabilised", "32px 12.5fps"])
    ap.add_argument("--log", default="runs/sync-diagnosis.jsonl")
    args = ap.parse_args()
    torch.set_num_threads(2)
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    sets = {}
    crops = any("jittered" not in v and "full frame" not in v for v in args.views)
    for split, n, seed in (("train", args.clips, 31), ("test-open", args.test, 32)):
        path = cache / f"{split}-{n}.pt"
        if crops and not path.exists():
            t0 = time.perf_counter()
            d = build("crops", args.bank, split, seed, n, args.workers)
            torch.save(d, path)
            print(f"{split}: {n} clips -> {len(d['y'])} walker frames ({d['y'].mean():.3f} landings) in "
                  f"{time.perf_counter() - t0:.0f} s")
        if crops:
            sets[split] = torch.load(path)
        if any("jittered" in v for v in args.views):
            jpath = cache / f"{split}-{n}-jittered.pt"
            if not jpath.exists():
                torch.save(build("jit", args.bank, split, seed, n, args.workers), jpath)
            sets[split + "-jit"] = torch.load(jpath)
        if any("full frame" in v for v in args.views):
            fpath = cache / f"{split}-{n}-fullframe.pt"
            if not fpath.exists():
                torch.save(build("full", args.bank, split, seed, n, args.workers), fpath)
            sets[split + "-full"] = torch.load(fpath)
    print(f"{'view':28s} {'AP':>6s} {'chance':>7s}")
    for name in args.views:
        jit = "jittered" in name
        if "full frame" in name:
            tr, te = sets["train-full"], sets["test-open-full"]
        else:
            tr, te = (sets["train-jit"], sets["test-open-jit"]) if jit else (sets["train"], sets["test-open"])
        chance = float(te["y"].mean())
        if "full frame" in name:
            s = fit(tr["full"].float(), tr["y"], te["full"].float(), args.steps, seed=0, conv=True)
        elif jit:
            xtr, xte = tr["jit"].float(), te["jit"].float()
            s = fit(xtr if "conv" in name else xtr.flatten(1), tr["y"], xte if "conv" in name else xte.flatten(1),
                    args.steps, seed=0, conv="conv" in name)
        else:
            s = fit(view(tr, name), tr["y"], view(te, name), args.steps, seed=0)
        apv = average_precision(te["y"].numpy().astype(bool), s)
        print(f"{name:28s} {apv:6.3f} {chance:7.3f}", flush=True)
        with open(args.log, "a") as fh:
            fh.write(json.dumps({"part": "walker-oracle", "view": name, "ap": apv, "chance": chance,
                                 "train_samples": len(tr["y"]), "test_samples": len(te["y"]),
                                 "steps": args.steps}) + "\n")


if __name__ == "__main__":
    main()
