"""Video-event F1 on a benchmark split, per event kind: where a model's onset track finds the events.

    python benchmarks/video_events.py --models builtin runs/ev25-500 --split test-open --thresholds 0.28 0.32

For each clip of ``FOLEYWORLD/SPLIT`` (the benchmark's rendered H.264 mp4s, ``manifest.jsonl``) the video is
decoded as the pipeline reads a file (the model's frames; for an event path at its own rate,
``alignment.event_fps``, a second decode at that rate), and the model's predicted events are the onset
track's peaks at each threshold, at the frame's centre, as ``FoleyResult.video_events``. They are scored
against the render's true event times (``extra.events``) with the benchmark's event-time rule (0.1 s). No
sound is generated: this separates the video side of a model's timing from its generator's
(docs/sync-diagnosis.md parts 33-34).

Prints one table: for each model and threshold, the mean F1 (precision / recall) over all clips and the
mean F1 per event kind (the ``kind`` of a clip's first event: strike, call, walk, impact, flash, door, continuous, shatter),
with the clip count per kind in the header. All models and thresholds are scored on the same decoded
clips in one run. ``--log`` appends one JSON line per model, threshold and clip.

``--mix A B`` (two of ``--models``) adds a row ``A+B``: the mean of the two models' tracks, the coarser one
linearly interpolated to the finer one's frame centres, its peaks at each threshold on the finer grid (would
two event paths, at 12.5 and 25 fps, find more than either?).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np


def clip_kind(events: list[dict]) -> str:
    """The kind of a clip: its first event's ``kind`` ("none" without events)."""
    return str(events[0].get("kind", "none")) if events else "none"


def mix_tracks(a: np.ndarray, rate_a: float, b: np.ndarray, rate_b: float) -> tuple[np.ndarray, float]:
    """Two onset tracks (n_a,) at ``rate_a`` and (n_b,) at ``rate_b`` frames per second, values at frame centres
    -> their mean on the finer grid and its rate: the coarser track linearly interpolated to the finer one's
    centres (held flat beyond its first and last centre). The two cover one span, the finer a whole multiple
    of the coarser's frames: ``openfoley.alignment.event_path.mix_coarse``, the built-in model's own rule."""
    import torch

    from openfoley.alignment.event_path import mix_coarse  # alignment.event_pair's own rule

    (fine, fr), (coarse, cr) = sorted(((a, rate_a), (b, rate_b)), key=lambda x: -x[1])
    mixed = mix_coarse(torch.from_numpy(np.asarray(fine))[None], torch.from_numpy(np.asarray(coarse))[None])
    return mixed[0].numpy(), fr


def summarise(rows: list[dict]) -> dict[tuple[str, float], dict[str, tuple[float, float, float, int]]]:
    """rows {model, threshold, kind, f1, precision, recall} -> {(model, threshold): {kind or "all": (mean F1,
    mean precision, mean recall, clips)}}."""
    groups: dict[tuple[str, float], dict[str, list[tuple[float, float, float]]]] = defaultdict(lambda: defaultdict(list))
    for r in rows:
        cell = (r["f1"], r["precision"], r["recall"])
        groups[(r["model"], r["threshold"])][r["kind"]].append(cell)
        groups[(r["model"], r["threshold"])]["all"].append(cell)
    out = {}
    for key, kinds in groups.items():
        out[key] = {k: (*(float(x) for x in np.mean(np.asarray(v, np.float64), axis=0)), len(v)) for k, v in kinds.items()}
    return out


def table(summary: dict, kinds: list[str]) -> str:
    """A markdown table: a row per (model, threshold), all clips then each kind."""
    counts = next(iter(summary.values())) if summary else {}
    head = ["model", "threshold", f"all ({counts['all'][3] if 'all' in counts else 0}): F1 (P / R)"]
    head += [f"{k} ({counts[k][3] if k in counts else 0})" for k in kinds]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (model, thr), cells in summary.items():
        f1, p, r, _ = cells["all"]
        row = [model, f"{thr:.2f}", f"{f1:.3f} ({p:.3f} / {r:.3f})"] + [f"{cells[k][0]:.3f}" if k in cells else "-" for k in kinds]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["builtin"], help="model names or weights folders")
    ap.add_argument("--split", default="test-closed")
    ap.add_argument("--foleyworld", default="data/foleyworld", help="the renders' root (default: %(default)s)")
    ap.add_argument("--thresholds", nargs="+", type=float, default=None,
                    help="peak thresholds (default: each model's flow.onset_peak_threshold)")
    ap.add_argument("--limit", type=int, default=None, help="score only the first N clips")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--log", default=None, help="append one JSON line per model, threshold and clip")
    ap.add_argument("--mix", nargs=2, default=None, metavar=("A", "B"),
                    help="also score the mean of models A's and B's tracks (both in --models)")
    ap.add_argument("--falling", nargs=2, type=int, default=None, metavar=("FIRST", "LAST"),
                    help="instead of a split: the falling-object check's renders of seeds FIRST..LAST "
                         "(benchmarks/sync_check.py's, 10 clips per seed, from --bank)")
    ap.add_argument("--bank", default="data/bank", help="the sound bank of --falling (default: %(default)s)")
    args = ap.parse_args(argv)
    if args.mix is not None and (not set(args.mix) <= set(args.models) or args.mix[0] == args.mix[1]):
        print("error: --mix takes two different models of --models", file=sys.stderr)
        return 2
    if args.falling is not None:
        return _falling(args)
    manifest = Path(args.foleyworld) / args.split / "manifest.jsonl"
    return score(args, manifest)


def _falling(args) -> int:
    """--falling: the check's renders written as a split (a manifest of mp4s and their contacts) in a temporary
    folder, then scored as one."""
    import tempfile

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from sync_check import check_clip, kind_pool

    from openfoley.checkpoint import load_weights
    from openfoley.config.tools import RenderConfig
    from openfoley.data.foleyworld.bank import load_bank
    from openfoley.errors import OpenFoleyError
    from openfoley.pipeline.folders import resolve_model_dir

    first, last = args.falling
    if first > last:
        print("error: --falling FIRST LAST needs FIRST <= LAST", file=sys.stderr)
        return 2
    try:
        bank = load_bank(args.bank)
        cfg = load_weights(resolve_model_dir(args.models[0])).config  # sync_check renders at its model's length
    except OpenFoleyError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    pool = kind_pool(bank, "impact")
    rcfg = RenderConfig(seconds=cfg.seconds, size=128, sample_rate=cfg.audio.sample_rate)  # sync_check's render
    with tempfile.TemporaryDirectory(prefix="openfoley-video-events-") as tmp:
        split = Path(tmp) / f"falling-{first}-{last}"
        split.mkdir()
        with open(split / "manifest.jsonl", "w") as f:
            for seed in range(first, last + 1):
                for i in range(10):
                    _, path, contacts = check_clip(bank, pool, rcfg, seed, i, split)
                    events = [{"time": float(t), "kind": "impact"} for t in contacts]
                    f.write(json.dumps({"id": f"{seed}/{i}", "path": path.name, "extra": {"events": events}}) + "\n")
        args.split = split.name
        return score(args, split / "manifest.jsonl")


def score(args, manifest: Path) -> int:
    """The table of ``args.models`` (and ``--mix``) on the clips of ``manifest``."""
    if not manifest.is_file():
        print(f"error: {manifest} does not exist (docs/results.md says how to render the split)", file=sys.stderr)
        return 2
    if args.thresholds is not None and not all(0 < t < 1 for t in args.thresholds):
        print("error: --thresholds must lie between 0 and 1", file=sys.stderr)
        return 2
    if (args.limit is not None and args.limit < 1) or args.threads < 1:
        print("error: --limit and --threads must be at least 1", file=sys.stderr)
        return 2

    import torch
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from sync_check import load_onset_model, model_frames

    from openfoley.errors import OpenFoleyError
    from openfoley.evaluation.metrics import event_time_error
    from openfoley.pipeline.windows import onset_peaks

    torch.set_num_threads(args.threads)
    models = {}
    for name in args.models:
        pipe = load_onset_model(name, "it predicts no video events")
        if pipe is None:
            return 2
        models[name] = pipe.model
    try:
        clips = [json.loads(line) for line in manifest.read_text().splitlines() if line.strip()]
    except json.JSONDecodeError as e:
        print(f"error: {manifest}: not JSON lines ({e.msg}, line {e.lineno})", file=sys.stderr)
        return 2
    clips = clips[: args.limit] if args.limit else clips

    rows: list[dict] = []
    kinds: list[str] = []
    for rec in clips:
        events = (rec.get("extra") or {}).get("events")
        if events is None:
            print(f"error: {manifest}: clip {rec.get('id')} has no extra.events (not a FoleyWorld render)",
                  file=sys.stderr)
            return 2
        truth = np.asarray([e["time"] for e in events], np.float64)
        kind = clip_kind(events)
        if kind not in kinds:
            kinds.append(kind)
        path = manifest.parent / rec["path"]
        decoded: dict[tuple, tuple] = {}  # models of one frame layout share a decode
        tracks: dict[str, tuple[np.ndarray, float]] = {}  # model -> (its track, the track's rate)
        for name, model in models.items():
            cfg = model.cfg
            k = cfg.event_rate
            key = (cfg.video.fps, k, cfg.video.size, cfg.seconds, cfg.video.resize)
            try:
                if key not in decoded:
                    decoded[key] = model_frames(path, cfg)  # (1, t, 3, h, w), the event path's (1, k t, ...) or None
            except OpenFoleyError as e:
                print(f"error: {e}", file=sys.stderr)
                return 2
            base, ev = decoded[key]
            with torch.no_grad():
                track = model.video_condition(base, event_frames=ev).onset[0].float().numpy()  # (k t,)
            tracks[name] = (track, cfg.video.fps * k)
        scored = [(name, *tracks[name], models[name].cfg.flow.onset_peak_threshold) for name in models]
        if args.mix is not None:
            a, b = args.mix
            scored.append((f"{a}+{b}", *mix_tracks(*tracks[a], *tracks[b]), models[a].cfg.flow.onset_peak_threshold))
        for name, track, rate, own in scored:
            for thr in args.thresholds or [own]:
                e = event_time_error((onset_peaks(track, thr) + 0.5) / rate, truth)
                rows.append({"model": name, "threshold": float(thr), "clip": rec.get("id"), "kind": kind,
                             "events": len(truth), "f1": float(e.f1), "precision": float(e.precision), "recall": float(e.recall)})
    if args.log:
        Path(args.log).parent.mkdir(parents=True, exist_ok=True)
        with open(args.log, "a") as f:
            for r in rows:
                f.write(json.dumps({"split": args.split, **r}) + "\n")
    print(f"{len(clips)} clips of {args.split}: video-event F1 against the true events (0.1 s)")
    print(table(summarise(rows), kinds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
