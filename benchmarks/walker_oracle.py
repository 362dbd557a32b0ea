"""Is a walker's foot landing in the pixels at all? A crop oracle (docs/sync-diagnosis.md part 14)

    python benchmarks/walker_oracle.py --clips 400 --test 100     # the crop views in one table
    python benchmarks/walker_oracle.py --views "64px 12.5fps full frame conv" "64px 12.5fps full frame stabilised conv" \
        "64px 12.5fps full frame estimated conv" --steps 2000 --threads 1
    python benchmarks/walker_oracle.py --views "64px 12.5fps full frame stream conv" --steps 1500 --threads 1

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
- ``... full frame stabilised conv``: the same, frames j-1 and j+1 moved into frame j's camera by the
  renderer's true shake; ``... full frame estimated conv``: moved by the shift
  ``openfoley.features.stabilise`` estimates from the pixels (docs/sync-diagnosis.md part 15)
- ``64px 12.5fps conv``: the first view's crops, ``ConvNet`` instead of the MLP
- ``64px 12.5fps full frame stream conv``: the whole-frame view trained on a stream of fresh renders (one
  render process, a buffer of the newest 40,000 walker frames, random left-right flips), AP every 500 steps

``--arch fine`` gives every ``conv`` view a first 3 x 3 layer of stride 1 (16 channels) before the three
stride-2 layers. Each row also prints the AP on 4,000 of its training samples (memorising shows there).

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


def _shifted(img: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """(3, H, W) -> out(y, x) = img(y + dy, x + dx), the edge pixels repeated outside the frame."""
    p = 2 * CROP_H
    pad = np.pad(img, ((0, 0), (p, p), (p, p)), mode="edge")
    h, w = img.shape[1:]
    return pad[:, p + dy: p + dy + h, p + dx: p + dx + w]


def _fullframe_still(i: int) -> list[tuple[np.ndarray, int]]:
    """As ``_fullframe``, frames j-1 and j+1 moved into frame j's camera by the renderer's true shake."""
    assert _STORE is not None
    clip = _STORE.clip(i)
    walkers = [s for s in clip.scene.sources if s.kind == "walk"]
    if len(walkers) != 1 or len(walkers[0].steps) < 2:
        return []
    origin = clip.scene.origin  # (T, 2) each render frame's crop origin (x, y) on the canvas
    frames = clip.frames.astype(np.float32) / 127.5 - 1  # (T, 3, 128, 128)
    out = []
    for j, label in walk_frames(walkers[0], frames.shape[0]):
        f = 2 * j
        # frame g's pixel (x, y) is canvas (x + ox_g, y + oy_g): frame f's view of it is g at + (o_f - o_g)
        crops = [_shifted(frames[g], *(int(v) for v in origin[f] - origin[g])) for g in (f - 2, f, f + 2)]
        out.append((pool2(np.stack(crops)).astype(np.float16), label))
    return out


SAMPLERS = {"crops": (_samples, ("shake", "still")), "jit": (_jittered, ("jit",)), "full": (_fullframe, ("full",)),
            "still": (_fullframe_still, ("full",))}


def estimated(x: torch.Tensor) -> torch.Tensor:
    """Whole frames (n, 3, 3, h, w) -> the same with frames 0 and 2 moved into frame 1's camera by the
    shift ``openfoley.features.stabilise`` estimates. One difference from the model's
    ``aligned_neighbours``: frame 2's shift is searched for directly (frame 1 against frame 2), where the
    model negates the shift of the pair (1, 2) searched the other way; the two agree to the parabola's
    sub-pixel rounding. Part 15's "estimated" row (0.540) was measured with this function."""
    from openfoley.features.stabilise import estimate_shift, warp

    out = []
    for k in range(0, len(x), 512):
        v = x[k: k + 512].float()
        g = v.mean(2)
        out.append(torch.stack([warp(v[:, 0], estimate_shift(g[:, 1], g[:, 0])), v[:, 1],
                                warp(v[:, 2], estimate_shift(g[:, 1], g[:, 2]))], 1).half())
    return torch.cat(out)


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

    def __init__(self, c: int = 64, fine: bool = False):
        super().__init__()
        # fine: a first 3 x 3 layer of stride 1 (16 channels), so the stride-2 layers see features, not pixels
        self.first = nn.Conv2d(9, 16, 3, padding=1) if fine else None
        self.convs = nn.ModuleList([nn.Conv2d(16 if fine else 9, c // 2, 3, stride=2, padding=1),
                                    nn.Conv2d(c // 2, c // 2, 3, stride=2, padding=1),
                                    nn.Conv2d(c // 2, c, 3, stride=2, padding=1)])
        self.out = nn.Sequential(nn.Linear(2 * c, 128), nn.GELU(), nn.Linear(128, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = torch.cat([x[:, 1], x[:, 1] - x[:, 0], x[:, 2] - x[:, 1]], 1)  # (n, 9, s, s)
        if self.first is not None:
            z = nn.functional.gelu(self.first(z))
        for conv in self.convs:
            z = nn.functional.gelu(conv(z))
        return self.out(torch.cat([z.amax((-2, -1)), z.mean((-2, -1))], -1))


def view(data: dict[str, torch.Tensor], name: str) -> torch.Tensor:
    """(n, 5, 3, H, W) at 128 px, 25 fps -> (n, frames, 3, h, w) for a named crop view."""
    x = data["still" if "stabilised" in name else "shake"].float()
    if "25fps" not in name:
        x = x[:, [0, 2, 4]]  # 12.5 fps: render frames 2j-2, 2j, 2j+2; 25 fps: all five, 2j-2 .. 2j+2
    x = x.numpy()
    if name.startswith("64px") or name.startswith("32px"):
        x = pool2(x)
    if name.startswith("32px"):
        x = pool2(x)
    return torch.from_numpy(np.ascontiguousarray(x))


def make_net(conv: bool, fine: bool, inputs: int) -> nn.Module:
    if conv:
        return ConvNet(fine=fine)
    return nn.Sequential(nn.Linear(inputs, 256), nn.GELU(), nn.Dropout(0.2), nn.Linear(256, 128), nn.GELU(),
                         nn.Linear(128, 1))


def scores(net: nn.Module, x: torch.Tensor) -> np.ndarray:
    net.eval()
    with torch.no_grad():
        out = torch.cat([torch.sigmoid(net(x[k: k + 1024].float())[:, 0]) for k in range(0, len(x), 1024)]).numpy()
    net.train()
    return out


def fit(xtr: torch.Tensor, ytr: torch.Tensor, xte: torch.Tensor, steps: int, seed: int,
        conv: bool = False, fine: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """A 2-hidden-layer MLP on the standardised, flattened samples (or ``ConvNet`` on the raw ones), BCE
    on the label, AdamW 1e-3, 256 samples per step -> (test scores, scores of the first 4,000 training
    samples)."""
    torch.manual_seed(seed)
    if not conv:
        xtr, xte = xtr.float().flatten(1), xte.float().flatten(1)
        mu, sd = xtr.mean(0), xtr.std(0) + 1e-3
        xtr, xte = (xtr - mu) / sd, (xte - mu) / sd
    net = make_net(conv, fine, xtr[0].numel())
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-2)
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(len(xtr), (256,), generator=g)
        loss = nn.functional.binary_cross_entropy_with_logits(net(xtr[idx].float())[:, 0], ytr[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return scores(net, xte), scores(net, xtr[:4000])


def stream(args, te: dict[str, torch.Tensor], fine: bool) -> list[tuple[int, int, float]]:
    """``ConvNet`` on whole frames of fresh train renders (clips 10,000 on, one render process, a buffer
    of the newest 40,000 walker frames, random left-right flips) -> (step, walker frames rendered, test AP)
    every 500 steps."""
    import collections
    import threading

    buf: collections.deque = collections.deque(maxlen=40_000)
    seen = [0]

    def feed() -> None:
        with Pool(1, initializer=_init, initargs=(args.bank, "train", 31)) as pool:
            for rows in pool.imap(_fullframe, range(10_000, 10_000_000), chunksize=2):
                for x, y in rows:
                    buf.append((torch.from_numpy(x), y))
                    seen[0] += 1

    threading.Thread(target=feed, daemon=True).start()
    while len(buf) < 2000:
        time.sleep(1)
    torch.manual_seed(0)
    net = ConvNet(fine=fine)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-2)
    rng = np.random.default_rng(0)
    out = []
    for step in range(1, args.steps + 1):
        items = [buf[i] for i in rng.integers(0, len(buf), 256)]
        x = torch.stack([it[0] for it in items]).float()
        flip = torch.from_numpy(rng.random(256) < 0.5)
        x[flip] = x[flip].flip(-1)
        y = torch.tensor([it[1] for it in items], dtype=torch.float32)
        loss = nn.functional.binary_cross_entropy_with_logits(net(x)[:, 0], y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 500 == 0 or step == args.steps:
            apv = average_precision(te["y"].numpy().astype(bool), scores(net, te["full"]))
            out.append((step, seen[0], apv))
            print(f"  stream step {step}: {seen[0]} walker frames rendered, test AP {apv:.3f}", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bank", default="data/bank")
    ap.add_argument("--clips", type=int, default=400)
    ap.add_argument("--test", type=int, default=100)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--arch", choices=("conv", "fine"), default="conv", help="the conv views' network")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cache", default="runs/walker-oracle")
    ap.add_argument("--views", nargs="+", default=["64px 12.5fps", "128px 12.5fps", "64px 25fps",
                                                   "64px 12.5fps stabilised", "32px 12.5fps"])
    ap.add_argument("--log", default="runs/sync-diagnosis.jsonl")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    fine = args.arch == "fine"
    sets = {}
    crops = any("jittered" not in v and "full frame" not in v for v in args.views)
    full = any("full frame" in v and "stabilised" not in v for v in args.views)
    still = any("full frame stabilised" in v for v in args.views)
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
        for want, kind, suffix in ((any("jittered" in v for v in args.views), "jit", "jittered"),
                                   (full, "full", "fullframe"), (still, "still", "fullstill")):
            if want:
                kpath = cache / f"{split}-{n}-{suffix}.pt"
                if not kpath.exists():
                    torch.save(build(kind, args.bank, split, seed, n, args.workers), kpath)
                sets[f"{split}-{kind}"] = torch.load(kpath)
    print(f"{'view':40s} {'AP':>6s} {'chance':>7s} {'train AP':>9s}")
    for name in args.views:
        conv = "conv" in name
        if "full frame" in name:
            tr, te = (sets["train-still"], sets["test-open-still"]) if "stabilised" in name else \
                (sets["train-full"], sets["test-open-full"])
            xtr, xte = tr["full"], te["full"]
            if "estimated" in name:
                xtr, xte = estimated(xtr), estimated(xte)
        elif "jittered" in name:
            tr, te = sets["train-jit"], sets["test-open-jit"]
            xtr, xte = tr["jit"], te["jit"]
        else:
            tr, te = sets["train"], sets["test-open"]
            xtr, xte = view(tr, name), view(te, name)
        chance = float(te["y"].mean())
        rec = {"part": "walker-oracle", "view": name, "arch": args.arch if conv else "mlp", "chance": chance,
               "train_samples": len(tr["y"]), "test_samples": len(te["y"]), "steps": args.steps}
        if "stream" in name:
            curve = stream(args, {"full": xte, "y": te["y"]}, fine)
            rec |= {"ap": curve[-1][2], "curve": curve}
            print(f"{name:40s} {curve[-1][2]:6.3f} {chance:7.3f} {'-':>9s}", flush=True)
        else:
            s, s_tr = fit(xtr, tr["y"], xte, args.steps, seed=0, conv=conv, fine=fine)
            apv = average_precision(te["y"].numpy().astype(bool), s)
            ap_tr = average_precision(tr["y"][:4000].numpy().astype(bool), s_tr)
            rec |= {"ap": apv, "train_ap": ap_tr}
            print(f"{name:40s} {apv:6.3f} {chance:7.3f} {ap_tr:9.3f}", flush=True)
        with open(args.log, "a") as fh:
            fh.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    main()
