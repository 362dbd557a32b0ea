"""Would a second look at the video find the contacts the event path misses? (docs/sync-diagnosis.md part 31)

    python benchmarks/video_views.py --seeds 7-24 --log runs/video-views.jsonl

For the falling-object scenes of ``benchmarks/sync_check.py`` (the same renders: ``--clips`` per seed, an
H.264 mp4 as a user brings it), this scores the video's predicted events (the onset track's peaks at the
model's threshold, at the frame's centre, as ``FoleyResult.video_events``) against the known contacts,
for the model's own view and for test-time alternatives, without generating sound:

- ``base``: the frames the pipeline reads (``video.fps`` from the 25 fps file: the even frames);
- ``odd``: the other half of the 25 fps frames (each model frame half a frame later);
- ``flip``: the frames mirrored left to right;
- ``flip-mean``: the mean of the base and the mirrored track;
- ``odd-mean``: the base track averaged with the odd track put on the base frames (the mean of the
  two odd frames around each base frame);
- ``all-mean``: base, mirrored and odd (as in odd-mean) in equal parts.

``base`` reproduces ``sync_check.py``'s video-event F1 clip for clip. Prints the mean F1 and the clips
below 0.8 per view; one JSON line per clip goes to ``--log``. For a model whose event path reads frames of
its own (``alignment.event_fps``, k times the model's rate) every view reads those, and there are no odd
views (the path already reads every frame of a 25 fps file at k = 2): ``base``, ``flip`` and ``flip-mean``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

VIEWS = ("base", "odd", "flip", "flip-mean", "odd-mean", "all-mean")


def odd_on_base(odd: np.ndarray) -> np.ndarray:
    """The odd view's track (t,), frame i half a model frame after base frame i -> (t,) on the base frames:
    the mean of odd frames i - 1 and i (frame 0 repeated before the start)."""
    prev = np.concatenate([odd[:1], odd[:-1]])
    return 0.5 * (prev + odd)


def combine(base: np.ndarray, odd: np.ndarray | None, flip: np.ndarray) -> dict[str, tuple[np.ndarray, float]]:
    """Each view's track (t,) and its time offset in track frames (the odd view's frames are half a frame
    later); without ``odd``, the views that do not need it."""
    if odd is None:
        return {"base": (base, 0.0), "flip": (flip, 0.0), "flip-mean": ((base + flip) / 2, 0.0)}
    on_base = odd_on_base(odd)
    return {"base": (base, 0.0), "odd": (odd, 0.5), "flip": (flip, 0.0), "flip-mean": ((base + flip) / 2, 0.0),
            "odd-mean": ((base + on_base) / 2, 0.0), "all-mean": ((base + flip + on_base) / 3, 0.0)}


def parse_seeds(text: str) -> list[int]:
    """'7-12' or '7,9,11' or '7-9,20' -> the seeds, in order."""
    out: list[int] = []
    for part in text.split(","):
        a, _, b = part.partition("-")
        out += list(range(int(a), int(b) + 1)) if b else [int(a)]
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="builtin")
    ap.add_argument("--bank", default="data/bank")
    ap.add_argument("--seeds", default="7-12", help="render seeds: 7-12, or 7,9,11 (default: %(default)s)")
    ap.add_argument("--clips", type=int, default=10, help="clips per seed (default: %(default)s)")
    ap.add_argument("--log", default="runs/video-views.jsonl")
    args = ap.parse_args(argv)
    try:
        seeds = parse_seeds(args.seeds)
    except ValueError:
        print(f"error: --seeds must look like 7-12 or 7,9,11, got {args.seeds!r}", file=sys.stderr)
        return 2
    if not Path(args.bank).is_dir():
        print(f"error: sound bank {args.bank} is not a folder", file=sys.stderr)
        return 2

    import torch
    from sync_check import check_clip, kind_pool, load_onset_model, model_frames

    from openfoley.config.tools import RenderConfig
    from openfoley.data.foleyworld.bank import load_bank
    from openfoley.evaluation.metrics import event_time_error
    from openfoley.io import read_video
    from openfoley.pipeline.windows import onset_peaks

    pipe = load_onset_model(args.model, "it predicts no video events")
    if pipe is None:
        return 2
    model, cfg = pipe.model, pipe.model.cfg
    read = dict(size=cfg.video.size, duration=cfg.seconds, resize=cfg.video.resize)
    bank = load_bank(args.bank)
    pool = kind_pool(bank, "impact")
    rc = RenderConfig(seconds=cfg.seconds, size=128, sample_rate=bank.sample_rate)
    thr, k = cfg.flow.onset_peak_threshold, cfg.event_rate
    fps = cfg.video.fps * k  # the track's rate
    scores: dict[str, list[float]] = {v: [] for v in VIEWS}
    below: dict[str, list[tuple[int, int]]] = {v: [] for v in VIEWS}
    Path(args.log).parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="openfoley-views-") as tmp, open(args.log, "a") as log:
        for seed in seeds:
            for i in range(args.clips):
                clip, path, truth = check_clip(bank, pool, rc, seed, i, Path(tmp))
                base_f, ev = model_frames(path, cfg)  # (1, t, 3, h, w) and the path's own, as the pipeline reads them
                with torch.no_grad():
                    if ev is None:
                        odd_f = read_video(path, 2 * fps, **read).frames[None, 1::2]
                        tracks = [model.video_condition(f).onset[0].float().numpy()
                                  for f in (base_f, odd_f, base_f.flip(-1))]
                    else:  # the event path's own frames
                        tracks = [model.video_condition(f, event_frames=e).onset[0].float().numpy()
                                  for f, e in ((base_f, ev), (base_f.flip(-1), ev.flip(-1)))]
                        tracks.insert(1, None)
                row: dict = {"model": args.model, "seed": seed, "clip": i, "class": clip.truth["events"][0]["class"]}
                for view, (track, offset) in combine(*tracks).items():
                    events = (onset_peaks(track, thr) + 0.5 + offset) / fps
                    row[view] = f1 = float(event_time_error(events, truth).f1)
                    scores[view].append(f1)
                    if f1 < 0.8:
                        below[view].append((seed, i))
                log.write(json.dumps(row) + "\n")
    print(f"{len(scores['base'])} falling-object clips (seeds {args.seeds}), video-event F1 against the contacts:")
    for view in (v for v in VIEWS if scores[v]):
        print(f"  {view:<10} mean {np.mean(scores[view]):.3f}, below 0.8: {len(below[view])} "
              f"{' '.join(f'{s}/{c}' for s, c in below[view])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
