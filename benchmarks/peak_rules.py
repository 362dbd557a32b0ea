"""Which rule turns the onset head's track into events? Video-event F1 of peak-picking rules, offline.

    python benchmarks/peak_rules.py collect --model runs/appn15900 --out runs/peak-tracks-15900.npz
    python benchmarks/peak_rules.py score runs/peak-tracks-15900.npz

``collect`` runs the model's video side only (encoders, MMA, onset head: no generator) on five sets and
keeps each clip's onset track (t,) with its true event times:

  falling-tune   falling-object renders as ``benchmarks/sync_check.py`` makes them (one impact source,
                 test-closed recordings, H.264 mp4 at 128 px / 25 fps, decoded as the pipeline decodes),
                 seeds 1-6, 10 clips each: the set rules are chosen on
  falling-check  the same, seeds 7-12: the set docs/sync-diagnosis.md reports (not used to choose)
  live-tune      200 new FoleyWorld scenes of the train split (render seed 4242, never trained on),
                 every kind of source: a rule must not lose what it does not target
  test-closed / test-open   the benchmark's 200 clips per split (data/store-small-*)

``score`` evaluates, per set, the mean video-event F1 (``event_time_error``, 0.1 s) and the clips below
0.8 for each rule: local maxima at or above the threshold (what the pipeline does) and, on top of it,
forward masking: a peak within ``wait`` seconds after a kept peak is dropped unless it reaches ``ratio``
times that peak's height (``mask_peaks``, here only: docs/sync-diagnosis.md part 21 found it does not help).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from openfoley.evaluation.metrics import event_time_error
from openfoley.pipeline.windows import onset_peaks


def mask_peaks(peaks: np.ndarray, onset: np.ndarray, wait: int, ratio: float) -> np.ndarray:
    """Forward masking of ``peaks`` int (e,) ascending frames of ``onset`` (t,) -> the kept ones, int64:
    taken in time order, a peak at most ``wait`` frames after a kept peak is dropped unless it reaches
    ``ratio`` times that peak's height. ``wait`` <= 0 keeps all."""
    if wait <= 0 or len(peaks) < 2:
        return np.asarray(peaks, np.int64)
    kept: list[int] = []
    for p in peaks:
        if any(0 < p - q <= wait and onset[p] < ratio * onset[q] for q in kept[-wait:]):
            continue
        kept.append(int(p))
    return np.asarray(kept, np.int64)


def video_event_f1(tracks, truth, threshold: float, fps: float, wait: int = 0, ratio: float = 1.0) -> np.ndarray:
    """tracks (c, t), truth c arrays of event times (s) -> per-clip F1 (c,) of the peaks at or above
    ``threshold`` (frame centres, ``(i + 0.5) / fps``; forward masking with ``wait`` frames and ``ratio``,
    ``mask_peaks``, off at ``wait`` 0) against the truth, 0.1 s tolerance."""
    return np.asarray([event_time_error((mask_peaks(onset_peaks(tr, threshold), tr, wait, ratio) + 0.5) / fps,
                                        np.asarray(tt, np.float64)).f1 for tr, tt in zip(tracks, truth, strict=True)])


def falling_sets(bank, cfg, tmp: Path, event_frames: bool = False):
    """The falling-object sets: yields (name, frames, truth) for ``falling-tune`` (seeds 1-6) and
    ``falling-check`` (seeds 7-12), 10 clips per seed as ``benchmarks/sync_check.py`` renders them, each
    clip's frames uint8 (t, 3, H, W) decoded from its mp4 as the pipeline reads a file, and its contacts (s).
    ``event_frames``: each clip's frames are a pair (frames, the event path's (k t, 3, H, W) or None), as
    ``sync_check.model_frames`` decodes them."""
    from sync_check import check_clip, kind_pool, model_frames  # benchmarks/ is on the path as a script

    from openfoley.config.tools import RenderConfig
    from openfoley.io import read_video

    pool = kind_pool(bank, "impact")
    rcfg = RenderConfig(seconds=cfg.seconds, size=128, sample_rate=cfg.audio.sample_rate)
    for name, seeds in (("falling-tune", range(1, 7)), ("falling-check", range(7, 13))):
        frames, truth = [], []
        for seed in seeds:
            for i in range(10):
                _, path, contacts = check_clip(bank, pool, rcfg, seed, i, tmp)
                if event_frames:
                    base, ev = model_frames(path, cfg)
                    frames.append((base[0], None if ev is None else ev[0]))
                else:
                    frames.append(read_video(path, cfg.video.fps, cfg.video.size, duration=cfg.seconds).frames)
                truth.append(contacts)
        yield name, frames, truth


def live_tune_set(bank_dir, cfg, clips: int, event_frames: bool = False):
    """``clips`` new train-split scenes of every kind (``LiveStore``, render seed 4242) -> (frames, truth);
    ``event_frames`` as ``falling_sets``'s."""
    from openfoley.data.foleyworld.live import LiveStore

    live = LiveStore(bank_dir, cfg, split="train", seed=4242, clips=clips, event_frames=event_frames)
    items = [live[i] for i in range(len(live))]
    frames = [(x["frames"], x.get("event_frames")) if event_frames else x["frames"] for x in items]
    return frames, [x["events"].astype(np.float64) for x in items]


def store_set(stores, split: str, cfg=None):
    """The benchmark's clips of ``split`` (``STORES/store-small-<split>``) -> (frames, truth); with a model's
    ``cfg``, frames are pairs as ``falling_sets(event_frames=True)``'s (the event path's decoded again from
    the clips' files: ``sync_check.store_event_frames``)."""
    from sync_check import store_event_frames

    from openfoley.features.store import FeatureStore

    store = FeatureStore(Path(stores) / f"store-small-{split}")
    truth = [np.asarray([e["time"] for e in r["extra"]["events"]], np.float64) for r in store.records]
    if cfg is None:
        return [store[i]["frames"] for i in range(len(store))], truth
    pairs = []
    for i in range(len(store)):
        ev = store_event_frames(store, [i], cfg)
        pairs.append((store[i]["frames"], None if ev is None else ev[0]))
    return pairs, truth


def _tracks(model, pairs) -> list[np.ndarray]:
    """(frames (t, 3, H, W), the event path's (k t, 3, H, W) or None) per clip -> its onset track (k t,)."""
    out = []
    for frames, ev in pairs:
        with torch.no_grad():
            vc = model.video_condition(torch.as_tensor(frames)[None],
                                       event_frames=None if ev is None else torch.as_tensor(ev)[None])
        out.append(vc.onset[0].float().numpy())
    return out


def collect(args) -> int:
    from openfoley.data.foleyworld.bank import load_bank
    from openfoley.pipeline.core import FoleyPipeline

    torch.set_num_threads(args.threads)
    pipe = FoleyPipeline.from_pretrained(args.model, device="cpu")
    model, cfg = pipe.model, pipe.cfg
    if not pipe.has_onset_head:
        print(f"error: {args.model} has no onset head", file=sys.stderr)
        return 2
    sets: dict[str, tuple[list, list]] = {}
    bank = load_bank(args.bank)
    with tempfile.TemporaryDirectory(prefix="openfoley-peak-rules-") as tmp:
        for name, frames, truth in falling_sets(bank, cfg, Path(tmp), event_frames=True):
            sets[name] = (_tracks(model, frames), truth)
            print(f"{name}: {len(truth)} clips", flush=True)
    frames, truth = live_tune_set(args.bank, cfg, args.live_clips, event_frames=True)
    sets["live-tune"] = (_tracks(model, frames), truth)
    print(f"live-tune: {len(truth)} clips", flush=True)
    for split in ("test-closed", "test-open"):
        frames, truth = store_set(args.stores, split, cfg)
        sets[split] = (_tracks(model, frames), truth)
        print(f"{split}: {len(truth)} clips", flush=True)
    save = {"fps": np.float64(cfg.video.fps * cfg.event_rate),  # the tracks' rate
            "threshold": np.float64(cfg.flow.onset_peak_threshold)}
    for name, (tracks, truth) in sets.items():
        save[f"{name}/tracks"] = np.stack(tracks)
        ragged = np.empty(len(truth), dtype=object)  # one array of event times per clip
        ragged[:] = truth
        save[f"{name}/truth"] = ragged
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    np.savez(args.out, **save)
    print(f"wrote {args.out}")
    return 0


def score(args) -> int:
    try:
        z = np.load(args.tracks, allow_pickle=True)
        if not hasattr(z, "files"):
            raise ValueError("one array, not an npz")
        fps = float(z["fps"])
    except (OSError, ValueError, KeyError) as e:  # missing, not an npz, or not collect's
        print(f"error: {args.tracks}: not a tracks file of peak_rules.py collect ({e})", file=sys.stderr)
        return 2
    names = [k[: -len("/tracks")] for k in z.files if k.endswith("/tracks")]
    thresholds = [float(z["threshold"])] if args.threshold is None else args.threshold
    rules = [(t, 0.0, 1.0) for t in thresholds]
    rules += [(t, w, r) for t, w, r in itertools.product(thresholds, args.wait, args.ratio)]
    print("rule".ljust(34) + "".join(f"{n:>22s}" for n in names))
    for thr, wait, ratio in rules:
        cells = []
        for n in names:
            f1 = video_event_f1(z[f"{n}/tracks"], z[f"{n}/truth"], thr, fps, round(wait * fps), ratio)
            cells.append(f"{f1.mean():.3f} ({int((f1 < 0.8).sum()):3d} <0.8)")
        label = f"thr {thr:.2f}" + ("" if wait == 0 else f" wait {wait:.2f}s ratio {ratio:.2f}")
        print(label.ljust(34) + "".join(f"{c:>22s}" for c in cells))
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("collect")
    c.add_argument("--model", default="builtin")
    c.add_argument("--bank", default="data/bank")
    c.add_argument("--stores", default="data")
    c.add_argument("--live-clips", type=int, default=200)
    c.add_argument("--threads", type=int, default=1)
    c.add_argument("--out", required=True)
    s = sub.add_parser("score")
    s.add_argument("tracks")
    s.add_argument("--threshold", type=float, nargs="*", default=None)
    s.add_argument("--wait", type=float, nargs="*", default=[0.16, 0.24, 0.32, 0.4])
    s.add_argument("--ratio", type=float, nargs="*", default=[0.5, 0.6, 0.7, 0.8, 0.9])
    args = ap.parse_args(argv)
    return collect(args) if args.cmd == "collect" else score(args)


if __name__ == "__main__":
    sys.exit(main())
