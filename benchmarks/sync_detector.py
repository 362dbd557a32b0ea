"""Can a video network trained from co-occurrence say *when* a sound starts? (docs/sync-diagnosis.md part 7)

    python benchmarks/sync_detector.py cache  --train 2000 --test 200      # live renders -> runs/diag-cache/
    python benchmarks/sync_detector.py train  --arch patch1 --steps 600    # one video path, scored
    python benchmarks/sync_detector.py all    --steps 600                  # every --arch in one table
    python benchmarks/sync_detector.py ceiling                             # the audio's own onset strength
    python benchmarks/sync_detector.py model --weights runs/RUN/weights     # a trained model's onset head
    python benchmarks/sync_detector.py kinds --weights builtin --clips 60   # ... its recall per source kind
    python benchmarks/sync_detector.py walkap --weights builtin --clips 40  # ... window pretraining's AP
    python benchmarks/sync_detector.py train --arch motion3f --walkers 0.5 --target labels   # can it see a foot land?

Each video path (``--arch``) maps frames (b, t, 3, 64, 64) at 12.5 fps to features (b, t, d) and a linear
head reads one number per frame. It is trained on the *audio's* onset strength at each frame
(``openfoley.alignment.mma.onset_target``: positive spectral flux of the normalised log-mel, the max
within the frame), the self-supervised target of ``alignment.onset_weight``, never on the renderer's
labels. It is scored on held-out test-closed renders against the true event times:

- AP: per-frame average precision for "an event starts within this frame's 80 ms or the previous
  one's" (an event between two 12.5 fps frames first shows in the later one; chance = positive rate);
- event F1: peaks of the head's output above a threshold (tuned on the training clips) matched one to
  one with the true events within 0.1 s, as the benchmark's event-time F1 matches audio onsets.

Arches: an encoder kind and its number of temporal layers, optionally followed by the MMA
transformer's aligned pass (``+mma``, what the onset head of the model reads): ``patch1`` is the
shipped patch encoder, ``motion1`` the local-motion encoder (``openfoley.encoders.video.MotionVideoEncoder``,
``encoder.video = "motion"``); a trailing ``f`` (``motion3f``) reads the frames at ``encoder.motion_pool``
1, the full 64 px, instead of the preset's 32 px view.

``--walkers 0.5`` renders (and reads) caches of their own in which half of the strike and impact sources
are walkers (``RenderConfig.walker_share``); the test score then adds each source kind's recall (docs/
sync-diagnosis.md part 11: can the head see a foot land?).

Every run appends a JSON line to ``--log`` (default runs/sync-diagnosis.jsonl).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from openfoley.alignment.mma import MMA, onset_target
from openfoley.config import get_preset
from openfoley.encoders import build_video_encoder
from openfoley.evaluation.metrics import average_precision, event_time_error

ARCHES = ("patch1", "patch3", "patch1+mma", "motion1", "motion3", "motion1+mma", "motion3f", "window3")
_STORE = None


def small_at(size: int):
    """The ``small`` preset with its frames read at ``size`` px (64: the preset itself)."""
    cfg = get_preset("small")
    return cfg if size == cfg.video.size else dataclasses.replace(cfg, video=dataclasses.replace(cfg.video, size=size))


def _init(bank: str, split: str, seed: int, walkers: float = 0.0, size: int = 64) -> None:
    global _STORE
    from openfoley.config.tools import RenderConfig
    from openfoley.data.foleyworld.live import LiveStore

    torch.set_num_threads(1)
    cfg = small_at(size)
    render = RenderConfig(seconds=cfg.seconds, size=128, sample_rate=cfg.audio.sample_rate, walker_share=walkers)
    _STORE = LiveStore(bank, cfg, split=split, seed=seed, render=render)


def _item(i: int):
    assert _STORE is not None
    it = _STORE[i]
    return it["frames"], it["mel"], it["events"], it["event_kinds"]


def cache_name(split: str, n: int, walkers: float, size: int = 64) -> str:
    """The cache file of ``n`` clips of ``split``; ``-w0.5``: rendered with walker_share 0.5; ``-128px``:
    frames read at 128 px instead of the preset's 64."""
    return f"{split}-{n}" + (f"-w{walkers:g}" if walkers > 0 else "") + (f"-{size}px" if size != 64 else "") + ".pt"


def part_cache(args) -> None:
    out = Path(args.cache)
    out.mkdir(parents=True, exist_ok=True)
    for split, n, seed in (("train", args.train, 21), ("test-closed", args.test, 22)):
        path = out / cache_name(split, n, args.walkers, args.size)
        if path.exists():
            print(f"{path} exists")
            continue
        t0 = time.perf_counter()
        with Pool(args.workers, initializer=_init, initargs=(args.bank, split, seed, args.walkers, args.size)) as pool:
            items = pool.map(_item, range(n), chunksize=8)
        frames = torch.stack([torch.as_tensor(it[0]) for it in items])
        mel = torch.stack([it[1] for it in items])
        events = [torch.as_tensor(it[2]) for it in items]
        kinds = [it[3] for it in items]
        tmp = path.with_suffix(".tmp")
        torch.save({"frames": frames, "mel": mel, "events": events, "kinds": kinds}, tmp)
        tmp.rename(path)
        print(f"{split}: {n} clips in {time.perf_counter() - t0:.0f} s -> {path} {tuple(frames.shape)}")


def frame_labels(events: list[torch.Tensor], t: int, step: float, late: int = 1) -> torch.Tensor:
    """(b, t) bool: an event starts within frame i's interval or up to ``late`` frames before it."""
    y = torch.zeros(len(events), t, dtype=torch.bool)
    for j, ev in enumerate(events):
        for e in ev.tolist():
            i = int(np.floor(e / step))
            y[j, max(0, i): min(t, i + late + 1)] = True
    return y


def peaks(s: np.ndarray, th: float) -> np.ndarray:
    """Indices of local maxima of s (t,) at or above th."""
    left = np.concatenate([[-np.inf], s[:-1]])
    right = np.concatenate([s[1:], [-np.inf]])
    return np.flatnonzero((s >= th) & (s > left) & (s >= right))


def event_f1(scores: np.ndarray, events: list[torch.Tensor], step: float, th: float) -> tuple[float, float]:
    """Mean event-time F1 over clips of peaks (at frame start times + half a frame) vs the truth, and peaks/clip."""
    f1s, counts = [], []
    for s, ev in zip(scores, events, strict=True):
        det = (peaks(s, th) + 0.5) * step
        f1s.append(event_time_error(det, ev.numpy().astype(np.float64)).f1)
        counts.append(len(det))
    return float(np.mean(f1s)), float(np.mean(counts))


def kind_recall(scores: np.ndarray, events: list[torch.Tensor], kinds: list[list[str]], step: float,
                th: float) -> dict[str, tuple[int, float]]:
    """Per source kind: (events, share of them with a peak >= th in their frame or the one after)."""
    hits: dict[str, list[bool]] = {}
    for s, ev, ks in zip(scores, events, kinds, strict=True):
        pk = set(peaks(s, th).tolist())
        for e, k in zip(ev.tolist(), ks, strict=True):
            i = int(np.floor(e / step))
            hits.setdefault(k, []).append(bool(pk & {i, i + 1}))
    return {k: (len(v), float(np.mean(v))) for k, v in sorted(hits.items())}


def kind_profile(scores: np.ndarray, events: list[torch.Tensor], kinds: list[list[str]], step: float,
                 reach: int = 3) -> dict[str, list[float]]:
    """Per source kind: the mean output at offsets -reach..+reach frames around its events' frames. A path
    that knows *when* a kind's event happens peaks at offset 0 or +1; a flat profile means it only knows
    that such a source is there (docs/sync-diagnosis.md part 13)."""
    rows: dict[str, list[np.ndarray]] = {}
    for s, ev, ks in zip(scores, events, kinds, strict=True):
        for e, k in zip(ev.tolist(), ks, strict=True):
            i = int(np.floor(e / step))
            if reach <= i < len(s) - reach:
                rows.setdefault(k, []).append(s[i - reach: i + reach + 1])
    return {k: np.mean(v, axis=0).round(4).tolist() for k, v in sorted(rows.items())}


def score(s_tr: np.ndarray, ev_tr: list[torch.Tensor], s_te: np.ndarray, ev_te: list[torch.Tensor],
          step_s: float) -> tuple[float, float, float, float, float]:
    """Per-frame scores (clips, t) -> (AP, chance, event F1, peaks per clip, threshold) on the test clips,
    with the peak threshold tuned for event F1 on the training clips."""
    y_te = frame_labels(ev_te, s_te.shape[1], step_s).numpy()
    ap = average_precision(y_te.ravel(), s_te.ravel())
    ths = np.quantile(s_tr, np.linspace(0.6, 0.99, 20))
    best = max(ths, key=lambda th: event_f1(s_tr, ev_tr, step_s, th)[0])
    f1, count = event_f1(s_te, ev_te, step_s, best)
    return float(ap), float(y_te.mean()), f1, count, float(best)


class Detector(nn.Module):
    """A video path of ``arch`` + a linear onset head: frames (b, t, 3, H, W) uint8 -> (b, t)."""

    def __init__(self, arch: str, size: int = 64):
        super().__init__()
        cfg = small_at(size)
        base = arch.split("+")[0]  # encoder kind + temporal layers, e.g. motion3; motion3f: at motion_pool 1
        pool = 1 if base.endswith("f") else cfg.encoder.motion_pool
        base = base.removesuffix("f")
        enc = dataclasses.replace(cfg.encoder, video=base.rstrip("0123456789"), temporal_layers=int(base[-1]),
                                  motion_pool=pool)
        cfg = dataclasses.replace(cfg, encoder=enc)
        self.arch, self.cfg = arch, cfg
        self.encoder = build_video_encoder(cfg)
        self.mma = MMA(cfg) if arch.endswith("+mma") else None
        self.head = nn.Linear(cfg.encoder.width, 1)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        h = self.encoder(frames).features  # (b, t, d)
        if self.mma is not None:
            h = self.mma.align(h, self.encoder(frames).times)
        return self.head(h)[..., 0]


def part_train(args, arch: str | None = None) -> dict:
    arch = arch or args.arch
    cache = Path(args.cache)
    tr = torch.load(cache / cache_name("train", args.train, args.walkers, args.size))
    te = torch.load(cache / cache_name("test-closed", args.test, args.walkers, args.size))
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    det = Detector(arch, args.size)
    cfg = det.cfg
    mean = tr["mel"].mean(dim=(0, 2))[:, None]
    std = tr["mel"].std(dim=(0, 2)).clamp_min(1e-3)[:, None]
    t = tr["frames"].shape[1]
    if args.target == "labels":  # diagnostic only: the renderer's true event frames, never a training signal
        target_tr = frame_labels(tr["events"], t, cfg.seconds / t).float()  # (N, t)
    else:
        target_tr = onset_target((tr["mel"] - mean) / std, t)  # (N, t)
    opt = torch.optim.Adam(det.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / 50) * 0.5 * (1 + np.cos(np.pi * min(s, args.steps) / args.steps)))
    g = torch.Generator().manual_seed(0)
    n = tr["frames"].shape[0]
    step_s = cfg.seconds / t
    evals = sorted({int(x) for x in args.eval_at.split(",") if x} | {args.steps})

    def scores(frames: torch.Tensor) -> np.ndarray:
        with torch.no_grad():
            return torch.cat([det(frames[i: i + 32]) for i in range(0, frames.shape[0], 32)]).numpy()

    t0 = time.perf_counter()
    rec: dict = {}
    for step in range(1, args.steps + 1):
        det.train()
        idx = torch.randint(0, n, (args.batch,), generator=g)
        pred = det(tr["frames"][idx])
        loss = F.mse_loss(pred, target_tr[idx])
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(det.parameters(), 1.0)
        opt.step()
        sched.step()
        if step % 100 == 0:
            print(f"[{arch}] step {step} loss {loss.item():.4f} ({(time.perf_counter() - t0) / step:.2f} s/step)",
                  flush=True)
        if step not in evals:
            continue
        train_s = time.perf_counter() - t0
        det.eval()
        s_te = scores(te["frames"])
        ap, chance, f1, count, th = score(scores(tr["frames"][:150]), tr["events"][:150], s_te, te["events"], step_s)
        by_kind = kind_recall(s_te, te["events"], te["kinds"], step_s, th) if "kinds" in te else {}
        profile = kind_profile(s_te, te["events"], te["kinds"], step_s) if "kinds" in te else {}
        rec = {"part": "detector", "arch": arch, "steps": step, "walkers": args.walkers, "target": args.target,
               "recall_by_kind": by_kind, "profile_by_kind": profile, "batch": args.batch, "train_clips": args.train,
               "test_clips": args.test, "ap": ap, "chance": chance, "event_f1": f1,
               "peaks_per_clip": count, "true_events_per_clip": float(np.mean([len(e) for e in te["events"]])),
               "final_loss": loss.item(), "train_seconds": train_s,
               "params": sum(p.numel() for p in det.parameters())}
        Path(args.log).parent.mkdir(parents=True, exist_ok=True)
        with open(args.log, "a") as f:
            f.write(json.dumps(rec) + "\n")
        print(f"[{arch}] step {step}: AP {ap:.3f} (chance {rec['chance']:.3f}), event F1 {f1:.3f}, peaks/clip "
              f"{count:.1f} (true {rec['true_events_per_clip']:.1f}), {train_s:.0f} s", flush=True)
        if by_kind:
            print(f"[{arch}]   recall by kind: " + ", ".join(f"{k} {r:.2f} ({n})" for k, (n, r) in by_kind.items()))
            for k, prof in profile.items():
                print(f"[{arch}]   {k:10s} mean output at offsets -3..+3: " + " ".join(f"{x:.3f}" for x in prof))
    return rec


def part_ceiling(args) -> dict:
    """The target itself as the detector: the audio's own onset strength, scored like a video path."""
    cache = Path(args.cache)
    tr = torch.load(cache / f"train-{args.train}.pt")
    te = torch.load(cache / f"test-closed-{args.test}.pt")
    mean = tr["mel"].mean(dim=(0, 2))[:, None]
    std = tr["mel"].std(dim=(0, 2)).clamp_min(1e-3)[:, None]
    t = tr["frames"].shape[1]
    step_s = get_preset("small").seconds / t
    s_tr = onset_target((tr["mel"][:150] - mean) / std, t).numpy()
    s_te = onset_target((te["mel"] - mean) / std, t).numpy()
    ap, chance, f1, count, _ = score(s_tr, tr["events"][:150], s_te, te["events"], step_s)
    rec = {"part": "detector", "arch": "audio onset target (ceiling)", "ap": ap, "chance": chance,
           "event_f1": f1, "peaks_per_clip": count, "test_clips": args.test}
    with open(args.log, "a") as f:
        f.write(json.dumps(rec) + "\n")
    print(f"[ceiling] the audio's own onset strength: AP {ap:.3f} (chance {rec['chance']:.3f}), event F1 {f1:.3f}, "
          f"peaks/clip {count:.1f}")
    return rec


def part_model(args) -> dict:
    """A trained model's own onset head (``alignment.onset_weight`` > 0) on its aligned features, scored alike."""
    from openfoley.pipeline.core import FoleyPipeline

    model = FoleyPipeline.from_pretrained(args.weights, device="cpu", vocoder="griffinlim").model.eval()
    if model.mma is None or model.mma.onset_head is None:
        raise SystemExit(f"error: {args.weights} has no onset head (alignment.onset_weight = 0)")
    cache = Path(args.cache)
    tr = torch.load(cache / f"train-{args.train}.pt")
    te = torch.load(cache / f"test-closed-{args.test}.pt")
    t = te["frames"].shape[1]
    step_s = model.cfg.seconds / t

    def scores(frames: torch.Tensor) -> np.ndarray:
        with torch.no_grad():
            return torch.cat([model.onset_track(frames[i: i + 16], model.align(frames[i: i + 16]))
                              for i in range(0, frames.shape[0], 16)]).numpy()

    ap, chance, f1, count, th = score(scores(tr["frames"][:150]), tr["events"][:150], scores(te["frames"]),
                                  te["events"], step_s)
    rec = {"part": "detector", "arch": f"model {args.weights} onset head", "ap": ap,
           "chance": chance, "event_f1": f1, "peaks_per_clip": count, "threshold": th,
           "test_clips": args.test}
    with open(args.log, "a") as f:
        f.write(json.dumps(rec) + "\n")
    print(f"[{args.weights}] onset head on aligned features: AP {ap:.3f} (chance {rec['chance']:.3f}), "
          f"event F1 {f1:.3f}, peaks/clip {count:.1f}, at peaks >= {th:.3f} (tuned on 150 training clips: "
          f"the value for flow.onset_peak_threshold)")
    return rec


def part_kinds(args) -> list[dict]:
    """A trained model's onset head, per source kind: does it fire where a walker's foot lands?

    For every true event: the head's maximum over the event's frame and the one after it (where an
    event first shows); its share at or above the model's ``flow.onset_peak_threshold`` is the kind's
    recall. Background: frames more than 2 frames from every event. On the first ``--clips`` clips of the
    two test stores and of live train-split renders (seed 123, never a training seed) with every strike
    and impact source drawn as a walker (``walker_share`` 1) and with none (0).
    """
    from openfoley.config.tools import RenderConfig
    from openfoley.data.foleyworld.live import LiveStore
    from openfoley.features.store import FeatureStore
    from openfoley.pipeline.core import FoleyPipeline

    torch.set_num_threads(args.threads)
    model = FoleyPipeline.from_pretrained(args.weights, device="cpu", vocoder="griffinlim").model.eval()
    if model.mma is None or model.mma.onset_head is None:
        raise SystemExit(f"error: {args.weights} has no onset head (alignment.onset_weight = 0)")
    cfg, th, n = model.cfg, model.cfg.flow.onset_peak_threshold, args.clips

    def from_store(split):
        st = FeatureStore(Path(args.stores) / f"store-small-{split}")
        for i in range(min(n, len(st))):
            ev = st.records[i]["extra"]["events"]
            yield st[i]["frames"], [e["time"] for e in ev], [e["kind"] for e in ev]

    def live(share):
        render = RenderConfig(seconds=cfg.seconds, size=128, sample_rate=cfg.audio.sample_rate, walker_share=share)
        ls = LiveStore(args.bank, cfg, split="train", seed=123, render=render)
        for i in range(n):
            it = ls[i]
            yield it["frames"], it["events"].tolist(), it["event_kinds"]

    rows = []
    sets = (("test-closed", from_store("test-closed")), ("test-open", from_store("test-open")),
            ("live train, walker_share 1", live(1.0)), ("live train, walker_share 0", live(0.0)))
    for name, clips in sets:
        peak: dict[str, list[float]] = {}
        bg = []
        all_s, all_ev, all_k = [], [], []
        for frames, times, kinds in clips:
            with torch.no_grad():
                fr = torch.as_tensor(frames)[None]
                s = model.onset_track(fr, model.align(fr))[0].numpy()
            step = cfg.seconds / len(s)
            all_s.append(s)
            all_ev.append(torch.as_tensor(np.asarray(times, dtype=np.float32)))
            all_k.append(list(kinds))
            far = np.ones(len(s), bool)
            for e, k in zip(times, kinds, strict=True):
                i = int(np.floor(e / step))
                peak.setdefault(k, []).append(float(s[max(0, i): i + 2].max()))
                far[max(0, i - 2): i + 3] = False
            bg.extend(s[far].tolist())
        bg_a = np.asarray(bg)
        print(f"{name}: background median {np.median(bg_a):.3f}, share >= {th:.2f}: {np.mean(bg_a >= th):.3f}")
        for k, v in sorted(peak.items()):
            v_a = np.asarray(v)
            rec = {"part": "kinds", "weights": args.weights, "set": name, "kind": k, "events": len(v),
                   "median_peak": float(np.median(v_a)), "recall": float(np.mean(v_a >= th)), "threshold": th}
            rows.append(rec)
            print(f"   {k:10s} events {len(v):4d}  median head {rec['median_peak']:.3f}  recall {rec['recall']:.3f}")
        for k, prof in kind_profile(np.stack(all_s), all_ev, all_k, cfg.seconds / len(all_s[0])).items():
            rows.append({"part": "kinds-profile", "weights": args.weights, "set": name, "kind": k, "profile": prof})
            print(f"   {k:10s} mean head at offsets -3..+3: " + " ".join(f"{x:.3f}" for x in prof))
    with open(args.log, "a") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    return rows


def part_walkap(args) -> dict:
    """A trained model's onset head on the held-out renders and metric of window pretraining
    (``openfoley.training.window.frame_aps``: AP over all frames, and ``walk_ap`` for walker landings
    against event-free frames), so the two can be read side by side."""
    from openfoley.evaluation.metrics import average_precision
    from openfoley.pipeline.core import FoleyPipeline
    from openfoley.training.window import eval_items, frame_aps

    torch.set_num_threads(args.threads)
    model = FoleyPipeline.from_pretrained(args.weights, device="cpu", vocoder="griffinlim").model.eval()
    if model.mma is None or model.mma.onset_head is None:
        raise SystemExit(f"error: {args.weights} has no onset head (alignment.onset_weight = 0)")
    items = eval_items(args.bank, model.cfg, args.clips)
    frames = torch.stack([it["frames"] for it in items])
    with torch.no_grad():
        s = torch.cat([model.onset_track(frames[i: i + 8], model.align(frames[i: i + 8]))
                       for i in range(0, len(items), 8)]).numpy()
    rec = {"part": "walkap", "weights": args.weights, "clips": args.clips,
           **frame_aps(s, items, model.cfg.video.fps, average_precision)}
    with open(args.log, "a") as f:
        f.write(json.dumps(rec) + "\n")
    print(" ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in rec.items()))
    return rec


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("part", choices=("cache", "train", "all", "ceiling", "model", "kinds", "walkap"))
    ap.add_argument("--bank", default="data/bank")
    ap.add_argument("--cache", default="runs/diag-cache")
    ap.add_argument("--train", type=int, default=2000)
    ap.add_argument("--test", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--walkers", type=float, default=0.0,
                    help="cache/train: clips rendered with this RenderConfig.walker_share (a cache of their own)")
    ap.add_argument("--arch", choices=ARCHES, default="patch1")
    ap.add_argument("--size", type=int, default=64,
                    help="cache/train: read the frames at this many px (the renders are 128; the preset reads 64)")
    ap.add_argument("--target", choices=("audio", "labels"), default="audio",
                    help="train: the audio's onset strength (self-supervised, the model's target) or, as a "
                         "diagnostic of what a video path can see, the renderer's true event frames")
    ap.add_argument("--archs", nargs="+", default=list(ARCHES))
    ap.add_argument("--weights", default="builtin", help="model: the weights folder whose onset head to score")
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--eval-at", default="", help="comma-separated steps to score at (the last step always)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--log", default="runs/sync-diagnosis.jsonl")
    ap.add_argument("--clips", type=int, default=60, help="kinds: clips per set")
    ap.add_argument("--stores", default="data", help="kinds: the folder holding store-small-test-*")
    args = ap.parse_args(argv)
    if args.part == "cache":
        part_cache(args)
    elif args.part == "train":
        part_train(args)
    elif args.part == "ceiling":
        part_ceiling(args)
    elif args.part == "model":
        part_model(args)
    elif args.part == "kinds":
        part_kinds(args)
    elif args.part == "walkap":
        part_walkap(args)
    else:
        rows = [part_train(args, a) for a in args.archs]
        print(f"\n{'video path':12s} {'AP':>6s} {'chance':>6s} {'event F1':>8s} {'peaks':>6s} {'true':>5s} {'s':>5s}")
        for r in rows:
            print(f"{r['arch']:12s} {r['ap']:6.3f} {r['chance']:6.3f} {r['event_f1']:8.3f} {r['peaks_per_clip']:6.1f} "
                  f"{r['true_events_per_clip']:5.1f} {r['train_seconds']:5.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
